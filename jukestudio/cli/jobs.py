"""`jukestudio-cli compose|continue|upsample|resume|export` (filled in by the engine work)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sampling job commands."""
