"""Bounds of the project's hand-editable values (settings in project.json / take.json), beyond their types.

``ProjectSettings.validate`` checks types and signs; this adds the upper bounds of
:mod:`jukestudio.limits` (a ``total_length_s`` of 1e308 overflows the timing labels) and text that
cannot be encoded (lone surrogates from undecodable bytes), so every message names the field.
"""

from __future__ import annotations

import math
from typing import Any

from jukestudio import limits


def _text_problem(name: str, value: Any, max_chars: int) -> str | None:
    if not isinstance(value, str):
        return None  # the type check reports it
    if len(value) > max_chars:
        return f"{name} is {len(value):,} characters long (at most {max_chars:,})"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        return f"{name} holds an unencodable character U+{code:04X} at {exc.start + 1} (not UTF-8 text)"
    return None


def _over(name: str, value: Any, hi: float, unit: str = "") -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > hi:
        return f"{name} must be at most {hi:g}{unit}, got {value:g}"
    return None


def settings_problems(settings: Any) -> list[str]:
    """What is out of bounds in a ProjectSettings (its types are checked by its own validate)."""
    found = [
        _text_problem("artist", settings.artist, limits.MAX_TEXT_CHARS),
        _text_problem("lyrics", settings.lyrics, limits.MAX_LYRICS_CHARS),
        _text_problem("model", settings.model, limits.MAX_TEXT_CHARS),
        _over("total_length_s", settings.total_length_s, limits.MAX_SONG_S, " s"),
        _over("take_length_s", settings.take_length_s, limits.MAX_SONG_S, " s"),
        _over("top_k", settings.top_k, limits.MAX_VOCAB),
        _over("max_batch", settings.max_batch, limits.MAX_TAKES),
    ]
    if isinstance(settings.genres, list):
        if len(settings.genres) > limits.MAX_GENRES:
            found.append(f"genres lists {len(settings.genres)} (at most {limits.MAX_GENRES})")
        found += [_text_problem(f"genres[{i}]", g, limits.MAX_TEXT_CHARS) for i, g in enumerate(settings.genres[:100])]
    if isinstance(settings.temperatures, list):
        found += [_over(f"temperatures[{i}]", t, 100.0) for i, t in enumerate(settings.temperatures[:10])]
    if isinstance(settings.chunk_sizes, list):
        found += [_over(f"chunk_sizes[{i}]", c, limits.MAX_CTX) for i, c in enumerate(settings.chunk_sizes[:10])]
    return [f for f in found if f]
