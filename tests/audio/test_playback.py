"""Transport: state machine, position/seek/loop/A-B logic through a fake stream, allocation-free callback."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np
import pytest

from jukestudio.audio.playback import PlaybackUnavailable, PlayState, Transport, sounddevice_stream_factory


class DriverError(Exception):
    """Like sounddevice.PortAudioError: a plain Exception, not an OSError."""


class FakeStream:
    """Stands in for sounddevice.OutputStream; ``pull`` plays the role of PortAudio's thread."""

    def __init__(self, rate: int, channels: int, blocksize: int, callback) -> None:
        self.rate, self.channels, self.blocksize, self.callback = rate, channels, blocksize, callback
        self.active = False
        self.closed = False
        self.starts = 0

    def start(self) -> None:
        self.active = True
        self.starts += 1

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int) -> np.ndarray:
        assert self.active, "PortAudio only calls back while the stream runs"
        out = np.full((frames, self.channels), np.nan, np.float32)
        self.callback(out, frames, None, None)
        return out


class Factory:
    def __init__(self) -> None:
        self.streams: list[FakeStream] = []

    def __call__(self, rate, channels, blocksize, callback) -> FakeStream:
        self.streams.append(FakeStream(rate, channels, blocksize, callback))
        return self.streams[-1]

    @property
    def stream(self) -> FakeStream:
        return self.streams[-1]


@pytest.fixture
def ramp() -> np.ndarray:
    return np.arange(1000, dtype=np.float32)


@pytest.fixture
def transport(ramp):
    factory = Factory()
    t = Transport(factory, channels=2, blocksize=64)
    t.load(ramp)
    t.factory = factory  # type: ignore[attr-defined]
    return t


def test_stream_opens_lazily_once(ramp) -> None:
    factory = Factory()
    t = Transport(factory)
    assert factory.streams == []
    t.load(ramp)
    t.seek(10)
    assert factory.streams == []
    assert t.play() and t.available
    t.pause()
    t.play()
    assert len(factory.streams) == 1 and factory.stream.starts == 2


def test_play_copies_samples_to_every_channel(transport) -> None:
    assert transport.play()
    out = transport.factory.stream.pull(100)
    np.testing.assert_array_equal(out[:, 0], np.arange(100))
    np.testing.assert_array_equal(out[:, 1], np.arange(100))
    assert transport.position == 100 and transport.state is PlayState.PLAYING


def test_pause_keeps_position_and_stop_rewinds(transport) -> None:
    transport.play()
    transport.factory.stream.pull(300)
    transport.pause()
    assert transport.state is PlayState.PAUSED and not transport.factory.stream.active
    assert transport.position == 300
    transport.play()
    np.testing.assert_array_equal(transport.factory.stream.pull(5)[:, 0], np.arange(300, 305))
    transport.stop()
    assert transport.state is PlayState.STOPPED and transport.position == 0


def test_seek_while_playing_takes_effect_at_next_block(transport) -> None:
    transport.play()
    transport.factory.stream.pull(10)
    transport.seek(500)
    assert transport.position == 500  # shown at once, before the audio thread runs again
    np.testing.assert_array_equal(transport.factory.stream.pull(4)[:, 0], [500, 501, 502, 503])
    transport.seek(2000)  # clamped to the end
    assert transport.position == 1000
    transport.seek_s(100 / 44100)
    assert transport.position == 100


def test_end_of_take_fills_silence_and_stops(transport) -> None:
    transport.seek(990)
    transport.play()
    out = transport.factory.stream.pull(16)
    np.testing.assert_array_equal(out[:10, 0], np.arange(990, 1000))
    assert not out[10:].any()
    assert transport.poll() is PlayState.STOPPED and transport.position == 0
    assert not transport.factory.stream.active


def test_seek_back_before_poll_keeps_playing(transport) -> None:
    transport.seek(995)
    transport.play()
    transport.factory.stream.pull(10)
    transport.seek(0)
    transport.factory.stream.pull(10)
    assert transport.poll() is PlayState.PLAYING


def test_play_at_end_restarts_from_zero(transport) -> None:
    transport.seek(1000)
    transport.play()
    np.testing.assert_array_equal(transport.factory.stream.pull(3)[:, 0], [0, 1, 2])


def test_loop_wraps_within_a_block(transport) -> None:
    transport.set_loop(100, 110)
    transport.seek(105)
    transport.play()
    out = transport.factory.stream.pull(25)[:, 0]
    expected = [105, 106, 107, 108, 109] + list(range(100, 110)) * 2
    np.testing.assert_array_equal(out, expected)
    assert transport.position == 100
    assert transport.poll() is PlayState.PLAYING


def test_loop_is_ignored_past_its_end_and_can_be_cleared(transport) -> None:
    transport.set_loop(100, 110)
    transport.seek(200)
    transport.play()
    np.testing.assert_array_equal(transport.factory.stream.pull(3)[:, 0], [200, 201, 202])
    transport.seek(108)
    transport.set_loop(None)
    np.testing.assert_array_equal(transport.factory.stream.pull(4)[:, 0], [108, 109, 110, 111])
    with pytest.raises(ValueError, match="start < end"):
        transport.set_loop(50, 40)


def test_loop_end_beyond_take_is_clipped(transport) -> None:
    transport.set_loop(990, 5000)
    assert transport.loop == (990, 1000)
    transport.seek(995)
    transport.play()
    np.testing.assert_array_equal(transport.factory.stream.pull(8)[:, 0], [995, 996, 997, 998, 999, 990, 991, 992])


def test_ab_switch_keeps_the_position(transport) -> None:
    transport.play()
    transport.factory.stream.pull(400)
    other = -np.arange(1000, dtype=np.float32)
    transport.switch(other)
    np.testing.assert_array_equal(transport.factory.stream.pull(3)[:, 0], [-400, -401, -402])
    shorter = np.ones(200, np.float32)
    transport.switch(shorter)  # playhead beyond the new take's end: it finishes
    assert not transport.factory.stream.pull(8).any()
    assert transport.poll() is PlayState.STOPPED


def test_volume(transport) -> None:
    transport.volume = 0.5
    transport.play()
    np.testing.assert_array_equal(transport.factory.stream.pull(4)[:, 0], [0, 0.5, 1, 1.5])
    with pytest.raises(ValueError):
        transport.volume = -1


def test_toggle_is_play_pause(transport) -> None:
    assert transport.toggle() is True and transport.state is PlayState.PLAYING
    assert transport.toggle() is False and transport.state is PlayState.PAUSED


def test_callback_does_not_allocate(transport) -> None:
    """The real-time callback must not allocate buffers: measure the traced peak around many calls."""
    blocksize = 8192
    audio = np.sin(np.arange(20 * blocksize, dtype=np.float32) / 7)
    factory = Factory()
    t = Transport(factory, channels=2, blocksize=blocksize)
    t.load(audio)
    t.set_loop(100, 100 + 3 * blocksize + 17)  # wraps inside blocks
    t.volume = 0.8
    t.play()
    out = np.zeros((blocksize, 2), np.float32)
    callback = factory.stream.callback
    callback(out, blocksize, None, None)  # warm-up: first-call caches
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(200):
            if i == 100:
                t.switch(audio[::-1].copy())  # allocation happens here, outside the callback...
                tracemalloc.reset_peak()  # ...so measure the callback alone again
                before, _ = tracemalloc.get_traced_memory()
            callback(out, blocksize, None, None)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_block = blocksize * 2 * 4
    # Python's own small objects (views, ints) come and go; any array would cost ≥ one block.
    assert peak - before < 2048 < one_block
    assert current - before < 512
    assert np.abs(out).max() > 0


def test_position_reads_are_consistent_while_audio_thread_runs(ramp) -> None:
    factory = Factory()
    t = Transport(factory, blocksize=64)
    t.load(np.zeros(10_000_000, np.float32))
    t.play()
    stop = threading.Event()
    seen: list[int] = []

    def audio_thread() -> None:
        out = np.zeros((64, 2), np.float32)
        while not stop.is_set():
            factory.stream.callback(out, 64, None, None)

    worker = threading.Thread(target=audio_thread)
    worker.start()
    try:
        for _ in range(2000):
            seen.append(t.position)
        t.seek(5_000_000)
        pos_after_seek = t.position
    finally:
        stop.set()
        worker.join()
    assert seen == sorted(seen)  # never goes backwards, never torn
    assert pos_after_seek >= 5_000_000 and t.position >= 5_000_000


def test_factory_failure_means_unavailable_not_crash(ramp) -> None:
    def broken(*args):
        raise PlaybackUnavailable("Playback unavailable: no usable audio output device (test).")

    t = Transport(broken)
    t.load(ramp)
    assert t.available is False
    assert "no usable audio output device" in t.unavailable_reason
    assert t.play() is False and t.state is PlayState.STOPPED
    t.seek(10)
    t.set_loop(0, 50)
    assert t.position == 10  # the rest keeps working


@pytest.mark.parametrize(
    "error", [OSError("PortAudio library not found"), ImportError("no module"), DriverError("Error querying device -1")]
)
def test_missing_portaudio_is_unavailable(ramp, error) -> None:
    def broken(*args):
        raise error

    t = Transport(broken)
    t.load(ramp)
    assert not t.play()
    assert t.unavailable_reason.startswith("Playback unavailable")


def test_start_failure_is_unavailable_and_retry_reopens(ramp) -> None:
    class Failing(FakeStream):
        def start(self) -> None:
            raise DriverError("device busy")

        def close(self) -> None:
            super().close()
            raise DriverError("and it will not close either")

    made: list[FakeStream] = []

    def factory(*args):
        made.append((Failing if len(made) == 0 else FakeStream)(*args))
        return made[-1]

    t = Transport(factory)
    t.load(ramp)
    assert t.play() is False and "device busy" in t.unavailable_reason
    assert made[0].closed
    assert t.retry_device() and t.play()


def _portaudio_present() -> tuple[bool, str]:
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError) as exc:
        return False, f"PortAudio is not installed here ({exc})"
    return True, ""


def test_real_sounddevice_without_portaudio_or_device_is_unavailable(ramp) -> None:
    present, _ = _portaudio_present()
    t = Transport(sounddevice_stream_factory(device=987654))  # no machine has this device index
    t.load(ramp)
    assert t.available is False
    reason = t.unavailable_reason
    assert reason.startswith("Playback unavailable")
    assert ("PortAudio library" in reason) != present
    assert t.play() is False


def test_real_sounddevice_default_device_never_crashes(ramp) -> None:
    present, why = _portaudio_present()
    if not present:
        pytest.skip(why)
    t = Transport(sounddevice_stream_factory())
    t.load(ramp)
    if t.available:  # a machine with a sound card: open and close without playing anything
        t.close()
    else:
        assert t.unavailable_reason.startswith("Playback unavailable")
