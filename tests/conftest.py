"""Shared test set-up: every test gets its own jukestudio home, Qt runs offscreen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep CPU tests deterministic and polite on the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "2")

FIXTURES = Path(__file__).parent / "fixtures"
ORIG_TINY = FIXTURES / "orig_tiny"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point settings, model store, projects and logs at a fresh folder for each test."""
    home = tmp_path_factory.mktemp("jukestudio-home")
    monkeypatch.setenv("JUKESTUDIO_HOME", str(home))
    return home


@pytest.fixture
def jukestudio_home(_isolated_home: Path) -> Path:
    return _isolated_home
