"""Fixtures shared by the engine tests: the tiny fixture model, sampled on one thread, and a project on it."""

from __future__ import annotations

import pytest
import torch

from tests.engine.tiny import tiny_model, tiny_project


@pytest.fixture(autouse=True)
def one_thread():
    # tiny matrices: one thread avoids thread hand-offs that dominate on a busy 2-core machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture
def project(tmp_path):
    return tiny_project(tmp_path / "song")
