"""Hugging Face transformers 4.40.2 models built from OUR configs: the numerical oracle for parity tests.

Import only from tests that first call ``pytest.importorskip("transformers")``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from jukestudio.model.config import JukeboxVQVAEConfig


def hf_vqvae_config(config: JukeboxVQVAEConfig) -> Any:
    """``transformers.JukeboxVQVAEConfig`` with our values (the keys HF's constructor knows)."""
    import transformers

    known = set(inspect.signature(transformers.JukeboxVQVAEConfig.__init__).parameters) - {"self", "kwargs"}
    values = {key: value for key, value in config.to_dict().items() if key in known}
    return transformers.JukeboxVQVAEConfig(**values)


def hf_vqvae_from(config: JukeboxVQVAEConfig, state_dict: dict[str, torch.Tensor] | None = None) -> Any:
    """An HF ``JukeboxVQVAE`` (eval mode) with our config's values; loads ``state_dict`` strictly if given."""
    import transformers

    model = transformers.JukeboxVQVAE(hf_vqvae_config(config)).eval()
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return model
