"""export_wav: exact read-back per subtype, clipping report, normalisation, sidecar, atomicity."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from jukestudio.audio.export import export_wav, sidecar_path_for


def test_pcm16_reads_back_bit_exactly(tmp_path) -> None:
    rng = np.random.default_rng(0)
    ints = rng.integers(-32768, 32768, 5000).astype(np.int16)
    audio = ints.astype(np.float32) / 32768
    report = export_wav(tmp_path / "a.wav", audio, "PCM_16")
    back, rate = sf.read(tmp_path / "a.wav", dtype="int16")
    np.testing.assert_array_equal(back, ints)
    assert sf.info(tmp_path / "a.wav").subtype == "PCM_16" and rate == 44100
    np.testing.assert_array_equal(sf.read(tmp_path / "a.wav", dtype="float32")[0], audio)
    assert report.clipped_samples == 0 and report.frames == 5000


def test_pcm24_reads_back_bit_exactly(tmp_path) -> None:
    rng = np.random.default_rng(1)
    ints = rng.integers(-(2**23), 2**23, 5000)
    audio = (ints / 2**23).astype(np.float32)  # every 24-bit value is exact in float32
    export_wav(tmp_path / "a.wav", audio, "PCM_24")
    back, _ = sf.read(tmp_path / "a.wav", dtype="int32")
    np.testing.assert_array_equal(back >> 8, ints)
    assert sf.info(tmp_path / "a.wav").subtype == "PCM_24"
    np.testing.assert_array_equal(sf.read(tmp_path / "a.wav", dtype="float32")[0], audio)


def test_float_reads_back_bit_exactly_and_never_clips(tmp_path) -> None:
    rng = np.random.default_rng(2)
    audio = (3 * rng.standard_normal(5000)).astype(np.float32)
    report = export_wav(tmp_path / "a.wav", audio, "FLOAT")
    back, _ = sf.read(tmp_path / "a.wav", dtype="float32")
    np.testing.assert_array_equal(back, audio)
    assert report.clipped_samples == 0


def test_clipping_is_counted_and_clamped(tmp_path) -> None:
    audio = np.array([0.0, 0.5, 1.5, -2.0, 0.999, 1.0, -1.0], np.float32)
    report = export_wav(tmp_path / "c.wav", audio, "PCM_16")
    back, _ = sf.read(tmp_path / "c.wav", dtype="int16")
    # 1.0 → 32768 does not fit either: it is clamped to 32767 and counted; -1.0 → -32768 fits.
    np.testing.assert_array_equal(back, [0, 16384, 32767, -32768, 32735, 32767, -32768])
    assert report.clipped_samples == 3
    assert report.clipped_fraction == pytest.approx(3 / 7)
    assert report.peak == 2.0 and report.peak_dbfs == pytest.approx(6.0206, abs=1e-3)


def test_normalise_puts_the_peak_at_minus_headroom(tmp_path) -> None:
    audio = np.array([0.0, 0.25, -0.5, 2.0], np.float32)
    report = export_wav(tmp_path / "n.wav", audio, "FLOAT", normalise=True, headroom_db=3.0)
    back, _ = sf.read(tmp_path / "n.wav", dtype="float64")
    assert np.max(np.abs(back)) == pytest.approx(10 ** (-3 / 20), rel=1e-6)
    np.testing.assert_allclose(back / back[3], audio / audio[3], rtol=1e-6)
    assert report.gain_db == pytest.approx(-3 - 20 * np.log10(2.0))
    assert export_wav(tmp_path / "m.wav", audio, "PCM_16", normalise=True).clipped_samples == 0


def test_sidecar_has_caller_data_and_format(tmp_path) -> None:
    meta = {
        "model": "5b_lyrics",
        "artist": "Alan Jackson",
        "genres": ["country"],
        "lyrics": "la la",
        "seeds": [7],
        "temperatures": [0.98, 0.99, 0.99],
        "parent_chain": ["t1", "t2"],
        "levels": {"preview": "done", "middle": "done", "full": "done"},
    }
    report = export_wav(tmp_path / "take.wav", np.zeros(441, np.float32), "PCM_24", sidecar=meta)
    side = sidecar_path_for(tmp_path / "take.wav")
    assert side.name == "take.json" and report.sidecar_path == str(side)
    data = json.loads(side.read_text())
    for key, value in meta.items():
        assert data[key] == value
    assert data["audio_file"] == "take.wav"
    assert data["audio_format"] == {
        "container": "WAV",
        "subtype": "PCM_24",
        "sample_rate": 44100,
        "channels": 1,
        "frames": 441,
        "duration_s": 0.01,
    }
    assert data["export"]["clipped_samples"] == 0 and data["export"]["peak_dbfs"] is None


def test_bad_sidecar_writes_nothing(tmp_path) -> None:
    with pytest.raises(ValueError, match="not plain JSON"):
        export_wav(tmp_path / "x.wav", np.zeros(10, np.float32), sidecar={"seed": object()})
    with pytest.raises(ValueError, match="written by export_wav"):
        export_wav(tmp_path / "x.wav", np.zeros(10, np.float32), sidecar={"export": 1})
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="unsupported WAV subtype"):
        export_wav(tmp_path / "x.wav", np.zeros(10, np.float32), "PCM_8")
    with pytest.raises(ValueError, match="NaN"):
        export_wav(tmp_path / "x.wav", np.array([0.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="mono"):
        export_wav(tmp_path / "x.wav", np.zeros((10, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "keep.wav"
    export_wav(target, np.full(100, 0.5, np.float32))
    before = target.read_bytes()

    def broken_write(file, *args, **kwargs):
        with open(file, "wb") as handle:
            handle.write(b"RIFF half")
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        export_wav(target, np.zeros(100, np.float32))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
