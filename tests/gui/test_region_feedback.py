"""Region upsampling feedback (issue 11, item 4): live markers over the region, shaded spans where
each level is finished, nothing left after a cancel, and a "partial" badge that says where."""

from __future__ import annotations

import pytest

from tests.gui.fake_studio import fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "proj")


def test_region_upsample_shows_where_it_works_and_where_it_finished(qtbot, window):
    window.song.n_takes.setValue(1)
    window.song.take_seconds.setValue(4.0)
    with qtbot.waitSignal(window.take_loaded, timeout=5000):
        window.compose()
    take_id = window.takes.take_ids()[0]
    assert window.waveform.level_spans() == {0: [(0.0, 4.0)]}
    window.waveform.set_region(1.0, 2.0)

    window.studio.block = True
    job_id = window.upsample([take_id], region=(1.0, 2.0))
    qtbot.waitUntil(lambda: 0 in window.waveform.level_progress(), timeout=5000)
    assert 1.0 <= window.waveform.level_progress()[0] <= 2.0  # scaled to the region, not the take
    with qtbot.waitSignal(window.job_ended, timeout=5000):
        window.cancel_job(job_id)
    assert window.waveform.level_progress() == {}  # no marker left behind
    assert window.takes.badge(take_id) == "Preview"

    window.studio.block = False
    with qtbot.waitSignal(window.job_ended, timeout=5000) as ended:
        window.upsample([take_id], region=(1.0, 2.0))
    assert ended.args[1] == "done"
    window.select_take(take_id)
    spans = window.waveform.level_spans()
    assert spans[2] == [(1.0, 2.0)] and spans[0] == [(0.0, 4.0)]  # the region, where it is
    badge = window.takes.badge(take_id)
    assert badge == "partial: Full 1.0–2.0 s"
