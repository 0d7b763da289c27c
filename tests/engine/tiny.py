"""The tiny fixture model for engine tests (CPU, seconds).

Uses jukestudio's own priors when they exist; until then Hugging Face's JukeboxPrior (mask=True)
wrapped so it honours the ``generator``/``on_step`` contract of ``JukeboxPrior.sample``.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from jukestudio.model.config import JukeboxConfig
from jukestudio.model.modeling import JukeboxModel
from tests.conftest import ORIG_TINY

TINY_HF = ORIG_TINY / "tiny" / "hf_model"


class HFPriorStandIn(nn.Module):
    """HF's prior with our sample() contract: the generator drives a forked global RNG per call."""

    def __init__(self, prior: nn.Module) -> None:
        super().__init__()
        self.inner = prior

    def get_metadata(self, labels: torch.Tensor, start: int, total_length: int, offset: int = 0) -> torch.Tensor:
        return self.inner.get_metadata(labels, start, total_length, offset // self.inner.raw_to_tokens)

    def sample(self, n_samples: int, generator: torch.Generator | None = None, on_step: Any = None, **kw: Any):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator)) if generator is not None else 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = self.inner.sample(n_samples, **kw)
        if on_step is not None:
            new = out.shape[1] - kw["music_tokens"].shape[1]
            for i in range(1, new + 1):
                on_step(i, new)
        return out


def _ours_available() -> bool:
    try:
        import jukestudio.model.prior  # noqa: F401
        from jukestudio.model.weights.loader import load_model  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _hf_model() -> Any:
    import logging

    from transformers import JukeboxModel as HFModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    model = HFModel.from_pretrained(TINY_HF).eval()
    for prior in model.priors:
        prior.config.mask = True
    return model


def tiny_model() -> JukeboxModel:
    """A fresh JukeboxModel with the tiny fixture weights."""
    if _ours_available():
        from jukestudio.model.weights.loader import load_model

        return load_model(str(TINY_HF)).eval()
    hf = _hf_model()
    config = JukeboxConfig.from_pretrained(TINY_HF)
    return JukeboxModel(config, vqvae=hf.vqvae, priors=[HFPriorStandIn(p) for p in hf.priors]).eval()


def tiny_labels(n: int = 1) -> list[torch.Tensor]:
    """Tokenizer rows (prior order) for one artist/genre/lyrics, as in the fixture's reference."""
    from safetensors.torch import load_file

    ref = load_file(str(ORIG_TINY / "tiny" / "reference.safetensors"))
    top = ref["prior0.labels"]
    low = torch.tensor([[0, 0, 0, 1069, 11]])
    return [t.repeat(n, 1) for t in (top, low, low)]
