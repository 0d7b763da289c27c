"""Load a model (or one part of it) from the store or an HF folder, without doubling its memory.

The module is built on the ``meta`` device (no memory), then each weight is taken from the
memory-mapped safetensors file, cast to the wanted dtype/device only where needed, and put in
place with ``load_state_dict(assign=True)``. A 5B prior therefore never needs twice its size.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from jukestudio import paths
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.modeling import JukeboxModel
from jukestudio.model.weights.bundled import BUNDLED_NAME, ensure_bundled_model
from jukestudio.model.weights.demo import DEMO_NAME, ensure_demo_model
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.hf_format import TensorSource, is_hf_folder, read_hf_folder, shape_view
from jukestudio.model.weights.modules import (
    COMPONENTS,
    check_state,
    component_of,
    meta_component,
    meta_model,
    tied_names,
)
from jukestudio.model.weights.store import _NAME, entry_sources, is_store_entry

log = logging.getLogger(__name__)


def open_weights(name_or_path: str | os.PathLike[str]) -> tuple[JukeboxConfig, dict[str, TensorSource], Path]:
    """(config, per-component sources, where) for a store name, a store folder or an HF folder."""
    text = os.fspath(name_or_path)
    if text == DEMO_NAME and not (paths.model_store_dir() / text).is_dir():
        ensure_demo_model()  # made on first use from a fixed seed; nothing is shipped
    if text == BUNDLED_NAME:
        ensure_bundled_model()  # shipped in the package; (re)installed when missing or outdated
    if _NAME.match(text) and (paths.model_store_dir() / text).is_dir():
        folder = paths.model_store_dir() / text
        config, sources, _ = entry_sources(folder)
        return config, sources, folder
    path = Path(text)
    if is_store_entry(path):
        config, sources, _ = entry_sources(path)
        return config, sources, path
    if is_hf_folder(path):
        config, sources = read_hf_folder(path)
        return config, sources, path
    if path.exists():
        raise CheckpointError(
            path, "is neither a store model nor an HF model folder; import original files first (models import)"
        )
    raise CheckpointError(path, f"no such model in the store ({paths.model_store_dir()}) and no such folder")


def fill_module(
    module: nn.Module,
    source: TensorSource,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
    where: Path | str = "?",
    component: str = "?",
) -> nn.Module:
    """Put the source's tensors into a meta-built module (assign, no second copy); re-tie aliases."""
    aliases = tied_names(module)
    wanted = module.state_dict()
    state: dict[str, torch.Tensor] = {}
    for name, meta_tensor in wanted.items():
        if name in aliases and name not in source:
            continue
        if name not in source:
            raise CheckpointError(where, f"the {component} weights lack {name}", missing=[name])
        tensor = source.get(name)
        target = dtype if dtype is not None and meta_tensor.is_floating_point() else meta_tensor.dtype
        state[name] = tensor.to(device=device, dtype=target)
    module.load_state_dict(state, strict=False, assign=True)
    for alias, owner in aliases.items():
        parent, _, leaf = alias.rpartition(".")
        setattr(module.get_submodule(parent), leaf, module.get_parameter(owner))
    leftover = [n for n, t in itertools.chain(module.named_parameters(), module.named_buffers()) if t.is_meta]
    if leftover:
        raise CheckpointError(where, f"the {component} weights leave tensors unset", missing=leftover)
    module.requires_grad_(False)  # inference only; saves autograd bookkeeping
    return module.eval()


def load_component(
    name_or_path: str | os.PathLike[str],
    component: str,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """One part alone: ``"vqvae"`` → JukeboxVQVAE, ``"prior_0"`` (top) … ``"prior_2"`` → JukeboxPrior."""
    config, sources, where = open_weights(name_or_path)
    source = _source(sources, component, where)
    module = meta_component(config, component)
    check_state(shape_view(source), config, component, where, module=module)
    return fill_module(module, source, device=device, dtype=dtype, where=where, component=component)


def load_model(
    name_or_path: str | os.PathLike[str],
    components: Iterable[str] | None = None,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> JukeboxModel:
    """A JukeboxModel with the chosen parts loaded (default: every part the model has).

    Parts not loaded stay on the ``meta`` device (they use no memory and cannot run);
    ``model.loaded_components`` lists the loaded ones. ``dtype`` casts floating weights
    (default: the module's float32); the stored fp16 matrices are cast on the way in.
    """
    config, sources, where = open_weights(name_or_path)
    chosen = list(components) if components is not None else [c for c in COMPONENTS if c in sources]
    model = meta_model(config)
    model.loaded_components = ()
    _fill_parts(model, config, sources, where, chosen, device, dtype)
    return model.eval()


def load_into(
    model: JukeboxModel,
    name_or_path: str | os.PathLike[str],
    components: Iterable[str],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
) -> JukeboxModel:
    """Load more parts into a model from ``load_model`` (e.g. the upsamplers after the top prior)."""
    config, sources, where = open_weights(name_or_path)
    if config.to_dict() | {"name": None} != model.config.to_dict() | {"name": None}:
        raise CheckpointError(where, "holds a different model than the one to load into")
    _fill_parts(model, config, sources, where, list(components), device, dtype)
    return model


def release(model: JukeboxModel, components: Iterable[str]) -> JukeboxModel:
    """Give a part's memory back: its tensors return to the ``meta`` device (load it again to use it)."""
    for component in components:
        component_of(model, component).to("meta")
    released = set(components)
    model.loaded_components = tuple(c for c in getattr(model, "loaded_components", ()) if c not in released)
    return model


def _fill_parts(
    model: JukeboxModel,
    config: JukeboxConfig,
    sources: dict[str, TensorSource],
    where: Path,
    chosen: list[str],
    device: torch.device | str,
    dtype: torch.dtype | None,
) -> None:
    for component in chosen:
        _source(sources, component, where)
    for component in chosen:
        fresh = meta_component(config, component)  # a part may have been used or released before
        check_state(shape_view(sources[component]), config, component, where, module=fresh)
        fill_module(fresh, sources[component], device=device, dtype=dtype, where=where, component=component)
        if component == "vqvae":
            model.vqvae = fresh
        else:
            model.priors[int(component[-1])] = fresh
    loaded = set(getattr(model, "loaded_components", ())) | set(chosen)
    model.loaded_components = tuple(c for c in COMPONENTS if c in loaded)
    log.info("loaded %s from %s (%s)", ", ".join(chosen), where, dtype or "module dtype")


def _source(sources: dict[str, TensorSource], component: str, where: Path) -> TensorSource:
    if component not in COMPONENTS:
        raise ValueError(f"unknown model component {component!r}; known: {', '.join(COMPONENTS)}")
    if component not in sources:
        present = ", ".join(c for c in COMPONENTS if c in sources) or "none"
        raise CheckpointError(where, f"this model has no {component} (it has: {present})")
    return sources[component]
