"""The three quality levels in the musician's words: one vocabulary for the window, the CLI and files.

Prior order (Hugging Face's, ``model.priors[p]``): 0 = top prior (hop 128) makes the **Preview**,
1 = the middle upsampler (hop 32) the **Middle** quality, 2 = the bottom upsampler (hop 8) the
**Full** quality. Files (take.json status, sidecars) and CLI arguments use the lower-case keys; the
numeric index stays only where the Hugging Face API needs it (``music_tokens`` lists, ``priors``).
"""

from __future__ import annotations

LEVEL_KEYS = ("preview", "middle", "full")
LEVEL_LABELS = ("Preview", "Middle", "Full")
OLD_KEYS = {"coarse": "preview", "level1": "middle"}
"""take.json status keys written before this vocabulary (still read)."""


def level_label(prior_level: int) -> str:
    """ "Preview quality", "Middle quality", "Full quality"."""
    return f"{LEVEL_LABELS[prior_level]} quality"


def level_key(prior_level: int) -> str:
    return LEVEL_KEYS[prior_level]


def parse_level(text: str) -> int:
    """A level name ("preview", "Middle", "full quality") → prior index; ValueError naming the choices."""
    key = text.strip().lower().removesuffix(" quality").strip()
    key = OLD_KEYS.get(key, key)
    if key in LEVEL_KEYS:
        return LEVEL_KEYS.index(key)
    hint = ""
    if key.isdigit():
        # numbers are ambiguous: the original counts levels bottom-up (0 = full), Hugging Face top-down
        hint = " (numbers are ambiguous between the original's and Hugging Face's level order)"
    raise ValueError(f"unknown level {text!r}: choose {', '.join(LEVEL_KEYS)}{hint}")


def parse_levels(text: str) -> tuple[int, ...]:
    """ "middle,full" → (1, 2) (sorted, each once)."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"no level given: choose from {', '.join(LEVEL_KEYS)}")
    return tuple(sorted({parse_level(p) for p in parts}))
