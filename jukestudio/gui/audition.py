"""Audition: the audio layer's Transport driven from the GUI thread, with a ~30 Hz playhead timer.

The Transport's stream callback never touches Qt; this object polls ``position_s`` on a QTimer and
emits ``position_changed``. A/B switching swaps the take under the playhead (``Transport.switch``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from jukestudio.audio.playback import PlayState, StreamFactory, Transport

POLL_MS = 33


class Audition(QObject):
    position_changed = Signal(float)  # seconds
    # "playing" | "stopped". A str, not a bool: PySide6 6.12 drops a reference to True/False when a
    # Python-declared signal carries a bool into a Python callable, which crashes the interpreter later.
    playing_changed = Signal(str)
    take_changed = Signal(str)

    def __init__(self, stream_factory: StreamFactory | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.transport = Transport(stream_factory)
        self.take_id: str | None = None
        self._playing = False
        self._loop_on = False
        self._region: tuple[float, float] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    # -- availability -------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.transport.available

    @property
    def unavailable_reason(self) -> str:
        return self.transport.unavailable_reason or ""

    @property
    def duration_s(self) -> float:
        return self.transport.duration_s

    @property
    def position_s(self) -> float:
        return self.transport.position_s

    @property
    def playing(self) -> bool:
        return self._playing

    # -- content ------------------------------------------------------------------------------
    def load(self, take_id: str, audio: np.ndarray) -> None:
        self.transport.load(audio)
        self.take_id = take_id
        self._apply_loop()
        self._poll()
        self.take_changed.emit(take_id)

    def switch(self, take_id: str, audio: np.ndarray) -> None:
        """A/B: same playhead, other take (loads instead when nothing was loaded yet)."""
        if self.take_id is None or self.transport.duration == 0:
            self.load(take_id, audio)
            return
        self.transport.switch(audio)
        self.take_id = take_id
        self._apply_loop()
        self.take_changed.emit(take_id)

    def unload(self) -> None:
        self.stop()
        self.transport.load(np.zeros(0, np.float32))
        self.take_id = None

    # -- transport ----------------------------------------------------------------------------
    def toggle(self) -> bool:
        playing = self.transport.toggle()
        self._set_playing(playing)
        return playing

    def play(self) -> bool:
        ok = self.transport.play()
        self._set_playing(ok)
        return ok

    def pause(self) -> None:
        self.transport.pause()
        self._set_playing(False)

    def stop(self) -> None:
        self.transport.stop()
        self._set_playing(False)
        self._poll()

    def seek(self, seconds: float) -> None:
        self.transport.seek_s(max(0.0, seconds))
        self._poll()

    def set_volume(self, volume: float) -> None:
        self.transport.volume = max(0.0, float(volume))

    def set_region(self, region: tuple[float, float] | None) -> None:
        self._region = region
        self._apply_loop()

    def set_loop(self, on: bool) -> None:
        self._loop_on = on
        self._apply_loop()

    @property
    def looping(self) -> bool:
        return self._loop_on

    def _apply_loop(self) -> None:
        if self._loop_on and self._region is not None and self._region[1] > self._region[0]:
            try:
                self.transport.set_loop_s(*self._region)
            except ValueError:
                self.transport.set_loop_s(None)
        else:
            self.transport.set_loop_s(None)

    def _set_playing(self, playing: bool) -> None:
        if playing:
            self._timer.start()
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit("playing" if playing else "stopped")

    def _poll(self) -> None:
        state = self.transport.poll()
        self.position_changed.emit(self.transport.position_s)
        if state is not PlayState.PLAYING:
            self._timer.stop()
            self._set_playing(False)

    def close(self) -> None:
        self._timer.stop()
        self.transport.close()
