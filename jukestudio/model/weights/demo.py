"""The demo model: a small, untrained Jukebox made on first use, so every workflow can be tried
without downloading gigabytes. Its weights are random but deterministic (fixed seed), so two
machines make the same file; it produces noise and is flagged ``untrained`` everywhere.
"""

from __future__ import annotations

import logging

import torch

from jukestudio.model.config import preset
from jukestudio.model.weights.catalog import DEMO_NAME
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.modules import COMPONENTS, build_model, component_of
from jukestudio.model.weights.store import ModelInfo, Progress, StoreError, model_info, write_entry_from_states

log = logging.getLogger(__name__)

DEMO_SEED = 20200430  # the day Jukebox was announced


def build_demo_states(seed: int = DEMO_SEED) -> dict[str, dict[str, torch.Tensor]]:
    """Per-component state dicts of the demo model, from a generator seeded with ``seed``."""
    config = preset("demo")
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        model = build_model(config)
        generator = torch.Generator().manual_seed(seed)
        for component in COMPONENTS:
            module = component_of(model, component)
            if hasattr(module, "init_weights"):
                module.init_weights(generator)
    return {c: {k: v.detach().clone() for k, v in component_of(model, c).state_dict().items()} for c in COMPONENTS}


def ensure_demo_model(progress: Progress | None = None) -> ModelInfo:
    """The store entry "demo", created on first use (a second call only reads its manifest)."""
    try:
        info = model_info(DEMO_NAME)
        if info.problem is None and info.complete:
            return info
        log.warning("the demo model entry is damaged (%s); making it again", info.problem or "parts missing")
    except StoreError:
        pass
    report = progress or (lambda fraction, message: None)
    report(0.0, "making the demo model")
    config = preset("demo")
    try:
        return write_entry_from_states(
            DEMO_NAME, config, build_demo_states(), preset_name="demo", untrained=True, progress=report
        )
    except CheckpointError:  # the demo preset and the model classes disagree: a programming error
        log.exception("could not make the demo model")
        raise
