"""The model store: import → list → verify → load, partial entries, tampering, the demo model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from jukestudio import paths
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.modeling import JukeboxModel
from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.weights.demo import DEMO_NAME, ensure_demo_model
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.loader import load_component, load_into, load_model, release
from jukestudio.model.weights.modules import COMPONENTS
from jukestudio.model.weights.store import StoreError, import_model, list_models, remove_model, verify_model
from tests.conftest import ORIG_TINY

TINY_ORIG = ORIG_TINY / "tiny" / "orig"
TINY_HF = ORIG_TINY / "tiny" / "hf_model"


def test_import_list_verify_load_round_trip() -> None:
    calls: list[tuple[float, str]] = []
    info = import_model([TINY_ORIG], name="tiny", progress=lambda f, m: calls.append((f, m)))
    assert info.components == COMPONENTS and info.complete and not info.untrained
    assert [m.name for m in list_models()] == ["tiny"]
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)

    folder = paths.model_store_dir() / "tiny"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["components"]) == set(COMPONENTS)
    assert manifest["dtype"] == "float16+float32"  # the bottom upsampler keeps its fp16 matrices
    assert manifest["components"]["prior_2"]["sources"] == [str((TINY_ORIG / "prior_level_0.pth.tar").resolve())]
    assert (
        JukeboxConfig.from_json_file(folder / "config.json").to_dict()
        == JukeboxConfig.from_dict(json.loads((folder / "config.json").read_text())).to_dict()
    )
    with safe_open(str(folder / "prior_0.safetensors"), "pt") as handle:  # readable by the reference library
        assert "prior.fc_proj_out.weight" not in handle.keys()  # noqa: SIM118 - tied: stored once

    assert verify_model("tiny") == []
    model = load_model("tiny")
    assert isinstance(model, JukeboxModel) and model.loaded_components == COMPONENTS
    reference = load_file(str(TINY_HF / "model.safetensors"))
    state = model.state_dict()
    for key, value in reference.items():
        stored_fp16 = key.startswith("priors.2.prior.transformer") and key.endswith("weight") and value.dim() == 2
        expected = value.half().float() if stored_fp16 else value
        assert torch.equal(state[key], expected), key


def test_hf_folder_import_keeps_exact_weights() -> None:
    import_model([TINY_HF], name="tiny-hf")
    reference = load_file(str(TINY_HF / "model.safetensors"))
    state = load_model("tiny-hf").state_dict()
    assert all(torch.equal(state[k], v) for k, v in reference.items())


def test_partial_entry_loads_only_what_it_has() -> None:
    info = import_model([TINY_ORIG / "prior_level_2.pth.tar"], name="top-only")
    assert info.components == ("prior_0",) and not info.complete
    assert verify_model("top-only") == []
    model = load_model("top-only")
    assert model.loaded_components == ("prior_0",)
    assert model.vqvae.bottleneck.level_blocks[0].codebook.is_meta  # not loaded: no memory used
    assert not any(p.is_meta for p in model.priors[0].parameters())
    with pytest.raises(CheckpointError, match="has no prior_1 \\(it has: prior_0\\)"):
        load_model("top-only", components=["prior_1"])


def test_one_component_loads_alone_in_the_wanted_dtype() -> None:
    import_model([TINY_ORIG], name="tiny")
    prior = load_component("tiny", "prior_0", dtype=torch.float16)
    assert isinstance(prior, JukeboxPrior)
    assert {p.dtype for p in prior.parameters()} == {torch.float16}
    assert prior.prior.fc_proj_out.weight is prior.prior.embed_tokens.weight
    assert not prior.training


def test_editing_a_loaded_model_does_not_touch_the_store() -> None:
    import_model([TINY_HF], name="tiny")
    prior = load_component("tiny", "prior_1")
    prior.prior.pos_emb.pos_emb.add_(1.0)  # the weights are a private map of the file
    assert verify_model("tiny") == []


def test_verify_detects_tampering_and_missing_files() -> None:
    import_model([TINY_HF], name="tiny")
    folder = paths.model_store_dir() / "tiny"
    target = folder / "prior_1.safetensors"
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF  # one flipped bit in a weight
    target.write_bytes(bytes(data))
    problems = verify_model("tiny")
    assert len(problems) == 1 and "prior_1.safetensors" in problems[0] and "sha256" in problems[0]
    (folder / "vqvae.safetensors").unlink()
    problems = verify_model("tiny")
    assert any("vqvae.safetensors" in p and "missing" in p for p in problems)


def test_store_names_and_duplicates() -> None:
    import_model([TINY_HF], name="tiny")
    with pytest.raises(StoreError, match="already exists"):
        import_model([TINY_HF], name="tiny")
    import_model([TINY_HF], name="tiny", overwrite=True)
    for bad in ("../escape", ".hidden", "a/b", ""):
        with pytest.raises(StoreError, match="invalid model name"):
            import_model([TINY_HF], name=bad)
    remove_model("tiny")
    assert list_models() == []
    assert not any(p.name.startswith(".") for p in paths.model_store_dir().iterdir())  # no staging left


def test_failed_import_leaves_nothing_behind(tmp_path: Path) -> None:
    bad = tmp_path / "prior_level_1.pth.tar"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(CheckpointError, match=r"prior_level_1\.pth\.tar"):
        import_model([TINY_ORIG / "vqvae.pth.tar", bad], name="broken")
    assert list(paths.model_store_dir().iterdir()) == []


def test_two_files_for_the_same_part_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "again" / "prior_level_2.pth.tar"
    copy.parent.mkdir()
    shutil.copy(TINY_ORIG / "prior_level_2.pth.tar", copy)
    with pytest.raises(CheckpointError, match="same part"):
        import_model([TINY_ORIG / "prior_level_2.pth.tar", copy])


def test_broken_manifest_is_listed_with_its_problem() -> None:
    import_model([TINY_HF], name="tiny")
    (paths.model_store_dir() / "tiny" / "manifest.json").write_text("{not json")
    [info] = list_models()
    assert info.problem and "manifest.json" in info.problem
    assert verify_model("tiny") and "manifest.json" in verify_model("tiny")[0]


def test_demo_model_is_made_once_deterministic_and_flagged(tmp_path: Path, monkeypatch) -> None:
    info = ensure_demo_model()
    assert info.name == DEMO_NAME and info.untrained and info.complete and info.preset == "demo"
    first = json.loads((info.path / "manifest.json").read_text())
    assert first["untrained"] is True
    assert ensure_demo_model().created == info.created  # second call only reads it
    assert verify_model(DEMO_NAME) == []
    model = load_model(DEMO_NAME)
    assert model.config.untrained
    assert not all(torch.all(p == 0) for p in model.parameters())

    monkeypatch.setenv("JUKESTUDIO_HOME", str(tmp_path / "elsewhere"))  # a second machine
    again = json.loads((ensure_demo_model().path / "manifest.json").read_text())
    for component in COMPONENTS:
        assert again["components"][component]["sha256"] == first["components"][component]["sha256"]


def test_parts_swap_in_and_out_of_memory() -> None:
    """The notebook's way of working: top prior first, then free it and load the upsamplers."""
    import_model([TINY_HF], name="tiny")
    reference = load_file(str(TINY_HF / "model.safetensors"))
    model = load_model("tiny", components=["vqvae", "prior_0"])
    assert model.loaded_components == ("vqvae", "prior_0")
    release(model, ["prior_0"])
    assert model.loaded_components == ("vqvae",)
    assert all(p.is_meta for p in model.priors[0].parameters())
    load_into(model, "tiny", ["prior_1", "prior_2", "prior_0"])
    assert model.loaded_components == COMPONENTS
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in reference.items())
    assert model.priors[0].prior.fc_proj_out.weight is model.priors[0].prior.embed_tokens.weight
    import_model([TINY_ORIG / "prior_level_2.pth.tar"], name="other")
    with pytest.raises(CheckpointError, match="different model"):
        load_into(model, "other", ["prior_0"])
