"""Both published formats load into our model with the same tensors; bad or misplaced files are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from jukestudio.model.config import JukeboxConfig, preset
from jukestudio.model.weights.errors import CheckpointError
from jukestudio.model.weights.hf_format import TensorSource, read_hf_folder
from jukestudio.model.weights.loader import fill_module, load_component, load_model
from jukestudio.model.weights.modules import COMPONENTS, meta_component, state_prefix
from jukestudio.model.weights.openai_format import OriginalFile, config_for_files, read_original
from jukestudio.model.weights.store import import_model
from tests.conftest import ORIG_TINY

FILES = {"vqvae": "vqvae", "prior_2": "prior_level_0", "prior_1": "prior_level_1", "prior_0": "prior_level_2"}

# Fields that fix the architecture or change what the model computes; the rest (alignment head of a
# shrunk model, timing ranges HF copies onto upsamplers that have no timing signal) are not in the weights.
PRIOR_FIELDS = [
    *("hidden_size", "num_layers", "n_heads", "attention_pattern", "blocks", "n_ctx", "nb_relevant_lyric_tokens"),
    *("is_encoder_decoder", "lyric_vocab_size", "music_vocab_size", "metadata_dims", "max_nb_genres", "timing_dims"),
    *("merged_decoder", "res_conv_width", "res_conv_depth", "res_dilation_cycle", "res_dilation_growth_rate"),
    *("attention_multiplier", "mlp_multiplier", "init_scale"),
]
ENCODER_FIELDS = ["hidden_size", "num_layers", "n_heads", "attention_pattern", "blocks", "n_ctx", "lyric_vocab_size"]


def _originals(fixture: str) -> list:
    return [read_original(ORIG_TINY / fixture / "orig" / f"{FILES[c]}.pth.tar") for c in COMPONENTS]


@pytest.mark.parametrize("fixture", ["tiny", "tiny5b"])
def test_config_from_hps_matches_the_hf_config(fixture: str) -> None:
    config, _ = config_for_files(_originals(fixture))
    reference = JukeboxConfig.from_pretrained(ORIG_TINY / fixture / "hf_model")
    vq, ref_vq = config.vqvae_config, reference.vqvae_config
    for name in ("nb_discrete_codes", "embed_dim", "res_conv_width", "res_conv_depth", "res_downs_t", "multipliers"):
        assert getattr(vq, name) == getattr(ref_vq, name), name
    for p, (ours, ref) in enumerate(zip(config.prior_configs, reference.prior_configs)):
        for name in PRIOR_FIELDS:
            assert getattr(ours, name) == getattr(ref, name), (p, name)
        assert bool(ours.conv_res_scale) == bool(ref.conv_res_scale), p  # True only for the middle upsampler
        if ref.encoder_config is not None:
            for name in ENCODER_FIELDS:
                assert getattr(ours.encoder_config, name) == getattr(ref.encoder_config, name), name
    # the hps name layer 63/68, past the shrunk models' depth: the last lyric layer is used, as HF's config has
    assert config.prior_configs[0].alignment_layer == reference.prior_configs[0].alignment_layer


@pytest.mark.parametrize("fixture", ["tiny", "tiny5b"])
def test_original_files_and_hf_folder_give_the_same_weights(fixture: str) -> None:
    """The README says both folders hold the same weights (fp16 matrices: the fp32 ones rounded)."""
    originals = _originals(fixture)
    config, _ = config_for_files(originals)
    hf = load_file(str(ORIG_TINY / fixture / "hf_model" / "model.safetensors"))
    for original in originals:
        module = meta_component(config, original.component)
        filled = fill_module(module, _as_source(original.state), component=original.component)
        prefix = state_prefix(original.component)
        state = filled.state_dict()
        assert set(state) == set(original.state)  # zero missing / unexpected keys
        for key, value in state.items():
            reference = hf.get(prefix + key, hf.get(prefix + key.replace("fc_proj_out", "embed_tokens")))
            stored = original.state[key]
            assert torch.equal(stored, reference.to(stored.dtype)), key  # the file's own precision
            assert torch.equal(value, stored.float()), key  # cast to the module's float32


def _as_source(state: dict) -> TensorSource:
    return TensorSource.from_state(state)


def test_hf_folder_loads_with_tied_output_filled_in() -> None:
    model = load_model(ORIG_TINY / "tiny" / "hf_model")
    hf = load_file(str(ORIG_TINY / "tiny" / "hf_model" / "model.safetensors"))
    state = model.state_dict()
    assert set(state) - set(hf) == {f"priors.{p}.prior.fc_proj_out.weight" for p in range(3)}
    assert all(torch.equal(state[k], v) for k, v in hf.items())
    for prior in model.priors:
        assert prior.prior.fc_proj_out.weight is prior.prior.embed_tokens.weight


def _hf_copy(tmp_path: Path, fixture: str = "tiny") -> Path:
    folder = tmp_path / f"{fixture}_hf"
    shutil.copytree(ORIG_TINY / fixture / "hf_model", folder)
    return folder


def test_pytorch_model_bin_and_sharded_indexes_load_the_same(tmp_path: Path) -> None:
    reference = load_file(str(ORIG_TINY / "tiny" / "hf_model" / "model.safetensors"))
    names = sorted(reference)
    half = len(names) // 2
    shards = [{k: reference[k] for k in names[:half]}, {k: reference[k] for k in names[half:]}]

    as_bin = _hf_copy(tmp_path / "bin")
    (as_bin / "model.safetensors").unlink()
    torch.save(reference, as_bin / "pytorch_model.bin")

    sharded = _hf_copy(tmp_path / "st")
    (sharded / "model.safetensors").unlink()
    weight_map = {}
    for i, shard in enumerate(shards):
        save_file(shard, str(sharded / f"model-0000{i + 1}-of-00002.safetensors"))
        weight_map.update({k: f"model-0000{i + 1}-of-00002.safetensors" for k in shard})
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))

    sharded_bin = _hf_copy(tmp_path / "sb")
    (sharded_bin / "model.safetensors").unlink()
    weight_map = {}
    for i, shard in enumerate(shards):
        torch.save(shard, sharded_bin / f"pytorch_model-0000{i + 1}.bin")
        weight_map.update({k: f"pytorch_model-0000{i + 1}.bin" for k in shard})
    (sharded_bin / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))

    for folder in (as_bin, sharded, sharded_bin):
        state = load_model(folder).state_dict()
        assert all(torch.equal(state[k], v) for k, v in reference.items()), folder


def test_hf_folder_with_extra_missing_and_misshaped_keys_lists_them_all(tmp_path: Path) -> None:
    folder = _hf_copy(tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["priors.0.prior.surprise"] = torch.zeros(2)
    del state["vqvae.decoders.0.out.bias"]
    state["priors.1.prior.pos_emb.pos_emb"] = torch.zeros(3, 3)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as info:
        load_component(folder, "prior_0")  # one bad part makes the folder unusable: one error lists all
    error = info.value
    assert str(folder) in str(error)
    assert error.unexpected == ["priors.0.prior.surprise"]
    assert error.missing == ["vqvae.decoders.0.out.bias"]
    assert error.mismatched == {"priors.1.prior.pos_emb.pos_emb": ((3, 3), (64, 32))}
    for text in ("priors.0.prior.surprise", "vqvae.decoders.0.out.bias", "file (3, 3) vs model (64, 32)"):
        assert text in str(error)


def test_hf_folder_reports_shape_mismatch_with_both_shapes(tmp_path: Path) -> None:
    folder = _hf_copy(tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["priors.1.prior.pos_emb.pos_emb"] = torch.zeros(3, 3)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError) as info:
        read_hf_folder(folder)
    assert "prior.pos_emb.pos_emb: file (3, 3) vs model (64, 32)" in str(info.value)


def test_vqvae_given_as_a_prior_is_refused(tmp_path: Path) -> None:
    vqvae = ORIG_TINY / "tiny" / "orig" / "vqvae.pth.tar"
    with pytest.raises(CheckpointError, match=r"given as the top prior.*holds the VQ-VAE"):
        read_original(vqvae, component="prior_0")
    renamed = tmp_path / "prior_level_2.pth.tar"
    shutil.copy(vqvae, renamed)
    with pytest.raises(CheckpointError, match="file name says the top prior") as info:
        import_model([renamed])
    assert str(renamed) in str(info.value)


def test_1b_top_prior_given_as_the_5b_one_is_refused_with_the_differences() -> None:
    top = ORIG_TINY / "tiny" / "orig" / "prior_level_2.pth.tar"
    with pytest.raises(CheckpointError) as info:
        import_model([top], expect="5b")
    message = str(info.value)
    assert str(top) in message and "'5b'" in message
    assert "missing key(s)" in message and "wrong shape" in message
    assert "prior.pos_emb.pos_emb: file (64, 32) vs model (8192, 4800)" in message


def test_upsampler_without_level_or_name_is_refused(tmp_path: Path, monkeypatch) -> None:
    import jukestudio.model.weights.openai_format as fmt

    source = ORIG_TINY / "tiny" / "orig" / "prior_level_1.pth.tar"
    anonymous = tmp_path / "weights.pth.tar"
    shutil.copy(source, anonymous)
    original_reader = fmt.read_checkpoint

    def without_hps(path):
        data = original_reader(path)
        return {"model": data["model"]}

    monkeypatch.setattr(fmt, "read_checkpoint", without_hps)
    with pytest.raises(CheckpointError, match="which one"):
        read_original(anonymous)
    assert read_original(anonymous, component="prior_1").component == "prior_1"


def test_mixed_precision_file_loads_into_any_dtype() -> None:
    original = read_original(ORIG_TINY / "tiny" / "orig" / "prior_level_0.pth.tar")
    config, _ = config_for_files([original])
    key = "prior.transformer._attn_mods.0.attn.c_attn.weight"
    assert original.state[key].dtype == torch.float16
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        module = fill_module(meta_component(config, "prior_2"), _as_source(original.state), dtype=dtype)
        assert {p.dtype for p in module.parameters()} == {dtype}
        assert torch.equal(module.state_dict()[key], original.state[key].to(dtype))


def _meta_state(preset_name: str, component: str) -> dict:
    return dict(meta_component(preset(preset_name), component).state_dict())  # shapes only, no memory


@pytest.mark.parametrize("hps", [None, {"level": 1}])
def test_released_upsampler_without_usable_hps_takes_the_preset_config(hps) -> None:
    """Full-size shapes on the meta device; the conditioner's residual scale is not in the weights."""
    middle = OriginalFile(Path("prior_level_1.pth.tar"), "prior_1", _meta_state("5b", "prior_1"), hps)
    bottom = OriginalFile(Path("prior_level_0.pth.tar"), "prior_2", _meta_state("5b", "prior_2"), hps and {"level": 0})
    config, _ = config_for_files([middle, bottom])
    assert config.prior_configs[1].to_dict() == preset("5b").prior_configs[1].to_dict()
    assert config.prior_configs[1].conv_res_scale is True and config.prior_configs[2].conv_res_scale is False


def test_released_top_priors_are_told_apart_by_shape() -> None:
    for name in ("1b_lyrics", "5b_lyrics", "5b"):
        top = OriginalFile(Path("prior_level_2.pth.tar"), "prior_0", _meta_state(name, "prior_0"), None)
        vqvae = OriginalFile(Path("vqvae.pth.tar"), "vqvae", _meta_state(name, "vqvae"), None)
        config, matched = config_for_files([top, vqvae])
        assert matched == name
        assert config.prior_configs[0].to_dict() == preset(name).prior_configs[0].to_dict()


def test_file_without_hps_that_matches_no_preset_is_refused() -> None:
    state = read_original(ORIG_TINY / "tiny" / "orig" / "prior_level_1.pth.tar").state
    orphan = OriginalFile(Path("prior_level_1.pth.tar"), "prior_1", state, None)
    with pytest.raises(CheckpointError, match="has no hps and matches no released"):
        config_for_files([orphan])


def test_original_file_with_a_missing_and_a_misshaped_weight_lists_both(tmp_path: Path, monkeypatch) -> None:
    import jukestudio.model.weights.openai_format as fmt

    source = ORIG_TINY / "tiny" / "orig" / "prior_level_1.pth.tar"
    original_reader = fmt.read_checkpoint

    def damaged(path):
        data = original_reader(path)
        model = dict(data["model"])
        del model["prior.transformer._attn_mods.2.mlp.c_fc.b"]
        model["y_emb.artist_emb.emb.weight"] = torch.zeros(10, 32)
        return {**data, "model": model}

    monkeypatch.setattr(fmt, "read_checkpoint", damaged)
    with pytest.raises(CheckpointError) as info:
        import_model([source])
    error = info.value
    assert error.path == source
    assert error.missing == ["prior.transformer._attn_mods.2.mlp.c_fc.bias"]
    assert error.mismatched == {"metadata_embedding.artist_emb.weight": ((10, 32), (4111, 32))}


def test_an_hf_weights_file_given_alone_says_to_import_its_folder(tmp_path: Path) -> None:
    state = load_file(str(ORIG_TINY / "tiny" / "hf_model" / "model.safetensors"))
    path = tmp_path / "pytorch_model.bin"
    torch.save({k: v for k, v in state.items() if k.startswith("vqvae.")}, path)
    with pytest.raises(CheckpointError, match="Hugging Face checkpoint: import the folder"):
        import_model([path])
