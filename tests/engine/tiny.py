"""The tiny fixture model for engine and model tests (CPU, seconds), loaded through our own loader."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import torch

from jukestudio.model.modeling import JukeboxModel
from jukestudio.project import Project, ProjectSettings
from tests.conftest import ORIG_TINY

TINY_HF = ORIG_TINY / "tiny" / "hf_model"


def tiny_model() -> JukeboxModel:
    """A fresh JukeboxModel with the tiny fixture weights (HF folder → our modules)."""
    from jukestudio.model.weights.loader import load_model

    return load_model(str(TINY_HF)).eval()


@functools.lru_cache(maxsize=1)
def hf_model() -> Any:
    """transformers 4.40.2's JukeboxModel on the same weights (the oracle), causal masks on."""
    from transformers import JukeboxModel as HFModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    model = HFModel.from_pretrained(TINY_HF).eval()
    for prior in model.priors:
        prior.config.mask = True
    return model


def tiny_labels(n: int = 1) -> list[torch.Tensor]:
    """Tokenizer rows (prior order) for one artist/genre/lyrics, as in the fixture's reference."""
    from safetensors.torch import load_file

    ref = load_file(str(ORIG_TINY / "tiny" / "reference.safetensors"))
    top = ref["prior0.labels"]
    low = torch.tensor([[0, 0, 0, 1069, 11]])
    return [t.repeat(n, 1) for t in (top, low, low)]


def tiny_project(folder: Path, **changes: Any) -> Project:
    """A new project at ``folder`` on the tiny fixture model: two short takes, chunks of 8 tokens;
    ``changes`` replace settings (take length, seed, lyrics…)."""
    settings = dict(
        model=str(TINY_HF), artist="Zac Brown Band", genres=["Country"], lyrics="I met a traveller",
        total_length_s=0.9, take_length_s=0.06, n_takes=2, seed=11, chunk_sizes=[8, 8, 8], max_batch=2,
    )  # fmt: skip
    return Project.create(folder, ProjectSettings(**{**settings, **changes}))
