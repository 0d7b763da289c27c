"""A transport (play / pause / stop / seek / loop / A-B switch) over an audio output stream. No Qt.

The stream callback runs on PortAudio's real-time thread. It only copies from a buffer prepared in
advance (``np.multiply(..., out=outdata)``), takes no lock and allocates no arrays. The main thread
talks to it through single attribute assignments, which are atomic in CPython:

* ``_buffer`` — the (samples,) float32 array being played; replacing it is the A/B switch;
* ``_loop`` — ``None`` or a ``(start, end)`` tuple;
* ``_gain`` — a 1-element float32 array (volume), written in place;
* ``_seek`` — a ``(sequence, target)`` tuple; the callback applies a new sequence number once, so a
  seek is never lost or overwritten by the callback's own position update;
* ``_pos`` / ``_ended`` — written only by the callback while playing, read by anyone.

Pausing stops the stream, so while not playing the callback is not running at all.
Without PortAudio or without an output device the transport reports ``available == False`` and a
human-readable ``unavailable_reason``; every other method keeps working (positions, seeks, loops).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from jukestudio.audio.constants import SAMPLE_RATE

log = logging.getLogger(__name__)


class PlayState(enum.Enum):
    STOPPED = "stopped"
    PLAYING = "playing"
    PAUSED = "paused"


class PlaybackUnavailable(RuntimeError):
    """No way to make sound here (no PortAudio, no output device); the message says why."""


class OutputStream(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


Callback = Callable[[np.ndarray, int, Any, Any], None]
StreamFactory = Callable[[int, int, int, Callback], OutputStream]
"""``factory(sample_rate, channels, blocksize, callback) -> stream`` (created stopped)."""


def sounddevice_stream_factory(device: int | str | None = None, latency: str | float = "high") -> StreamFactory:
    """The real thing: a ``sounddevice.OutputStream`` on ``device`` (default output when None)."""

    def make(sample_rate: int, channels: int, blocksize: int, callback: Callback) -> OutputStream:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:  # sounddevice raises OSError when libportaudio is missing
            raise PlaybackUnavailable(
                f"Playback unavailable: the PortAudio library could not be loaded ({exc})."
            ) from exc
        try:
            info = sd.query_devices(device, "output")
            usable = min(channels, int(info["max_output_channels"]))
            if usable < 1:
                raise PlaybackUnavailable(f"Playback unavailable: {info['name']} has no output channels.")
            return sd.OutputStream(
                samplerate=sample_rate,
                channels=usable,
                blocksize=blocksize,
                dtype="float32",
                latency=latency,
                device=device,
                callback=callback,
            )
        except (sd.PortAudioError, ValueError, OSError) as exc:
            raise PlaybackUnavailable(f"Playback unavailable: no usable audio output device ({exc}).") from exc

    return make


def _as_buffer(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim == 2 and audio.shape[1] == 1:
        audio = audio[:, 0]
    if audio.ndim != 1:
        raise ValueError(f"Transport plays mono audio shaped (samples,), got {audio.shape}")
    # No copy when the caller already has contiguous float32; the callback only ever reads it.
    return np.ascontiguousarray(audio, dtype=np.float32)


class Transport:
    """Plays one take at a time; ``switch`` swaps the take under the playhead for A/B listening."""

    def __init__(
        self,
        stream_factory: StreamFactory | None = None,
        *,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 2,
        blocksize: int = 1024,
    ) -> None:
        self._factory = stream_factory or sounddevice_stream_factory()
        self.sample_rate = sample_rate
        self.channels = channels
        self.blocksize = blocksize
        self._stream: OutputStream | None = None
        self._unavailable: str | None = None
        self._state = PlayState.STOPPED
        self._control = threading.Lock()  # serialises main-thread calls; never taken by the callback
        # Shared with the callback (see module docstring).
        self._buffer = np.zeros(0, dtype=np.float32)
        self._loop: tuple[int, int] | None = None
        self._gain = np.ones(1, dtype=np.float32)
        self._seek: tuple[int, int] = (0, 0)
        self._seek_applied = 0
        self._pos = 0
        self._ended = False
        self.xruns = 0  # blocks PortAudio reported as under/overflowing

    # -- availability ---------------------------------------------------------------------------------

    def _ensure_stream(self) -> OutputStream | None:
        if self._stream is None and self._unavailable is None:
            try:
                self._stream = self._factory(self.sample_rate, self.channels, self.blocksize, self._callback)
            # Device boundary: whatever a driver or a custom factory raises means "no sound here",
            # never a crash of the app (sounddevice.PortAudioError is a plain Exception).
            except Exception as exc:
                self._unavailable = str(exc) or type(exc).__name__
                if not self._unavailable.lower().startswith("playback unavailable"):
                    self._unavailable = f"Playback unavailable: {self._unavailable}"
                log.warning("%s", self._unavailable)
        return self._stream

    @property
    def available(self) -> bool:
        """Whether sound can be played; opens the output stream on first use."""
        return self._ensure_stream() is not None

    @property
    def unavailable_reason(self) -> str | None:
        self._ensure_stream()
        return self._unavailable

    def retry_device(self) -> bool:
        """Forget a previous failure (e.g. headphones plugged in since) and try to open again."""
        with self._control:
            self._close_stream()
            self._unavailable = None
        return self.available

    # -- content --------------------------------------------------------------------------------------

    def load(self, audio: np.ndarray) -> None:
        """Play ``audio`` from now on, starting at 0 (stops playback first). Keeps a reference to it."""
        buffer = _as_buffer(audio)
        self.stop()
        with self._control:
            self._buffer = buffer
            self._loop = self._clip_loop(self._loop, buffer.shape[0])
            self._request_seek(0)

    def switch(self, audio: np.ndarray) -> None:
        """A/B: replace the take being played, keeping the playhead where it is (and playing on)."""
        buffer = _as_buffer(audio)
        self._buffer = buffer  # one atomic store; the callback picks it up at its next block

    @property
    def duration(self) -> int:
        return int(self._buffer.shape[0])

    @property
    def duration_s(self) -> float:
        return self.duration / self.sample_rate

    # -- transport ------------------------------------------------------------------------------------

    @property
    def state(self) -> PlayState:
        return self.poll()

    def poll(self) -> PlayState:
        """Notice the end of the take (call it from a UI timer); returns the state."""
        if self._state is PlayState.PLAYING and self._ended:
            with self._control:
                self._halt_stream()
                self._state = PlayState.STOPPED
                self._request_seek(0)
        return self._state

    def play(self) -> bool:
        """Start or resume; False (and nothing else happens) when playback is unavailable."""
        with self._control:
            if self._state is PlayState.PLAYING:
                return True
            stream = self._ensure_stream()
            if stream is None:
                return False
            if self.position >= self.duration:
                self._request_seek(0)
            self._ended = False
            try:
                stream.start()
            except Exception as exc:  # device vanished, busy, … (PortAudioError is a plain Exception)
                self._unavailable = f"Playback unavailable: the output device failed to start ({exc})."
                log.warning("%s", self._unavailable)
                self._close_stream()
                return False
            self._state = PlayState.PLAYING
            return True

    def pause(self) -> None:
        with self._control:
            if self._state is PlayState.PLAYING:
                self._halt_stream()
                self._state = PlayState.PAUSED

    def toggle(self) -> bool:
        """Space bar: play when stopped/paused, pause when playing. Returns whether it is playing now."""
        if self.poll() is PlayState.PLAYING:
            self.pause()
            return False
        return self.play()

    def stop(self) -> None:
        """Stop and return the playhead to the start."""
        with self._control:
            if self._state is PlayState.PLAYING:
                self._halt_stream()
            self._state = PlayState.STOPPED
            self._request_seek(0)

    def close(self) -> None:
        self.stop()
        with self._control:
            self._close_stream()

    def seek(self, sample: int) -> None:
        with self._control:
            self._request_seek(sample)

    def seek_s(self, seconds: float) -> None:
        self.seek(round(seconds * self.sample_rate))

    @property
    def position(self) -> int:
        """Playhead in samples; a seek not yet taken up by the audio thread already shows."""
        seq, target = self._seek
        return target if seq != self._seek_applied else self._pos

    @property
    def position_s(self) -> float:
        return self.position / self.sample_rate

    @property
    def volume(self) -> float:
        return float(self._gain[0])

    @volume.setter
    def volume(self, value: float) -> None:
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"volume must be a finite number ≥ 0, got {value}")
        self._gain[0] = value

    @property
    def loop(self) -> tuple[int, int] | None:
        return self._loop

    def set_loop(self, start: int | None, end: int | None = None) -> None:
        """Loop ``[start, end)`` in samples; ``set_loop(None)`` turns looping off.

        Playback that reaches ``end`` from before it jumps to ``start``; a playhead already past
        ``end`` plays on to the end of the take.
        """
        if start is None:
            self._loop = None
            return
        if end is None or end <= start or start < 0:
            raise ValueError(f"loop needs 0 ≤ start < end, got start={start}, end={end}")
        self._loop = self._clip_loop((int(start), int(end)), self.duration)

    def set_loop_s(self, start_s: float | None, end_s: float | None = None) -> None:
        if start_s is None:
            self.set_loop(None)
            return
        end = None if end_s is None else round(end_s * self.sample_rate)
        self.set_loop(round(start_s * self.sample_rate), end)

    # -- internals ------------------------------------------------------------------------------------

    @staticmethod
    def _clip_loop(loop: tuple[int, int] | None, length: int) -> tuple[int, int] | None:
        if loop is None:
            return None
        start, end = loop
        end = min(end, length) if length else end
        return (start, end) if end > start else None

    def _request_seek(self, sample: int) -> None:
        target = max(0, min(int(sample), self.duration))
        self._seek = (self._seek[0] + 1, target)
        if self._state is not PlayState.PLAYING:
            self._ended = False

    def _halt_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
            except Exception as exc:  # the device may be gone; the transport state is what matters
                log.warning("stopping the audio stream failed: %s", exc)

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception as exc:
                log.warning("closing the audio stream failed: %s", exc)
            self._stream = None

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio thread: copy ``frames`` samples into ``outdata``. No locks, no array allocation."""
        if status:
            self.xruns += 1
        seek = self._seek
        if seek[0] != self._seek_applied:
            self._pos = seek[1]
            self._seek_applied = seek[0]
        buffer = self._buffer
        loop = self._loop
        gain = self._gain
        length = buffer.shape[0]
        channels = outdata.shape[1]
        pos = self._pos
        written = 0
        ended = False
        while written < frames:
            looping = loop is not None and pos < loop[1] <= length
            limit = loop[1] if looping else length
            count = min(frames - written, limit - pos)
            if count > 0:
                # Column by column: broadcasting mono into all channels at once makes numpy allocate
                # a staging buffer; strided 1-D loops do not.
                np.multiply(buffer[pos : pos + count], gain, out=outdata[written : written + count, 0])
                for channel in range(1, channels):
                    np.copyto(outdata[written : written + count, channel], outdata[written : written + count, 0])
                written += count
                pos += count
            if pos >= limit:
                if looping:
                    pos = loop[0]
                    continue
                outdata[written:].fill(0)
                ended = True
                break
        self._pos = pos
        self._ended = ended  # a seek back from the end while still playing un-ends it
