"""Hostile audio files as prompts: each decoded in a forked child (timeout, peak RSS), refused with an
AudioError naming the file, the file unchanged; a 30-minute prompt decodes only the span it needs."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from jukestudio import limits
from jukestudio.audio.errors import AudioError
from jukestudio.audio.io import load_prompt
from jukestudio.cli.main import main
from tests.hostile.forked import RSS_BOUND_MB, Tally, parent_rss_mb, run_forked

NOBODY = 65534


def _wav(path: Path, seconds: float = 1.0, rate: int = 44100, channels: int = 1, subtype: str = "PCM_16") -> None:
    t = np.arange(int(seconds * rate)) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * channels, axis=1)
    sf.write(path, data, rate, subtype=subtype)


def _patched_header(offset: int, fmt: str, value: int) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        _wav(path)
        raw = bytearray(path.read_bytes())
        raw[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
        path.write_bytes(bytes(raw))

    return build


def _nan_wav(path: Path) -> None:
    data = np.zeros(44100, dtype=np.float32)
    data[1000] = np.nan
    sf.write(path, data, 44100, subtype="FLOAT")


CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "random-bytes-mp3": ("song.mp3", lambda p: p.write_bytes(random.Random(1).randbytes(8192))),
    "random-bytes-wav": ("song.wav", lambda p: p.write_bytes(random.Random(2).randbytes(8192))),
    "random-bytes-flac": ("song.flac", lambda p: p.write_bytes(b"fLaC" + random.Random(3).randbytes(4096))),
    "text-as-ogg": ("song.ogg", lambda p: p.write_text("not audio at all\n")),
    "empty": ("song.wav", lambda p: p.write_bytes(b"")),
    "fifo": ("song.wav", lambda p: os.mkfifo(p)),
    "char-device": ("song.wav", lambda p: p.symlink_to("/dev/zero")),
    "folder": ("song.wav", lambda p: p.mkdir()),
    "missing": ("song.wav", lambda p: None),
    "header-only": ("song.wav", lambda p: (_wav(p), p.write_bytes(p.read_bytes()[:44]))),
    "truncated-header": ("song.wav", lambda p: (_wav(p), p.write_bytes(p.read_bytes()[:20]))),
    "rate-4e9": ("song.wav", _patched_header(24, "<I", 4_000_000_000)),
    "rate-0": ("song.wav", _patched_header(24, "<I", 0)),
    "channels-0": ("song.wav", _patched_header(22, "<H", 0)),
    "channels-1000": ("song.wav", _patched_header(22, "<H", 1000)),
    "nan-samples": ("song.wav", _nan_wav),
    "one-sample": ("song.wav", lambda p: sf.write(p, np.zeros(1), 44100)),
}


def _digest(path: Path) -> str:
    if path.is_file() and not path.is_symlink():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return "special" if path.exists() or path.is_symlink() else "missing"


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_audio_is_refused_with_the_file_named(name: str, tmp_path: Path) -> None:
    filename, build = CASES[name]
    path = tmp_path / filename
    build(path)
    before = _digest(path)
    outcome = run_forked(lambda: load_prompt(path, max_duration_s=limits.MAX_PROMPT_S).shape, timeout=60)
    growth = outcome.peak_rss_mb - parent_rss_mb()
    clean = outcome.raised("AudioError") and str(path) in outcome.message and growth < RSS_BOUND_MB
    clean = clean and "\n" not in outcome.message and _digest(path) == before
    Tally.add("audio", clean, outcome.peak_rss_mb, name)
    assert outcome.raised("AudioError"), f"{name}: {outcome.kind} {outcome.exc_type}: {outcome.message}"
    assert str(path) in outcome.message and "\n" not in outcome.message
    assert growth < RSS_BOUND_MB
    assert _digest(path) == before


def test_random_bytes_named_mp3_are_not_called_missing(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(AudioError) as info:
        load_prompt(path)
    assert "does not exist" not in str(info.value) and "not a regular file" not in str(info.value)
    assert "format" in str(info.value)


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    _wav(path)
    path.chmod(0)

    def as_another_user() -> str:
        if os.geteuid() == 0:
            os.setuid(NOBODY)  # root reads everything; the forked child drops to nobody
        try:
            load_prompt(path)
        except AudioError as exc:
            return str(exc)
        return "read"

    tmp_path.chmod(0o755)
    outcome = run_forked(as_another_user, timeout=30)
    Tally.add("audio", outcome.kind == "ok" and "permission denied" in str(outcome.value))
    assert outcome.kind == "ok", outcome.message
    assert str(path) in outcome.value and "permission denied" in outcome.value


def test_a_header_claiming_more_frames_than_the_file_holds_reads_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    _patched_header(40, "<I", 0xFFFFFFF0)(path)
    outcome = run_forked(lambda: load_prompt(path, max_duration_s=limits.MAX_PROMPT_S).shape, timeout=60)
    Tally.add("audio", outcome.kind == "ok" and outcome.value == (44100,), outcome.peak_rss_mb, "claims 1e9 frames")
    assert outcome.kind == "ok" and outcome.value == (44100,), outcome


def test_a_30_minute_prompt_decodes_only_the_span_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    rate = 8000  # 30 minutes of 8-bit 8 kHz: a 14 MB file, 317 MB once decoded whole at 44.1 kHz float32
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_U8") as f:
        block = (0.3 * np.sin(np.arange(rate * 60) * 0.05)).astype(np.float32)
        for _ in range(30):
            f.write(block)
    outcome = run_forked(lambda: load_prompt(path, max_duration_s=limits.MAX_PROMPT_S).shape, timeout=60)
    growth = outcome.peak_rss_mb - parent_rss_mb()
    Tally.add("audio", outcome.kind == "ok" and growth < 150, outcome.peak_rss_mb, "30-minute prompt")
    assert outcome.kind == "ok", outcome.message
    assert outcome.value == (round(limits.MAX_PROMPT_S * 44100),)
    assert growth < 150, f"decoding the prompt grew RSS by {growth:.0f} MB"


@pytest.mark.parametrize("name", ["random-bytes-mp3", "fifo", "text-as-ogg"])
def test_cli_prompt_errors_are_one_line(name: str, tmp_path: Path) -> None:
    filename, build = CASES[name]
    path = tmp_path / filename
    build(path)

    def run() -> tuple[int, str]:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["compose", str(tmp_path / "song"), "--model", "no-such-model", "--prompt", str(path)])
        return code, err.getvalue()

    outcome = run_forked(run, timeout=60)
    code, err = outcome.value
    Tally.add("audio (CLI)", code == 2 and err.count("\n") == 1)
    assert code == 2 and err.startswith("error: ") and str(path) in err and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "song").exists(), "a refused prompt left a new project behind"
