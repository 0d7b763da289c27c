"""Typed command-line values: argparse ``type=`` functions that refuse what the engine must not see.

Each raises ``argparse.ArgumentTypeError`` with the allowed range, so the parser prints one line
naming the argument (``--seconds: must be 0.1..3600 seconds, got 1e+308``). Bounds come from
:mod:`jukestudio.limits`. Text arguments are checked for undecodable bytes: the shell hands Python
bytes, which it decodes with ``surrogateescape``, so a Latin-1 byte in ``--lyrics`` becomes a lone
surrogate that would fail much later with a bare "codec error".
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from jukestudio import limits
from jukestudio.fileguard import UnusableFileError, read_small_file


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def seconds(text: str) -> float:
    """A length in seconds: > 0 and at most limits.MAX_SONG_S."""
    value = _number(text)
    if not 0 < value <= limits.MAX_SONG_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {limits.MAX_SONG_S:g} seconds, got {text}")
    return value


def time_point(text: str) -> float:
    """A position in seconds: 0..limits.MAX_SONG_S."""
    value = _number(text)
    if not 0 <= value <= limits.MAX_SONG_S:
        raise argparse.ArgumentTypeError(f"must be a time 0..{limits.MAX_SONG_S:g} seconds, got {text}")
    return value


def _whole(text: str, lo: int, hi: int, what: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"{what} must be {lo}..{hi}, got {text[:40]}")
    return value


def take_count(text: str) -> int:
    return _whole(text, 1, limits.MAX_TAKES, "the number of takes")


def seed(text: str) -> int:
    return _whole(text, 0, limits.MAX_SEED, "the seed")


def threads(text: str) -> int:
    return _whole(text, 1, limits.MAX_THREADS, "the number of threads")


def take_id(text: str) -> str:
    """A take id as the project names its folders: no separators, no '..'."""
    from jukestudio.project.takes import check_take_id

    try:
        return check_take_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_text(value: str, what: str, max_chars: int) -> str:
    """Refuse lone surrogates (undecodable bytes) and absurd lengths; the message says where."""
    if len(value) > max_chars:
        raise ValueError(f"{what} is {len(value):,} characters long (at most {max_chars:,})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        shown = f"byte 0x{ord(bad) - 0xDC00:02x}" if 0xDC80 <= ord(bad) <= 0xDCFF else f"U+{ord(bad):04X}"
        context = value[max(0, exc.start - 20) : exc.start].encode("utf-8", "replace").decode("utf-8")
        raise ValueError(
            f"{what} is not valid UTF-8 text: {shown} at character {exc.start + 1} (after {context!r}); "
            "save or pass it as UTF-8"
        ) from None
    return value


def text(max_chars: int = limits.MAX_TEXT_CHARS, what: str = "the text"):
    """An argparse type for free text (artist, genre, lyrics)."""

    def parse(value: str) -> str:
        try:
            return check_text(value, what, max_chars)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def read_lyrics_file(path: Path) -> str:
    """A UTF-8 lyrics file; its problems are named with the file (not a bare codec error)."""
    try:
        raw = read_small_file(path, 4 * limits.MAX_LYRICS_CHARS, "lyrics file")
    except UnusableFileError as exc:
        raise ValueError(f"--lyrics-file {exc}") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"--lyrics-file {path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    return check_text(content, f"--lyrics-file {path}", limits.MAX_LYRICS_CHARS)
