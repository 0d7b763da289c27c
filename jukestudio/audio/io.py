"""Reading audio files the user drops in: any format libsndfile reads → float32 mono at 44.1 kHz.

Files are read block by block and only over the requested span, so a two-hour recording used as a
ten-second prompt costs ten seconds of decoding, not two hours of memory.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from jukestudio import limits
from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.audio.errors import AudioError
from jukestudio.fileguard import UnusableFileError, check_regular_file, open_regular

log = logging.getLogger(__name__)

BLOCK_FRAMES = 1 << 16
"""Frames decoded per read; bounds the memory used for everything but the result itself."""

MIN_PROMPT_S = 0.1
"""Shorter prompts carry no musical context; callers may lower it."""

SUPPORTED = "WAV, FLAC, OGG/Vorbis, MP3, AIFF"


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _libsndfile_reason(exc: Exception) -> str:
    reason = getattr(exc, "error_string", None) or str(exc)
    return reason.strip().rstrip(".")


def _open(path: Path) -> sf.SoundFile:
    try:  # stat and a non-blocking open first: FIFOs, devices and unreadable files get their own reason
        info = check_regular_file(path)
        os.close(open_regular(path))
    except UnusableFileError as exc:
        problem = "file not found" if "does not exist" in exc.problem else exc.problem
        raise AudioError(path, problem) from None
    if info.st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    if not _looks_like_audio(path):  # spares the user a decoder's own stderr chatter about garbage
        raise AudioError(
            path, f"cannot be read as audio (its content is no audio format it knows); supported formats: {SUPPORTED}"
        )
    try:
        return sf.SoundFile(path)
    except sf.LibsndfileError as exc:
        reason = _libsndfile_reason(exc)
        if "does not exist" in reason or "not a regular file" in reason or "Format not recognised" in reason:
            reason = "not audio in a format it knows; the content does not match its name"  # the file is there
        raise AudioError(path, f"cannot be read as audio ({reason}); supported formats: {SUPPORTED}") from exc
    except (RuntimeError, TypeError, OSError) as exc:
        raise AudioError(path, f"cannot be opened ({exc})") from exc


_MAGICS = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b"ID3", b"caff", b".snd", b"riff", b"wvpk", b"BW64")


def _looks_like_audio(path: Path) -> bool:
    """The first bytes of a container libsndfile reads, or an MPEG audio frame (MP3 without ID3 tag)."""
    fd = open_regular(path)
    try:
        head = os.read(fd, 4)
    finally:
        os.close(fd)
    return head.startswith(_MAGICS) or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Format, rate, channels and length of an audio file, without decoding its samples."""
    path = Path(path)
    with _open(path) as f:
        return AudioInfo(path, int(f.samplerate), int(f.channels), int(f.frames), f.format, f.subtype)


def _span(
    path: Path, info: AudioInfo, start_s: float | None, end_s: float | None, max_duration_s: float | None
) -> tuple[int, int]:
    """First frame and frame count to read, in the file's own sample rate."""
    start_s = 0.0 if start_s is None else float(start_s)
    if not np.isfinite(start_s) or start_s < 0:
        raise AudioError(path, f"trim start must be a time ≥ 0 s, got {start_s}")
    if start_s >= info.duration_s:
        raise AudioError(
            path, f"trim start {start_s:.3f} s is at or past the end of the file ({info.duration_s:.3f} s)"
        )
    if end_s is not None:
        end_s = float(end_s)
        if not np.isfinite(end_s) or end_s <= start_s:
            raise AudioError(path, f"trim end {end_s} s must be after trim start {start_s:.3f} s")
    first = round(start_s * info.sample_rate)
    last = info.frames if end_s is None else min(info.frames, round(end_s * info.sample_rate))
    if max_duration_s is not None:
        last = min(last, first + round(max_duration_s * info.sample_rate))
    return first, max(0, last - first)


def load_prompt(
    path: str | os.PathLike[str],
    start_s: float | None = None,
    end_s: float | None = None,
    *,
    min_duration_s: float = MIN_PROMPT_S,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Decode ``path`` (optionally only ``start_s``..``end_s``) to float32 mono at 44.1 kHz.

    Channels are averaged, then soxr resamples at high quality. ``max_duration_s`` caps how much is
    read from ``start_s`` on. Raises :class:`AudioError` (a ``ValueError``) naming the file for missing,
    empty, corrupt, truncated, unsupported or too-short files and for NaN/inf samples.
    """
    path = Path(path)
    with _open(path) as f:
        info = AudioInfo(path, int(f.samplerate), int(f.channels), int(f.frames), f.format, f.subtype)
        if not 0 < info.channels <= limits.MAX_AUDIO_CHANNELS or not 0 < info.sample_rate <= limits.MAX_SAMPLE_RATE:
            raise AudioError(path, f"{info.channels} channels at {info.sample_rate} Hz is not audio jukestudio can use")
        if info.frames <= 0:
            raise AudioError(path, "contains no audio (0 frames)")
        if info.duration_s < min_duration_s:
            raise AudioError(path, _too_short(info.frames, info.sample_rate, min_duration_s))
        first, count = _span(path, info, start_s, end_s, max_duration_s)
        if count / info.sample_rate < min_duration_s:
            raise AudioError(path, "selected span is " + _too_short(count, info.sample_rate, min_duration_s))
        if first:
            try:
                f.seek(first)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(path, f"cannot seek to {first / info.sample_rate:.3f} s ({exc})") from exc
        audio = _read_mono_resampled(f, path, info, first, count)
    if audio.size < max(1, int(min_duration_s * SAMPLE_RATE)):
        raise AudioError(path, "decodes to " + _too_short(audio.size, SAMPLE_RATE, min_duration_s))
    if not np.any(audio):
        log.warning("%s: the selected audio is completely silent", path)
    return audio


def _too_short(frames: int, rate: int, min_duration_s: float) -> str:
    unit = "sample" if frames == 1 else "samples"
    return f"too short: {frames} {unit} ({frames / rate:.5f} s at {rate} Hz); at least {min_duration_s:g} s is needed"


def _read_mono_resampled(f: sf.SoundFile, path: Path, info: AudioInfo, first: int, count: int) -> np.ndarray:
    resampler = None
    if info.sample_rate != SAMPLE_RATE:
        resampler = soxr.ResampleStream(info.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    pieces: list[np.ndarray] = []
    done = 0
    while done < count:
        try:
            block = f.read(min(BLOCK_FRAMES, count - done), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            at = (first + done) / info.sample_rate
            raise AudioError(
                path, f"is damaged or truncated: decoding failed near {at:.2f} s ({_libsndfile_reason(exc)})"
            ) from exc
        if len(block) == 0:
            log.warning(
                "%s: header promises %d frames but the data stops after %d; using what is there",
                path,
                count,
                done,
            )
            break
        if not np.isfinite(block).all():
            bad = int(np.argmin(np.isfinite(block).all(axis=1)))
            kind = "NaN" if np.isnan(block[bad]).any() else "infinite"
            at = (first + done + bad) / info.sample_rate
            raise AudioError(path, f"contains {kind} samples (first at {at:.3f} s); the file is not usable audio")
        mono = block[:, 0] if info.channels == 1 else block.mean(axis=1, dtype=np.float32)
        done += len(block)
        pieces.append(resampler.resample_chunk(mono) if resampler is not None else mono)
    if resampler is not None:
        pieces.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(pieces), dtype=np.float32)
