"""Export (issue 11, item 13): the whole folder shown, where the file went said, "Show in folder",
and a warning (not a refusal) when the take is only at preview quality."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QDesktopServices

from tests.gui.fake_studio import fake_window


@pytest.fixture
def window(qtbot, audition, tmp_path):
    yield from fake_window(qtbot, audition, tmp_path / "a rather long project folder name" / "proj")


def test_export_shows_the_folder_warns_about_preview_and_offers_show_in_folder(qtbot, window, monkeypatch):
    window.song.n_takes.setValue(1)
    with qtbot.waitSignal(window.take_loaded, timeout=5000):
        window.compose()
    take_id = window.takes.take_ids()[0]
    seen = {}

    def answer(dialog) -> bool:
        seen["folder"] = dialog.folder.text()
        seen["warning"] = dialog.warning.text() if dialog.warning.isVisibleTo(dialog) else ""
        return True

    monkeypatch.setattr(window, "run_dialog", answer)
    with qtbot.waitSignal(window.message_shown, timeout=5000, check_params_cb=lambda t, _k: t.startswith("Exported")):
        window._ask_export(take_id)
    folder = window.studio.project_dir / "exports"
    assert seen["folder"] == str(folder)  # the whole folder, not its tail
    assert "Preview quality" in seen["warning"] and "export it anyway" in seen["warning"]
    assert str(folder) in window.last_message  # where the file went
    assert any(p.suffix == ".wav" for p in folder.iterdir())  # warned, not blocked
    assert window.show_folder_button.isVisible()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.show_folder_button.click()
    assert opened == [str(folder)]


def test_a_full_quality_take_exports_without_a_warning(qtbot, window):
    from jukestudio.gui.records import TakeItem

    window.takes.set_takes([TakeItem("t", "Take", None, "full", 1.0)])
    assert window.export_warning("t") == ""
    window.takes.set_takes([TakeItem("t", "Take", None, "coarse", 1.0)])
    assert "Preview quality" in window.export_warning("t")
