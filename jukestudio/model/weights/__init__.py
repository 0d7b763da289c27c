"""Model weights: safe reading of the published formats, the model store, loading.

Public entry points (everything else is an implementation detail):

* ``import_model(paths, name=None, progress=None, expect=None, overwrite=False)`` — an HF folder or
  the original ``.pth.tar`` files → a store entry (``progress(fraction, message)`` may raise to cancel);
* ``list_models()``, ``model_info(name)``, ``verify_model(name)``, ``remove_model(name)``;
* ``load_model(name_or_path, components=None, device="cpu", dtype=None)`` → ``JukeboxModel``;
  ``load_component(name_or_path, "prior_0", ...)`` → one ``JukeboxPrior`` / ``JukeboxVQVAE``;
  ``load_into(model, name_or_path, ["prior_1"])`` / ``release(model, ["prior_0"])`` swap parts in
  and out of memory (parts not loaded sit on the ``meta`` device);
* ``ensure_demo_model()`` — the untrained "demo" entry, made on first use;
* ``CheckpointError`` (bad weights, names the file), ``StoreError`` (bad store operation).

Component names: ``vqvae``, ``prior_0`` (top), ``prior_1`` (middle), ``prior_2`` (bottom).
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562): the loaders import torch, which takes seconds; the catalog does not.
_HOMES = {
    "COMPONENTS": "catalog",
    "DEMO_NAME": "catalog",
    "ModelInfo": "catalog",
    "StoreError": "catalog",
    "list_models": "catalog",
    "model_info": "catalog",
    "CheckpointError": "errors",
    "UnsafeCheckpointError": "errors",
    "ensure_demo_model": "demo",
    "load_component": "loader",
    "load_into": "loader",
    "load_model": "loader",
    "release": "loader",
    "import_model": "store",
    "remove_model": "store",
    "verify_model": "store",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
