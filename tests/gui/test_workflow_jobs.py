"""Real jobs through the window (demo model, CPU): a dropped WAV becomes the prompt and is composed
from; a running job is cancelled and keeps its finished windows; a failing job shows its message."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from jukestudio.engine.state import JobState
from jukestudio.gui.main_window import MainWindow
from jukestudio.gui.settings import app_settings
from jukestudio.gui.studio import Studio

SR = 44100
JOB_TIMEOUT_MS = 120_000


@pytest.fixture
def window(qtbot, audition, tmp_path):
    Studio().ensure_demo_model()
    app_settings().setValue("model/current", "demo")  # the window picks the bundled model otherwise
    w = MainWindow(Studio(), audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.vocabulary_ready, timeout=30_000):
        w.show()
    assert w.new_project(tmp_path / "song")
    w.song.lyrics.set_text("la la la")
    w.song.total_seconds.setValue(60)
    w.song.take_seconds.setValue(0.1)
    w.song.n_takes.setValue(1)
    yield w
    w.close()


def _drop(window: MainWindow, path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPointF(40, 40), *args)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(QPointF(40, 40), *args)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted() and drop.isAccepted()


def test_drop_a_wav_and_compose_from_it(qtbot, window, tmp_path):
    wav = tmp_path / "hum.wav"
    t = np.arange(int(0.6 * 48000)) / 48000
    sf.write(wav, np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, axis=1), 48000)  # stereo 48 kHz
    with qtbot.waitSignal(window.prompt_loaded, timeout=10_000):
        assert _drop(window, wav)
    assert window.waveform.duration == pytest.approx(0.6, abs=1e-3)
    assert "hum.wav" in window.song.prompt_label.text()
    window.waveform.set_region(0.0, 0.5)  # trim the prompt by dragging a region
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        job_id = window.compose()
    assert ended.args == [job_id, "done"], window.last_message
    project = window.studio.project
    prompt = next(t for t in project.takes.values() if t.origin == "prompt")
    child = next(t for t in project.takes.values() if t.parent_id == prompt.id)
    assert prompt.name == "Prompt: hum.wav"
    assert prompt.duration_s == pytest.approx(0.5, abs=128 / SR)  # the trimmed part, whole top-level tokens
    assert child.duration_s == pytest.approx(prompt.duration_s + 0.1, abs=128 / SR)
    prompt_codes, child_codes = project.read_codes(prompt.id)[0], project.read_codes(child.id)[0]
    assert np.array_equal(child_codes[: len(prompt_codes)].numpy(), prompt_codes.numpy())  # the prompt is kept
    assert window.takes.take(child.id).parent_id == prompt.id


def test_cancel_a_running_job_keeps_its_finished_windows(qtbot, window):
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.compose()
    take_id = window.takes.take_ids()[0]
    levels_seen: list[int] = []
    window.runner.worker.progressed.connect(lambda _j, p: levels_seen.append(p.level))
    job_id = window.upsample([take_id])
    # level 1 (one window) finishes before level 0 starts: cancel in the middle of level 0
    qtbot.waitUntil(lambda: 2 in levels_seen, timeout=JOB_TIMEOUT_MS)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.jobs.cancel_button.click()
    assert ended.args == [job_id, "cancelled"]
    row = window.jobs_model.job(job_id)
    assert row.status == "cancelled" and "kept" in row.message
    state = JobState.load(window.studio.project.jobs_dir / window.studio.engine_job_ids[job_id])
    assert state.status == "cancelled"
    top_tokens = window.studio.project.read_codes(take_id)[0].shape[0]
    assert state.codes[1].shape[1] == top_tokens * 4  # level 1 finished and kept
    assert window.takes.badge(take_id) == "Preview"  # the take is untouched until the job finishes
    assert row.resumable and "token" not in window.last_message
    window.jobs.table.selectRow(window.jobs_model.row_of(job_id))
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.jobs.resume_button.click()  # goes on from the kept windows
    assert ended.args == [job_id, "done"], window.last_message
    assert window.takes.badge(take_id) == "Full quality"


def test_lengths_outside_the_model_are_refused_before_queueing(qtbot, window):
    window.song.total_seconds.setValue(10)  # below the demo top prior's minimum song length (17.84 s)
    assert window.song.total_seconds.value() == pytest.approx(17.9)  # constrained by the model
    assert "17.9–599.9 s" in window.song.length_notice.text()
    window.song.take_seconds.setValue(30)
    assert window.song.take_seconds.value() == pytest.approx(17.9)  # a take is at most the song
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.song.take_seconds.setValue(0.1)
        window.compose()
    take_id = window.takes.take_ids()[0]
    window.song.take_seconds.setValue(17.9)  # the take (0.1 s) plus 17.9 s ends after the song
    assert window.continue_takes([take_id]) is None
    assert "after the song" in window.last_message and len(window.jobs_model.jobs()) == 1


def test_unfinished_jobs_are_offered_and_resumed_on_open(qtbot, window, tmp_path):
    from types import SimpleNamespace

    from jukestudio.engine import jobs
    from jukestudio.project import Project

    folder = tmp_path / "crashed"
    project = Project.create(folder, window.studio.project.settings)
    config = window.studio.model_config("demo")
    # queued, never run
    state = jobs.create_compose(project, SimpleNamespace(config=config), n_takes=1, seconds=0.1, seed=7)
    project.close()
    assert window.open_project(folder)
    assert "1 unfinished job" in window.last_message
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.act_resume.trigger()
    assert ended.args == [state.job_id, "done"], window.last_message
    assert window.takes.take_ids() == state.info["take_ids"]
    assert window.studio.unfinished_jobs() == []


def test_upsample_a_region_and_hear_it_in_place(qtbot, window):
    window.song.take_seconds.setValue(0.3)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.compose()
    take_id = window.takes.take_ids()[0]
    coarse = window.studio.take_audio(take_id)
    window.takes.select(take_id)
    window.waveform.set_region(0.1, 0.2)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.act_upsample_region.trigger()
    assert ended.args[1] == "done", window.last_message
    take = window.studio.project.take(take_id)
    assert take.level_status(0) == "done" and take.level_status(2) == "partial"
    level, first, codes = window.studio.upsampled_region(take_id)
    assert level == 2 and first == int(0.1 * SR) // 128 * 128  # rounded out to whole top-level tokens
    mixed = window.studio.take_audio(take_id)
    assert len(mixed) == len(coarse)
    end = first + codes.numel() * 8
    assert np.array_equal(mixed[:first], coarse[:first]) and np.array_equal(mixed[end:], coarse[end:])
    assert not np.allclose(mixed[first:end], coarse[first:end])  # the region is heard at level 0
    spans = window.studio.level_spans(take_id)
    assert spans[2] == [(pytest.approx(first / SR), pytest.approx(end / SR))]  # where it is, not from 0
    assert spans[0] == [(0.0, pytest.approx(take.duration_s, abs=128 / SR))]
    assert spans[1][0][0] == pytest.approx(first / SR)  # the middle level of the region is there too
    assert window.takes.badge(take_id) == "partial: Full 0.1–0.2 s"
    assert window.waveform.level_progress() == {}  # the live marker went with the job


def test_continue_from_the_playhead_branches_off_there(qtbot, window):
    window.song.take_seconds.setValue(0.3)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.compose()
    take_id = window.takes.take_ids()[0]
    qtbot.waitUntil(lambda: window.audition.take_id == take_id, timeout=10_000)
    window.seek(0.15)
    window.song.take_seconds.setValue(0.1)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.act_continue_here.trigger()
    assert ended.args[1] == "done", window.last_message
    project = window.studio.project
    cut = next(t for t in project.takes.values() if t.extra.get("cut_of") == take_id)
    branch = next(t for t in project.takes.values() if t.parent_id == cut.id)
    n_top = int(0.15 * SR) // 128
    assert cut.parent_id == take_id and cut.duration_s == pytest.approx(n_top * 128 / SR)
    assert branch.duration_s == pytest.approx(cut.duration_s + 0.1, abs=128 / SR)
    original, continued = project.read_codes(take_id)[0], project.read_codes(branch.id)[0]
    assert np.array_equal(continued[:n_top].numpy(), original[:n_top].numpy())
    assert window.takes.take(branch.id).parent_id == cut.id


def test_closing_the_window_during_a_job_offers_it_again(qtbot, window, audition):
    window.song.take_seconds.setValue(0.1)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.compose()
    take_id = window.takes.take_ids()[0]
    levels: list[int] = []
    window.runner.worker.progressed.connect(lambda _j, p: levels.append(p.level))
    job_id = window.upsample([take_id])
    qtbot.waitUntil(lambda: 2 in levels, timeout=JOB_TIMEOUT_MS)
    folder = window.studio.project_dir
    window.close()
    engine_id = window.studio.engine_job_ids[job_id]
    again = MainWindow(Studio(), audition)
    qtbot.addWidget(again)
    again.show()
    assert again.open_project(folder)
    assert [j.id for j in again.studio.unfinished_jobs()] == [engine_id]
    assert "1 unfinished job" in again.last_message
    with qtbot.waitSignal(again.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        again.resume_unfinished()
    assert ended.args == [engine_id, "done"], again.last_message
    assert again.takes.badge(take_id) == "Full quality"
    again.close()


def test_advanced_filters_reach_the_job_and_a_random_seed_stays_random(qtbot, window):
    from jukestudio.engine.state import read_jobs

    window.song.advanced_toggle.click()
    assert window.song.advanced.isVisibleTo(window.song)
    window.song.top_k.setValue(5)
    window.song.top_p.setValue(0.9)
    assert window.song.seed_random.isChecked()
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.compose()
    assert ended.args[1] == "done", window.last_message
    project = window.studio.project
    (job,) = read_jobs(project.folder)[0]
    assert job.info["settings"]["top_k"] == 5 and job.info["settings"]["top_p"] == 0.9
    assert project.settings.top_k == 5 and project.settings.top_p == 0.9
    assert project.settings.seed is None  # composing with a random seed leaves "random" in the project
    (take,) = project.takes.values()
    assert take.seed == job.info["settings"]["seed"] == window.song.seed.value()  # the seed used is shown
    assert take.settings.top_k == 5


def test_opening_a_project_with_codes_but_no_previews_decodes_them(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.compose()
    folder = window.studio.project.folder
    (take_id,) = window.studio.project.takes
    window.save_project()
    for preview in (folder / "takes" / take_id).glob("preview_prior*.wav"):
        preview.unlink()  # as copied from a render box that kept only the codes
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        assert window.open_project(folder)
    assert ended.args[1] == "done" and window.jobs_model.job(ended.args[0]).kind == "preview"
    assert window.studio.project.preview_levels(take_id) == [0]
    assert window.studio.takes_missing_preview() == []


def test_a_composing_take_grows_from_its_saved_windows(qtbot, window):
    window.song.take_seconds.setValue(0.3)
    window.song.n_takes.setValue(2)
    progressed = []
    window.runner.worker.progressed.connect(lambda _j, p: progressed.append(p))
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        job_id = window.compose()
        assert len(window.takes.take_ids()) == 2  # placeholders at once
    assert ended.args == [job_id, "done"], window.last_message
    studio = window.studio
    first, whole = studio.grown_audio(job_id, 0)  # what the saved windows decode to
    assert first == 0 and len(whole) == 2
    take_ids = window.takes.take_ids()
    for row, take_id in zip(whole, take_ids, strict=True):
        assert np.allclose(row, studio.take_audio(take_id), atol=1e-5)  # the same audio the take has
    start, tail = studio.grown_audio(job_id, 10_000)  # only the new part: from a token boundary on
    assert start == 10_000 // 128 * 128 and len(tail[0]) == len(whole[0]) - start
    assert np.abs(tail[0] - whole[0][start:]).max() < 0.05  # decoded with context: no seam


def test_a_disk_full_at_the_finish_says_so_and_the_job_resumes_from_its_row(qtbot, window, monkeypatch):
    """Every window sampled, then writing the takes meets a full disk: the status line says what and how
    (the final file's name, not the temp file's), the failed row offers Resume, and Resume finishes it."""
    import errno

    from jukestudio.engine import runner

    real = runner.finish_job

    def disk_full(state, *args, **kwargs):
        temp = state.folder.parent.parent / "takes" / "t1" / ".take.json.ab12cd34.tmp"
        raise OSError(errno.ENOSPC, "No space left on device", str(temp))

    monkeypatch.setattr(runner, "finish_job", disk_full)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        job_id = window.compose()
    assert ended.args == [job_id, "failed"]
    message = window.last_message
    assert "The disk is full: cannot write" in message and "take.json" in message, message
    assert ".tmp" not in message and "resume the job from the Jobs panel" in message, message
    row = window.jobs_model.job(job_id)
    assert row.status == "failed" and row.can_resume
    assert window.jobs_model.data(window.jobs_model.index(window.jobs_model.row_of(job_id), 1)) == "failed (resumable)"
    window.jobs.table.selectRow(window.jobs_model.row_of(job_id))
    assert window.jobs.resume_button.isEnabled()
    assert window.studio.unfinished_jobs() == []  # not offered on open: only from its row
    monkeypatch.setattr(runner, "finish_job", real)  # space freed
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS) as ended:
        window.jobs.resume_button.click()
    assert ended.args == [job_id, "done"], window.last_message
    assert window.takes.take_ids() and window.jobs_model.job(job_id).status == "done"


def test_a_resumed_region_upsample_keeps_its_region_for_the_live_marker(qtbot, window):
    """The live level marker of a resumed region job spans its region, not the whole take."""
    from jukestudio.engine import jobs

    window.song.take_seconds.setValue(0.3)
    with qtbot.waitSignal(window.job_ended, timeout=JOB_TIMEOUT_MS):
        window.compose()
    take_id = window.takes.take_ids()[0]
    project = window.studio.project
    model = window.studio.models.get(project.settings.model)
    state = jobs.create_upsample(project, model, [take_id], region_s=(0.1, 0.2), seed=3)  # queued, as after a crash
    spec = window.studio.resume_job(state.job_id)
    assert spec is not None and spec.take_ids == (take_id,)
    assert spec.region == pytest.approx(tuple(state.info["source"]["region_s"]))
    assert spec.region[0] == pytest.approx(int(0.1 * SR) // 128 * 128 / SR)  # the job's own, token-rounded
