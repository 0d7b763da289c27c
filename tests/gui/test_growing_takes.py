"""Watch a take grow while it samples: placeholder rows at once, the waveform filled window by window
from a background decode, the real take selected when the job is done."""

from __future__ import annotations

import numpy as np
import pytest

from jukestudio.gui.growing import is_placeholder
from tests.gui.fake_studio import fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "proj")


def test_takes_being_composed_appear_at_once_and_grow_window_by_window(qtbot, window):
    studio = window.studio
    studio.block = True
    window.song.n_takes.setValue(2)
    window.song.take_seconds.setValue(2.0)
    job_id = window.compose()
    ids = window.takes.take_ids()
    assert len(ids) == 2 and all(is_placeholder(t) for t in ids)  # before the job even started
    assert window.takes.badge(ids[0]) == "composing"
    assert window.audition.take_id == ids[0]  # the first one is on show, waiting for audio
    assert window.waveform.duration == pytest.approx(2.0) and window.waveform.available == 0.0

    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).fraction > 0, timeout=5000)  # the fake waits at step 1
    grown = []
    for windows in (1, 2, 3):
        studio.windows_done[job_id] = windows
        window.growing.progressed(job_id, _progress(job_id, windows))  # as the job reports it
        qtbot.waitUntil(lambda w=windows: window.waveform.available >= 2.0 * w / 5 - 1e-6, timeout=15_000)
        grown.append(window.waveform.available)
        x, _ = window.waveform.curve_data()
        assert x.max() <= window.waveform.available + 1e-6  # only what was decoded is drawn
    assert grown == pytest.approx([0.4, 0.8, 1.2])
    starts = [start for j, start in studio.grow_calls if j == job_id]
    assert starts == sorted(starts) and starts[-1] > 0  # only the new part is decoded each time
    assert np.array_equal(window.growing.audio(ids[0]), studio.rows[job_id][0][: int(1.2 * 44100)])

    with qtbot.waitSignal(window.job_ended, timeout=5000):
        studio.gate.set()
    final = window.takes.take_ids()
    assert len(final) == 2 and not any(is_placeholder(t) for t in final)
    qtbot.waitUntil(lambda: window.audition.take_id == final[0], timeout=5000)  # replaced its placeholder


def test_a_cancelled_compose_removes_its_placeholders(qtbot, window):
    window.studio.block = True
    job_id = window.compose()
    assert any(is_placeholder(t) for t in window.takes.take_ids())
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.cancel_job(job_id)
    assert not any(is_placeholder(t) for t in window.takes.take_ids())
    assert window.audition.take_id is None


def _progress(job_id: str, windows: int):
    from jukestudio.engine.progress import Progress

    return Progress(job_id, 0, windows, 5, windows, 5, 50.0, 1.0, windows / 5)


def test_only_the_take_on_show_is_decoded_and_another_catches_up_when_shown(qtbot, window):
    studio = window.studio
    studio.block = True
    window.song.n_takes.setValue(2)
    window.song.take_seconds.setValue(2.0)
    job_id = window.compose()
    first, second = window.takes.take_ids()
    qtbot.waitUntil(lambda: window.jobs_model.job(job_id).fraction > 0, timeout=5000)  # the fake waits at step 1
    studio.windows_done[job_id] = 2
    window.growing.progressed(job_id, _progress(job_id, 2))
    qtbot.waitUntil(lambda: len(window.growing.audio(first)) > 0, timeout=15_000)
    assert len(window.growing.audio(second)) == 0  # not on show: not decoded
    window.takes.select(second)
    qtbot.waitUntil(lambda: len(window.growing.audio(second)) == int(0.8 * 44100), timeout=15_000)
    assert window.audition.take_id == second
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        studio.gate.set()
