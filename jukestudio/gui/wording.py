"""One musician-facing vocabulary for the window: quality levels, bit depths, job kinds.

Technical names (prior levels, soundfile subtypes, engine ids) stay in tooltips and logs.
"""

from __future__ import annotations

QUALITY = {0: "Preview", 1: "Middle", 2: "Full quality"}  # by prior level (0 = top prior, hop 128)
QUALITY_DETAIL = {
    0: "Preview: the top prior (coarse, 1 token per 128 samples)",
    1: "Middle: the middle upsampler (1 token per 32 samples)",
    2: "Full quality: the bottom upsampler (1 token per 8 samples)",
}
TEMPERATURE_LABELS = {0: "Preview", 1: "Middle", 2: "Full"}  # short, beside the spin boxes
BIT_DEPTHS = (("16-bit", "PCM_16"), ("24-bit", "PCM_24"), ("32-bit float", "FLOAT"))
KIND_NAMES = {"compose": "Compose", "continue": "Continue", "upsample": "Upsample", "preview": "Preview decode"}


def quality(level: int | None) -> str:
    return QUALITY.get(level, "—") if level is not None else "—"


def bit_depth(subtype: str) -> str:
    """``"PCM_16"`` → ``"16-bit"`` (unknown subtypes are shown as they are)."""
    return next((label for label, value in BIT_DEPTHS if value == subtype), subtype)
