"""Check that a PyInstaller bundle holds everything jukestudio needs at run time.

Run as ``jukestudio-cli --bundle-selfcheck`` from a built bundle. Each check exercises a dependency
the way the app does (a tensor op, a WAV round trip, a resample, an SVG render offscreen, reading the
vocab tables), because a missing DLL, Qt plugin or data file only shows up when it is used. Prints
one line per check and exits non-zero if any failed. Weights are never needed: none are bundled.
"""

from __future__ import annotations

import importlib
import io
import os
import pkgutil
import sys
import traceback
from collections.abc import Callable

_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="#f00"/></svg>'


def check_jukestudio() -> str:
    import jukestudio

    if jukestudio.__version__.startswith("0.0.0"):
        raise RuntimeError(f"package metadata missing from the bundle (version {jukestudio.__version__})")
    names = [info.name for info in pkgutil.walk_packages(jukestudio.__path__, "jukestudio.")]
    for name in names:
        importlib.import_module(name)
    return f"jukestudio {jukestudio.__version__}, {len(names)} modules import"


def check_resources() -> str:
    from jukestudio.resources_path import resource

    license_text = resource("vocab", "LICENSE").read_text(encoding="utf-8")
    if "Noncommercial" not in license_text:
        raise RuntimeError("resources/vocab/LICENSE is not the Jukebox Noncommercial Use License")
    tables = [resource("vocab", f"{v}_{kind}_ids.txt") for v in ("v2", "v3") for kind in ("artist", "genre")]
    lines = sum(len(t.read_text(encoding="utf-8").splitlines()) for t in tables)
    return f"vocab tables ({lines} lines) and their license"


def check_torch() -> str:
    import torch

    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    if float((x @ x.T).sum()) != 83.0:  # [[5, 14], [14, 50]]
        raise RuntimeError("matrix product gave a wrong result")
    cuda = torch.version.cuda or "none"
    return f"torch {torch.__version__} (CUDA build: {cuda}, GPU available: {torch.cuda.is_available()})"


def check_safetensors() -> str:
    import torch
    from safetensors.torch import load, save

    tensors = load(save({"w": torch.ones(3)}))
    if tensors["w"].tolist() != [1.0, 1.0, 1.0]:
        raise RuntimeError("round trip changed the tensor")
    return "safetensors round trip"


def check_audio() -> str:
    import numpy as np
    import soundfile
    import soxr

    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 4410, dtype=np.float32))
    buffer = io.BytesIO()
    soundfile.write(buffer, tone, 44100, format="WAV", subtype="FLOAT")
    buffer.seek(0)
    back, rate = soundfile.read(buffer, dtype="float32")
    if rate != 44100 or back.shape != tone.shape:
        raise RuntimeError("WAV round trip changed the audio")
    resampled = soxr.resample(tone, 44100, 22050)
    return f"libsndfile {soundfile.__libsndfile_version__}, soxr ({len(resampled)} samples after resampling)"


def check_playback() -> str:
    import sounddevice  # loads PortAudio: bundled on Windows/macOS, the system's libportaudio2 on Linux

    return f"sounddevice {sounddevice.__version__}, {sounddevice.get_portaudio_version()[1]}"


def check_text() -> str:
    from anyascii import anyascii

    if anyascii("Motörhead — Björk") != "Motorhead - Bjork":
        raise RuntimeError("anyascii data tables are missing")
    return "anyascii tables"


def check_qt() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QImageReader, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([sys.argv[0]])  # needed alive for painting
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    missing = {"png", "svg", "ico"} - formats
    if missing:
        raise RuntimeError(f"Qt image format plugins missing: {sorted(missing)}")
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    QSvgRenderer(QByteArray(_SVG)).render(painter)
    painter.end()
    if image.pixelColor(4, 4).red() != 255:
        raise RuntimeError("SVG did not render")
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("PNG encoding failed")
    import pyqtgraph

    return f"Qt platform {QGuiApplication.platformName()}, formats ok, pyqtgraph {pyqtgraph.__version__}"


CHECKS: list[Callable[[], str]] = [
    check_jukestudio,
    check_resources,
    check_torch,
    check_safetensors,
    check_audio,
    check_playback,
    check_text,
    check_qt,
]


def main() -> int:
    failed = 0
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            print(f"ok    {name}: {check()}", flush=True)
        except Exception as error:  # report every failure, then fail as a whole
            failed += 1
            print(f"FAIL  {name}: {error!r}", flush=True)
            traceback.print_exc()
    return 1 if failed else 0
