"""The model manager's Hub download: license dialog, progress, cancel and resume, delete-the-download
question — against the stand-in hub on 127.0.0.1 serving a tiny Jukebox repo."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from jukestudio.gui.studio import Studio
from jukestudio.gui.widgets.model_download import DownloadDialog
from jukestudio.gui.widgets.model_manager import ModelManagerDialog
from jukestudio.hub import install
from jukestudio.model.weights.store import list_models
from tests.conftest import ORIG_TINY
from tests.hub.fake_hub import FakeHub, build_tiny_repo

REPO_ID = "tiny/jukebox"
SHARD_1 = "pytorch_model-00001-of-00002.bin"


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory):
    return build_tiny_repo(ORIG_TINY / "tiny" / "hf_model", tmp_path_factory.mktemp("repo") / "jukebox")


@pytest.fixture
def hub(tiny_repo, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with FakeHub({REPO_ID: tiny_repo}) as server:
        yield server


@pytest.fixture
def manager(qtbot, hub):
    dialog = ModelManagerDialog(Studio())
    qtbot.addWidget(dialog)
    download = dialog.open_download()
    download.endpoint = hub.url
    yield dialog, download
    download.runner.shutdown()
    dialog.runner.shutdown()


def _accept_license(qtbot, download: DownloadDialog) -> None:
    qtbot.waitUntil(lambda: download.license_dialog is not None and download.license_dialog.isVisible(), timeout=30_000)
    assert "Accept" in download.license_dialog.accept_button.text()
    download.license_dialog.accept_button.click()


def test_download_with_license_progress_and_cache_deletion(qtbot, manager, hub) -> None:
    dialog, download = manager
    assert download.table.rowCount() == 2 and "openai/jukebox-1b-lyrics" in download.table.item(0, 0).text()
    download.table.selectRow(0)
    assert download.repo_edit.text() == "openai/jukebox-1b-lyrics"
    fractions: list[float] = []
    download.runner.worker.progressed.connect(lambda _id, p: fractions.append(p.fraction))
    download.dtype_combo.setCurrentIndex(download.dtype_combo.findData("fp16"))
    with qtbot.waitSignal(dialog.models_changed, timeout=60_000):
        download.start_download(REPO_ID)
        _accept_license(qtbot, download)
    assert fractions and max(fractions) == 1.0
    assert [(m.name, m.store_dtype) for m in list_models()] == [("jukebox", "fp16")]
    assert "fp16 store" in dialog.table.item(0, 1).text()
    box = download.delete_question
    assert box is not None and box.isVisible()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Yes)  # default: delete
    with qtbot.waitSignal(download.download_ended, timeout=10_000) as ended:
        box.button(QMessageBox.StandardButton.Yes).click()
    assert ended.args == ["done"] and not download.plan.folder.exists()
    assert "Deleted the download" in download.status.text()


def test_declining_the_license_fetches_nothing(qtbot, manager, hub) -> None:
    _dialog, download = manager
    download.start_download(REPO_ID)
    qtbot.waitUntil(lambda: download.license_dialog is not None and download.license_dialog.isVisible(), timeout=30_000)
    with qtbot.waitSignal(download.download_ended, timeout=5000) as ended:
        download.license_dialog.reject()
    assert ended.args == ["declined"] and "not accepted" in download.status.text()
    assert not any("/resolve/" in e.path for e in hub.state.log)


def test_cancel_then_resume_continues_from_the_kept_bytes(qtbot, manager, hub, tiny_repo) -> None:
    _dialog, download = manager
    hub.state.throttle = 400_000
    download.start_download(REPO_ID)
    _accept_license(qtbot, download)
    qtbot.waitUntil(lambda: any(e.sent > 600_000 for e in hub.state.sent_for(SHARD_1)), timeout=60_000)
    assert download.cancel_button.isEnabled()
    with qtbot.waitSignal(download.download_ended, timeout=30_000) as ended:
        download.cancel_button.click()
    assert ended.args == ["cancelled"] and "resume" in download.status.text()
    kept = (download.plan.folder / f"{SHARD_1}.part").stat().st_size
    assert 0 < kept < (tiny_repo / SHARD_1).stat().st_size and install.unfinished()

    reopened = ModelManagerDialog(Studio())  # an app started again says what is waiting
    qtbot.addWidget(reopened)
    assert "Unfinished download: tiny/jukebox" in reopened.status.text()
    reopened.runner.shutdown()

    hub.state.throttle = None
    with qtbot.waitSignal(download.model_downloaded, timeout=60_000):
        download.download_button.click()  # the license is remembered: no second dialog
    last = hub.state.sent_for(SHARD_1)[-1]
    assert last.status == 206 and last.range_start == kept
    download.delete_question.button(QMessageBox.StandardButton.No).click()
    assert download.plan.folder.exists() and "Kept the download" in download.status.text()


def test_errors_show_in_one_line(qtbot, manager, hub) -> None:
    _dialog, download = manager
    with qtbot.waitSignal(download.download_ended, timeout=30_000) as ended:
        download.start_download("nobody/nothing")
    assert ended.args == ["failed"]
    assert "was not found" in download.status.text() and "\n" not in download.status.text()


def test_a_download_is_a_job_in_the_windows_jobs_panel(qtbot, hub, audition) -> None:
    from jukestudio.gui.main_window import MainWindow

    window = MainWindow(Studio(), audition)
    qtbot.addWidget(window)
    manager = window.show_model_manager()
    download = manager.open_download()
    download.endpoint = hub.url
    hub.state.throttle = 400_000
    download.start_download(REPO_ID)
    _accept_license(qtbot, download)
    qtbot.waitUntil(lambda: any(j.kind == "download" for j in window.jobs_model.jobs()), timeout=30_000)
    (row,) = [j for j in window.jobs_model.jobs() if j.kind == "download"]
    assert REPO_ID in row.label and row.status == "running"
    qtbot.waitUntil(lambda: row.done_units > 0 and row.speed_text() != "", timeout=60_000)
    assert " of " in row.progress_text() and "%" in row.progress_text()  # bytes and percent
    assert row.speed_text().endswith("/s") and row.eta_s is not None
    assert window.jobs.row_visible(row.job_id)
    with qtbot.waitSignal(download.download_ended, timeout=30_000) as ended:
        window.cancel_job(row.job_id)  # the jobs panel's Cancel reaches the transfer
    assert ended.args == ["cancelled"] and row.status == "cancelled"
    download.runner.shutdown()
    manager.runner.shutdown()
