"""Screenshots of the Hub download flow: docs/screenshots/download-*.png.

    xvfb-run -a python scripts/screenshot_download.py

A stand-in hub on 127.0.0.1 (tests/hub/fake_hub.py) serves the tiny fixture model as ``tiny/jukebox``
(throttled, so the progress line shows speed and ETA); everything happens in a temporary
JUKESTUDIO_HOME. Shots: the catalogue, the license dialog, a download in progress, the model
manager afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    home = tempfile.mkdtemp(prefix="jukestudio-shots-")
    os.environ["JUKESTUDIO_HOME"] = home
    os.environ["HF_HOME"] = str(Path(home) / "hf")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from jukestudio.gui.studio import Studio
    from jukestudio.gui.widgets.model_manager import ModelManagerDialog
    from tests.hub.fake_hub import FakeHub, build_tiny_repo

    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])

    def wait(predicate, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.01)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    repo = build_tiny_repo(ROOT / "tests" / "fixtures" / "orig_tiny" / "tiny" / "hf_model", Path(home) / "repo")
    with FakeHub({"tiny/jukebox": repo}, throttle=250_000) as hub:
        manager = ModelManagerDialog(Studio())
        manager.show()
        download = manager.open_download()
        download.endpoint = hub.url
        download.table.selectRow(0)
        download.dtype_combo.setCurrentIndex(download.dtype_combo.findData("fp16"))
        settle()
        download.grab().save(str(out / "download-catalogue.png"))

        from jukestudio.gui.widgets.model_download import LicenseDialog
        from jukestudio.hub import catalogue

        shown = LicenseDialog("openai/jukebox-1b-lyrics", catalogue.LICENSE_NAME, catalogue.license_text(), download)
        shown.show()  # what the flow shows for the real repo (the stand-in serves a tiny one)
        settle()
        shown.grab().save(str(out / "download-license.png"))
        shown.close()
        download.start_download("tiny/jukebox")
        wait(lambda: download.license_dialog is not None and download.license_dialog.isVisible())
        download.license_dialog.accept_button.click()
        wait(lambda: download.progress.value() > 350 and "left" in download.status.text())
        settle(0.1)
        download.grab().save(str(out / "download-progress.png"))
        hub.state.throttle = None
        wait(lambda: download.delete_question is not None and download.delete_question.isVisible())
        settle()
        download.delete_question.grab().save(str(out / "download-delete-question.png"))
        download.delete_question.button(download.delete_question.StandardButton.Yes).click()
        settle()
        manager.refresh()
        settle()
        manager.grab().save(str(out / "download-model-manager.png"))
        download.runner.shutdown()
        manager.runner.shutdown()
    print(f"saved {', '.join(p.name for p in sorted(out.glob('download-*.png')))} in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
