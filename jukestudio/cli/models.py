"""`jukestudio-cli models ...`: the model store (filled in by the weights work)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `models` command group."""
