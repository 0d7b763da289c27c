"""Build the model modules a weights file is checked against and loaded into.

Modules are built on the ``meta`` device (``meta_component``), so checking the key set of a 5B
prior costs no memory. Their state-dict names are Hugging Face 4.40.2's (docs/architecture.md),
which the tests check against transformers itself.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import torch
from torch import nn

from jukestudio.model.config import JukeboxConfig
from jukestudio.model.config_validate import check_component_size
from jukestudio.model.modeling import JukeboxModel
from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.vqvae import JukeboxVQVAE
from jukestudio.model.weights.catalog import COMPONENTS
from jukestudio.model.weights.errors import CheckpointError

log = logging.getLogger(__name__)

Shapes = dict[str, tuple[int, ...]]


def prior_index(component: str) -> int:
    """``prior_0`` → 0 (prior order: 0 = top)."""
    if component not in COMPONENTS[1:]:
        raise ValueError(f"unknown model component {component!r}; known: {', '.join(COMPONENTS)}")
    return int(component.rsplit("_", 1)[1])


def state_prefix(component: str) -> str:
    """Where a component's keys live in the whole model's state dict."""
    return "vqvae." if component == "vqvae" else f"priors.{prior_index(component)}."


def build_component(config: JukeboxConfig, component: str) -> nn.Module:
    if component == "vqvae":
        return JukeboxVQVAE(config.vqvae_config)
    p = prior_index(component)
    return JukeboxPrior(config.prior_configs[p], level=p)


def build_model(config: JukeboxConfig) -> JukeboxModel:
    return JukeboxModel(config)


def component_of(model: nn.Module, component: str) -> nn.Module:
    return model.vqvae if component == "vqvae" else model.priors[prior_index(component)]


def meta_component(config: JukeboxConfig, component: str) -> nn.Module:
    with torch.device("meta"):
        return build_component(config, component)


def meta_model(config: JukeboxConfig) -> nn.Module:
    with torch.device("meta"):
        return build_model(config)


def expected_shapes(config: JukeboxConfig, component: str) -> Shapes:
    """Component-local state-dict names → shapes, from the module tree (no memory used)."""
    return dict(_layout(config.to_json_string(), component)[0])


def tied_names(module: nn.Module) -> dict[str, str]:
    """Parameter names that share another's tensor (``fc_proj_out`` ← ``embed_tokens``): alias → owner."""
    owners: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, param in module.named_parameters(remove_duplicate=False):
        owner = owners.setdefault(id(param), name)
        if owner != name:
            aliases[name] = owner
    return aliases


@functools.lru_cache(maxsize=32)
def _layout(config_json: str, component: str) -> tuple[Shapes, dict[str, str]]:
    """Shapes and tied aliases of a component, cached: building a 5B prior even on meta takes ~0.5 s."""
    module = meta_component(JukeboxConfig.from_dict(json.loads(config_json)), component)
    check_component_size(module, component)  # size known on meta, before any memory is committed
    return {n: tuple(t.shape) for n, t in module.state_dict().items()}, tied_names(module)


def tied_aliases(config: JukeboxConfig, component: str) -> dict[str, str]:
    """``tied_names`` of a component, without building it again."""
    return dict(_layout(config.to_json_string(), component)[1])


def check_state(
    state: dict[str, Any], config: JukeboxConfig, component: str, path: Any, *, module: nn.Module | None = None
) -> None:
    """Raise one CheckpointError listing every missing, unexpected and mis-shaped key.

    A tied alias (``prior.fc_proj_out.weight``) may be absent: it is filled from its owner.
    """
    if module is not None:
        want, aliases = {n: tuple(t.shape) for n, t in module.state_dict().items()}, tied_names(module)
    else:
        want, aliases = _layout(config.to_json_string(), component)
    missing = [k for k in want if k not in state and not (k in aliases and aliases[k] in state)]
    unexpected = [k for k in state if k not in want]
    mismatched = {k: (tuple(v.shape), want[k]) for k, v in state.items() if k in want and tuple(v.shape) != want[k]}
    if missing or unexpected or mismatched:
        raise CheckpointError(
            path,
            f"the weights do not fit the {component} of model {config.name!r}",
            missing=missing,
            unexpected=unexpected,
            mismatched=mismatched,
        )
