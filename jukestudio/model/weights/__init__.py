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

from jukestudio.model.weights.demo import DEMO_NAME, ensure_demo_model
from jukestudio.model.weights.errors import CheckpointError, UnsafeCheckpointError
from jukestudio.model.weights.loader import load_component, load_into, load_model, release
from jukestudio.model.weights.modules import COMPONENTS
from jukestudio.model.weights.store import (
    ModelInfo,
    StoreError,
    import_model,
    list_models,
    model_info,
    remove_model,
    verify_model,
)

__all__ = [
    "COMPONENTS",
    "DEMO_NAME",
    "CheckpointError",
    "ModelInfo",
    "StoreError",
    "UnsafeCheckpointError",
    "ensure_demo_model",
    "import_model",
    "list_models",
    "load_component",
    "load_into",
    "load_model",
    "model_info",
    "release",
    "remove_model",
    "verify_model",
]
