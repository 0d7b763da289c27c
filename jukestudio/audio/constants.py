"""Audio format used everywhere inside jukestudio: Jukebox works on 44.1 kHz mono float32."""

from __future__ import annotations

SAMPLE_RATE = 44100
"""Samples per second of every array the app passes around (prompts, previews, exports)."""

DTYPE = "float32"
