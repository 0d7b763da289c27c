"""Render the window at three screen sizes in four states, for docs/screenshots/ (and to look at).

    xvfb-run -a python scripts/screenshots.py [--out docs/screenshots]    (or QT_QPA_PLATFORM=offscreen)

States, each at 1024×700, 1366×768 and 1920×1080:

* ``first-run``: a fresh home and no project: the shipped jukestudio-tiny is installed and chosen, and
  the window says what to do first.
* ``composing``: three takes being composed on jukestudio-tiny; the first one's waveform has grown
  over its finished windows while the rest is still to come (grabbed mid-job).
* ``composed``: the takes are done; one is selected with a region drawn.
* ``region-upsampled``: that region upsampled to full quality — shaded where it is, "partial" badge.

Everything happens in a temporary JUKESTUDIO_HOME with the model that ships with jukestudio (an
instrumental model, so the lyrics editor is off and says why); every part of the window is real.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = ((1024, 700), (1366, 768), (1920, 1080))


def _wait(app, predicate, timeout_s: float = 900.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the window")
        app.processEvents()
        time.sleep(0.005)


def _settle(app, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _grab_all(app, window, state: str, out: Path) -> None:
    for width, height in SIZES:
        window.resize(width, height)
        _settle(app)
        path = out / f"{state}-{width}x{height}.png"
        if not window.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        print(f"saved {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--take-seconds", type=float, default=8.0)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tempfile.mkdtemp(prefix="jukestudio-screenshots-")
    os.environ["JUKESTUDIO_HOME"] = home
    sys.path.insert(0, str(ROOT))
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from jukestudio.gui.main_window import MainWindow
    from jukestudio.gui.studio import Studio
    from jukestudio.gui.theme import apply_dark_theme

    app = QApplication(["jukestudio"])
    apply_dark_theme(app)
    window = MainWindow(Studio())
    ready = {"listed": False, "vocab": False, "ended": [], "loaded": []}
    window.models_listed.connect(lambda _n: ready.__setitem__("listed", True))
    window.vocabulary_ready.connect(lambda _n: ready.__setitem__("vocab", True))
    window.job_ended.connect(lambda job_id, status: ready["ended"].append((job_id, status)))
    window.take_loaded.connect(lambda take_id: ready["loaded"].append(take_id))
    window.resize(*SIZES[0])
    window.show()
    _wait(app, lambda: ready["listed"] and ready["vocab"] and not window.tasks.running)
    _grab_all(app, window, "first-run", args.out)

    window.new_project(Path(home) / "projects" / "Folk dance sketch")
    song = window.song
    song.artist.setText("eric_clapton")  # jukestudio-tiny's plucked string
    song.genres.setText("folk")
    song.total_seconds.setValue(60)
    song.take_seconds.setValue(args.take_seconds)
    song.n_takes.setValue(3)

    window.compose()
    first = [None]

    def grown() -> bool:
        if window.growing.placeholders():
            first[0] = window.growing.placeholders()[0].take_id
        return 0.3 * args.take_seconds <= window.waveform.available < window.waveform.duration
    _wait(app, grown)
    _grab_all(app, window, "composing", args.out)
    _wait(app, lambda: ready["ended"])
    job_id, status = ready["ended"][-1]
    if status != "done":
        raise SystemExit(f"job {job_id} {status}: {window.last_message}")
    take = window.takes.take_ids()[0]
    window.studio.rate_take(take, 4)
    window.refresh_takes()
    count = len(ready["loaded"])
    window.takes.select(take)
    _wait(app, lambda: len(ready["loaded"]) > count)
    duration = window.waveform.duration
    region = (round(duration * 0.4, 1), round(duration * 0.4 + 0.6, 1))
    window.waveform.set_region(*region)
    window.seek(duration * 0.25)
    _grab_all(app, window, "composed", args.out)

    count = len(ready["ended"])
    window.upsample([take], region=region)
    _wait(app, lambda: len(ready["ended"]) > count)
    if ready["ended"][-1][1] != "done":
        raise SystemExit(f"upsample {ready['ended'][-1]}: {window.last_message}")
    count = len(ready["loaded"])
    window.select_take(take)
    _wait(app, lambda: len(ready["loaded"]) > count)
    window.waveform.set_region(*region)
    _grab_all(app, window, "region-upsampled", args.out)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
