"""Render the workstation window with real takes and save it as docs/screenshot.png.

    QT_QPA_PLATFORM=offscreen python scripts/screenshot.py [--out docs/screenshot.png]

Everything happens in a temporary JUKESTUDIO_HOME: the demo model (random weights, so the takes
are noise) composes three takes, one of them is continued and upsampled, and the window is grabbed
with a take selected, a region drawn and the lyric words laid along the time axis.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _wait(app, predicate, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the window")
        app.processEvents()
        time.sleep(0.005)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--take-seconds", type=float, default=1.5)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.mkdtemp(prefix="jukestudio-screenshot-")
    os.environ["JUKESTUDIO_HOME"] = home
    sys.path.insert(0, str(ROOT))

    from PySide6.QtWidgets import QApplication

    from jukestudio.gui.main_window import MainWindow
    from jukestudio.gui.studio import Studio
    from jukestudio.gui.theme import apply_dark_theme

    app = QApplication(["jukestudio"])
    apply_dark_theme(app)
    Studio().ensure_demo_model()
    window = MainWindow(Studio())
    window.resize(1440, 900)
    ready = {"vocab": False, "ended": [], "loaded": []}
    window.vocabulary_ready.connect(lambda _n: ready.__setitem__("vocab", True))
    window.job_ended.connect(lambda job_id, status: ready["ended"].append((job_id, status)))
    window.take_loaded.connect(lambda take_id: ready["loaded"].append(take_id))
    window.show()
    _wait(app, lambda: ready["vocab"])
    window.new_project(Path(home) / "projects" / "Summertime sketch")
    song = window.song
    song.lyrics.set_text("Summertime, and the livin' is easy\nFish are jumpin' and the cotton is high")
    song.artist.setText("ella fitzgerald")
    song.genres.setText("jazz")
    song.total_seconds.setValue(120)
    song.take_seconds.setValue(args.take_seconds)
    song.n_takes.setValue(3)

    def run(start) -> None:
        count = len(ready["ended"])
        start()
        _wait(app, lambda: len(ready["ended"]) > count)
        job_id, status = ready["ended"][-1]
        if status != "done":
            raise SystemExit(f"job {job_id} {status}: {window.last_message}")

    run(window.compose)
    first = window.takes.take_ids()[0]
    song.n_takes.setValue(2)
    run(lambda: window.continue_takes([first], args.take_seconds))
    run(lambda: window.upsample([first]))
    window.studio.rate_take(first, 4)
    window.refresh_takes()
    child = next(t for t in window.takes.take_ids() if window.takes.take(t).parent_id == first)
    count = len(ready["loaded"])
    window.takes.select(child)
    _wait(app, lambda: len(ready["loaded"]) > count)
    duration = window.waveform.duration
    window.waveform.set_region(duration * 0.55, duration * 0.8)
    window.seek(duration * 0.35)
    window.song.n_takes.setValue(3)
    song.lyrics.set_text(song.lyrics.text() + " ♪")  # shows a flagged character the model drops
    window.status.setText("Take 1.1: coarse preview — Space plays, 1–9 switch between sibling takes")
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image = window.grab()
    if not image.save(str(args.out)):
        raise SystemExit(f"could not write {args.out}")
    print(f"saved {args.out} ({image.width()}x{image.height()})")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
