"""GUI test helpers: a fake audio output the test drives by hand, and window factories."""

from __future__ import annotations

import numpy as np
import pytest

from jukestudio.gui.audition import Audition


class FakeOutput:
    """Stands in for a sounddevice OutputStream; ``pump`` runs the transport's callback like PortAudio."""

    def __init__(self, sample_rate: int, channels: int, blocksize: int, callback) -> None:
        self.callback, self.blocksize, self.channels = callback, blocksize, channels
        self.running = False
        self.played: list[np.ndarray] = []

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def close(self) -> None:
        self.running = False

    def pump(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            if not self.running:
                return
            out = np.zeros((self.blocksize, self.channels), np.float32)
            self.callback(out, self.blocksize, None, None)
            self.played.append(out[:, 0].copy())


@pytest.fixture(autouse=True)
def close_without_asking(monkeypatch):
    """Closing a window with a running job asks (a modal box); tests answer "stop, resume next time"
    unless they set their own answer."""
    from jukestudio.gui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "ask_close_with_jobs", lambda self, n: "later")


@pytest.fixture
def fake_output():
    holder: list[FakeOutput] = []

    def factory(sample_rate, channels, blocksize, callback):
        stream = FakeOutput(sample_rate, channels, blocksize, callback)
        holder.append(stream)
        return stream

    factory.streams = holder  # type: ignore[attr-defined]
    return factory


@pytest.fixture
def audition(fake_output, qtbot):
    a = Audition(fake_output)
    yield a
    a.close()
