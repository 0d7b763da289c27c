"""A tiny Jukebox repo laid out like openai/jukebox-1b-lyrics, served by a stand-in hub on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ORIG_TINY
from tests.hub.fake_hub import FakeHub, build_tiny_repo

REPO_ID = "tiny/jukebox"


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_repo(ORIG_TINY / "tiny" / "hf_model", tmp_path_factory.mktemp("repo") / "jukebox")


@pytest.fixture
def hub(tiny_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved token of the machine's user
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with FakeHub({REPO_ID: tiny_repo}) as server:
        yield server
