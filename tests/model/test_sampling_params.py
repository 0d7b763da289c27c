"""The one sampling-parameters record: defaults in one place, passed unchanged down to the logits filter."""

from __future__ import annotations

import pytest
import torch

from jukestudio.model import transformer
from jukestudio.model.sampling_params import DEFAULT_TEMPERATURES, SamplingParams
from jukestudio.project import ProjectSettings
from tests.engine.tiny import tiny_labels, tiny_model


def test_the_record_reaches_the_logits_filter_unchanged(monkeypatch) -> None:
    model = tiny_model()
    params = SamplingParams(temperatures=(0.9, 0.8, 0.7), top_k=7, top_p=0.5, chunk_sizes=(8, 8, 8), seed=3)
    seen = []
    original = transformer.draw_tokens

    def spy(logits, got, level, generator=None):
        seen.append((got, level))
        return original(logits, got, level, generator)

    monkeypatch.setattr(transformer, "draw_tokens", spy)
    codes = model.sample_with(
        [torch.zeros(2, 0, dtype=torch.long) for _ in range(3)], tiny_labels(2), [0], params,
        sample_length=20 * 128, total_length=40 * 128, generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert codes[0].shape == (2, 20)
    assert seen and all(got is params and level == 0 for got, level in seen)


def test_hugging_face_keywords_make_the_same_record() -> None:
    hf = SamplingParams.from_hf_kwargs(3, sampling_temperature=0.5, top_k=2, chunk_size=8, max_batch_size=4)
    assert hf.temperatures == (0.5, *DEFAULT_TEMPERATURES[1:]) and hf.chunk_sizes == (8, 8, 8)
    assert hf.top_k == 2 and hf.max_batch_size == 4
    assert SamplingParams.from_hf_kwargs(1, temp=1.2, chunk_size=None).temperatures == (1.2,)
    assert SamplingParams.from_hf_kwargs(1, chunk_size=None).chunk_size(0) == 0  # the whole context at once


def test_project_settings_build_it_and_share_its_defaults_and_rules() -> None:
    settings = ProjectSettings(top_k=5, top_p=0.25, max_batch=2)
    params = settings.sampling_params(seed=9)
    assert params == SamplingParams(top_k=5, top_p=0.25, max_batch_size=2, lower_batch_size=2, seed=9)
    assert ProjectSettings().sampling_params(0) == SamplingParams()  # the defaults are the record's
    with pytest.raises(ValueError, match="top_p must be between 0 and 1"):
        ProjectSettings(top_p=2.0).validate()
    with pytest.raises(ValueError, match="temperatures must be"):
        ProjectSettings(temperatures=[1.0, 0.0, 1.0]).validate()


def test_job_files_round_trip_and_older_ones_get_defaults() -> None:
    params = SamplingParams(temperatures=(0.9, 0.9, 0.9), top_p=0.3, seed=4)
    assert SamplingParams.from_dict({**params.to_dict(), "levels": [0]}) == params
    old = SamplingParams.from_dict({"temperatures": None, "chunk_size": 8, "top_k": 0, "seed": 2})
    assert old == SamplingParams(chunk_sizes=(8, 8, 8), seed=2)
    with pytest.raises(AttributeError):
        params.top_k = 3  # frozen
