"""load_prompt: every format soundfile writes here, odd rates and channel counts, and broken files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr

from jukestudio.audio import io as audio_io
from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.audio.errors import AudioError
from jukestudio.audio.io import load_prompt, probe

FORMATS = sf.available_formats()


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


# (extension, format, subtype, lossless?) — lossy codecs are checked by correlation and length only.
CASES = [
    ("wav", "WAV", "PCM_16", True),
    ("wav", "WAV", "FLOAT", True),
    ("flac", "FLAC", "PCM_24", True),
    ("aiff", "AIFF", "PCM_16", True),
    ("ogg", "OGG", "VORBIS", False),
    ("mp3", "MP3", "MPEG_LAYER_III", False),
]


@pytest.mark.parametrize(("ext", "fmt", "subtype", "lossless"), CASES, ids=[c[0] + "-" + c[2] for c in CASES])
def test_round_trip_of_each_format(tmp_path, ext, fmt, subtype, lossless) -> None:
    if fmt not in FORMATS:
        pytest.skip(f"this libsndfile ({sf.__libsndfile_version__}) cannot write {fmt}")
    source = sine(440, 1.0, SAMPLE_RATE)
    path = tmp_path / f"prompt.{ext}"
    sf.write(path, source, SAMPLE_RATE, format=fmt, subtype=subtype)
    audio = load_prompt(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    if lossless:
        assert len(audio) == len(source)
        tolerance = 1 / 32768 if subtype == "PCM_16" else 1 / 2**23
        np.testing.assert_allclose(audio, source, atol=tolerance)
    else:
        # Lossy codecs add encoder delay/padding: compare around the best alignment.
        assert abs(len(audio) - len(source)) < 0.1 * SAMPLE_RATE
        lag = int(np.argmax(np.correlate(audio[:4096], source[:2048], mode="valid")))
        assert corr(audio[lag:], source) > 0.99


def test_eight_channels_are_averaged(tmp_path) -> None:
    channels = np.stack([sine(110 * (c + 1), 0.5, SAMPLE_RATE, amp=0.1) for c in range(8)], axis=1)
    path = tmp_path / "eight.wav"
    sf.write(path, channels, SAMPLE_RATE, subtype="FLOAT")
    audio = load_prompt(path)
    np.testing.assert_allclose(audio, channels.astype(np.float64).mean(axis=1), atol=1e-7)


def test_192k_is_resampled_to_44k1_with_the_same_pitch(tmp_path) -> None:
    rate = 192000
    path = tmp_path / "hi.flac"
    sf.write(path, np.stack([sine(1000, 2.0, rate), sine(1000, 2.0, rate)], axis=1), rate, subtype="PCM_24")
    audio = load_prompt(path)
    assert len(audio) == 2 * SAMPLE_RATE
    expected = sine(1000, 2.0, SAMPLE_RATE)
    # Away from the filter's edge transients a HQ resampler reproduces the analytic sine closely.
    middle = slice(1000, -1000)
    np.testing.assert_allclose(audio[middle], expected[middle], atol=2e-3)


def test_streamed_resampling_equals_one_shot(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(audio_io, "BLOCK_FRAMES", 1000)  # many blocks
    rate = 48000
    rng = np.random.default_rng(1)
    noise = (0.2 * rng.standard_normal(rate)).astype(np.float32)
    path = tmp_path / "n.wav"
    sf.write(path, noise, rate, subtype="FLOAT")
    audio = load_prompt(path)
    np.testing.assert_allclose(audio, soxr.resample(noise, rate, SAMPLE_RATE, quality="HQ"), atol=1e-6)


def test_trim_reads_only_the_span(tmp_path, monkeypatch) -> None:
    rate = SAMPLE_RATE
    ramp = (np.arange(10 * rate) / (10 * rate)).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, ramp, rate, subtype="FLOAT")
    frames_read: list[int] = []
    real_read = sf.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        data = real_read(self, frames, *args, **kwargs)
        frames_read.append(len(data))
        return data

    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    audio = load_prompt(path, start_s=2.0, end_s=3.5)
    np.testing.assert_array_equal(audio, ramp[2 * rate : int(3.5 * rate)])
    assert sum(frames_read) == int(1.5 * rate)
    frames_read.clear()
    capped = load_prompt(path, start_s=1.0, max_duration_s=0.5)
    np.testing.assert_array_equal(capped, ramp[rate : int(1.5 * rate)])
    assert sum(frames_read) == rate // 2


def test_trim_errors_name_the_file(tmp_path) -> None:
    path = tmp_path / "one.wav"
    sf.write(path, sine(100, 1.0, SAMPLE_RATE), SAMPLE_RATE)
    with pytest.raises(AudioError, match=r"one\.wav.*past the end"):
        load_prompt(path, start_s=5)
    with pytest.raises(AudioError, match="must be after"):
        load_prompt(path, start_s=0.5, end_s=0.2)
    with pytest.raises(AudioError, match="selected span is too short"):
        load_prompt(path, start_s=0.5, end_s=0.51)


def test_one_sample_file_is_too_short(tmp_path) -> None:
    path = tmp_path / "tiny.wav"
    sf.write(path, np.array([0.25], np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match=r"tiny\.wav: too short: 1 sample"):
        load_prompt(path)
    # A caller that really wants it can lower the minimum.
    np.testing.assert_array_equal(load_prompt(path, min_duration_s=0), [0.25])


def test_silent_file_loads_as_zeros(tmp_path, caplog) -> None:
    path = tmp_path / "silence.flac"
    sf.write(path, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    audio = load_prompt(path)
    assert len(audio) == SAMPLE_RATE and not np.any(audio)
    assert "silent" in caplog.text


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected_with_their_time(tmp_path, bad) -> None:
    data = sine(100, 1.0, SAMPLE_RATE)
    data[22050] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, data, SAMPLE_RATE, subtype="FLOAT")
    kind = "NaN" if np.isnan(bad) else "infinite"
    with pytest.raises(AudioError, match=rf"bad\.wav: contains {kind} samples \(first at 0\.500 s\)"):
        load_prompt(path)


def test_missing_empty_folder_and_garbage(tmp_path) -> None:
    with pytest.raises(AudioError, match=r"nope\.wav: file not found"):
        load_prompt(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        load_prompt(tmp_path)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: file is empty"):
        load_prompt(empty)
    garbage = tmp_path / "notes.mp3"
    garbage.write_bytes(b"these are my lyrics, not audio\n" * 50)
    with pytest.raises(AudioError, match=r"notes\.mp3: cannot be read as audio .*supported formats"):
        load_prompt(garbage)
    assert issubclass(AudioError, ValueError)


def test_zero_frame_file(tmp_path) -> None:
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match=r"zero\.wav: contains no audio"):
        load_prompt(path)


def test_truncated_wav_header_is_an_error(tmp_path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, sine(100, 1.0, SAMPLE_RATE), SAMPLE_RATE)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(AudioError, match=r"cut\.wav: cannot be read as audio"):
        load_prompt(path)


def test_truncated_wav_data_loads_what_is_there(tmp_path) -> None:
    source = sine(100, 1.0, SAMPLE_RATE)
    path = tmp_path / "cut.wav"
    sf.write(path, source, SAMPLE_RATE, subtype="FLOAT")
    data = path.read_bytes()
    header = len(data) - 4 * len(source)  # float WAVs carry a 'fact' chunk, so not always 44 bytes
    path.write_bytes(data[: header + 4 * 30000 + 2])  # header + 30000.5 samples
    audio = load_prompt(path)
    assert len(audio) == 30000
    np.testing.assert_array_equal(audio, source[:30000])


def test_truncated_flac_is_reported_as_damaged(tmp_path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "cut.flac"
    sf.write(path, (0.1 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32), SAMPLE_RATE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.flac: is damaged or truncated: decoding failed near"):
        load_prompt(path)


def test_probe_reports_without_decoding(tmp_path) -> None:
    path = tmp_path / "p.flac"
    sf.write(path, np.zeros((48000, 3), np.float32), 48000)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.frames, info.format) == (48000, 3, 48000, "FLAC")
    assert info.duration_s == 1.0
