"""Original ↔ HF key tables: the tiny fixtures, and the full-size released layouts on the meta device."""

from __future__ import annotations

import pytest
from safetensors import safe_open

from jukestudio.model.config import preset
from jukestudio.model.weights.keymap import PRIOR_KEYMAP, VQVAE_KEYMAP, keymap_for, original_to_hf
from jukestudio.model.weights.modules import COMPONENTS, meta_component, state_prefix
from jukestudio.model.weights.safe_pickle import read_checkpoint
from tests.conftest import ORIG_TINY

FILES = {"vqvae": "vqvae", "prior_2": "prior_level_0", "prior_1": "prior_level_1", "prior_0": "prior_level_2"}

# Tensors per original state dict and their element counts: shared/reference/original-jukebox.md §1.3,
# computed there by an analytic mirror of the OpenAI module tree (independent of our code).
RELEASED = {
    "vqvae": (669, 1_878_979),
    "upsampler": (1006, 985_230_336),
    "5b": (872, 5_060_452_800),
    "5b_lyrics": (1194, 5_640_506_800),
    "1b_lyrics": (872, 946_999_296),
}


@pytest.mark.parametrize("fixture", ["tiny", "tiny5b"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_fixture_original_keys_map_onto_the_hf_file(fixture: str, component: str) -> None:
    """Oracle: the HF-format copy of the same weights, written by transformers 4.40.2."""
    original = read_checkpoint(ORIG_TINY / fixture / "orig" / f"{FILES[component]}.pth.tar")["model"]
    renamed, unknown, clashes = original_to_hf(original, keymap_for(component))
    assert not unknown and not clashes
    prefix = state_prefix(component)
    with safe_open(str(ORIG_TINY / fixture / "hf_model" / "model.safetensors"), "pt") as hf:
        hf_keys = {k[len(prefix) :] for k in hf.keys() if k.startswith(prefix)}  # noqa: SIM118 - not a dict
        for key in hf_keys:
            assert tuple(renamed[key].shape) == tuple(hf.get_slice(prefix + key).get_shape()), key
    # HF leaves out the tied output matrix; the original stores it under x_out
    assert set(renamed) - hf_keys <= {"prior.fc_proj_out.weight"}
    assert hf_keys <= set(renamed)


@pytest.mark.parametrize("fixture", ["tiny", "tiny5b"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_fixture_keys_round_trip_through_the_reverse_table(fixture: str, component: str) -> None:
    original = read_checkpoint(ORIG_TINY / fixture / "orig" / f"{FILES[component]}.pth.tar")["model"]
    keymap = keymap_for(component)
    downs = preset("1b_lyrics").vqvae_config.res_downs_t
    back = {keymap.to_original(keymap.to_hf(k), lambda name, v: downs[v["l"]]) for k in original}
    assert back == set(original)


def test_only_the_trailing_conv1d_leaf_is_renamed() -> None:
    # HF's converter used str.replace("b", "bias") on whole keys; the tables rename the leaf only
    assert PRIOR_KEYMAP.to_hf("prior.transformer._attn_mods.3.attn.c_attn.b") == (
        "prior.transformer._attn_mods.3.attn.c_attn.bias"
    )
    assert PRIOR_KEYMAP.to_hf("prime_state_proj.w") == "encoder.proj_in.weight"
    assert PRIOR_KEYMAP.to_hf("y_emb.bow_genre_emb.emb.weight") == "metadata_embedding.bow_genre_emb.weight"
    assert VQVAE_KEYMAP.to_hf("bottleneck.level_blocks.1.k") == "bottleneck.level_blocks.1.codebook"
    # a torch module's .weight is never a Conv1D leaf, and a .b that is not a leaf is not renamed
    assert PRIOR_KEYMAP.to_hf("prior.transformer._attn_mods.3.attn.c_attn.weight") is None
    assert PRIOR_KEYMAP.to_hf("prior.transformer._attn_mods.3.attn.b.w") is None


def test_both_resnet_namings_of_the_conditioner_map_the_same_way() -> None:
    blocks = "conditioner_blocks.0.cond.model.2.0.blocks.5.model.3.bias"
    plain = "conditioner_blocks.0.cond.model.2.0.model.5.model.3.bias"
    expected = "conditioner_blocks.upsampler.upsample_block.2.resnet_block.5.conv1d_2.bias"
    assert PRIOR_KEYMAP.to_hf(blocks) == PRIOR_KEYMAP.to_hf(plain) == expected
    assert PRIOR_KEYMAP.to_original(expected) == blocks  # the released files use `.blocks.`


def test_reverse_mapping_refuses_indices_of_the_wrong_parity() -> None:
    # downsample_block.{2i} is a strided conv; an odd index is a resnet and has no plain weight
    assert VQVAE_KEYMAP.to_original("encoders.0.level_blocks.0.downsample_block.3.weight") is None
    assert VQVAE_KEYMAP.to_original("encoders.0.level_blocks.0.downsample_block.4.weight") == (
        "encoders.0.level_blocks.0.model.2.0.weight"
    )


def _original_layout(preset_name: str, component: str) -> dict[str, tuple[int, ...]]:
    config = preset(preset_name)
    keymap = keymap_for(component)
    downs = config.vqvae_config.res_downs_t
    layout = {}
    for key, tensor in meta_component(config, component).state_dict().items():
        original = keymap.to_original(key, lambda name, v: downs[v["l"]])
        assert original is not None, key
        assert keymap.to_hf(original) == key
        layout[original] = tuple(tensor.shape)
    return layout


@pytest.mark.parametrize("preset_name", ["1b_lyrics", "5b_lyrics", "5b"])
def test_full_size_original_layouts_have_the_released_counts(preset_name: str) -> None:
    expected = {
        "vqvae": RELEASED["vqvae"],
        "prior_0": RELEASED[preset_name],
        "prior_1": RELEASED["upsampler"],
        "prior_2": RELEASED["upsampler"],
    }
    for component, (count, elements) in expected.items():
        layout = _original_layout(preset_name, component)
        assert len(layout) == count, component
        total = 0
        for shape in layout.values():
            n = 1
            for s in shape:
                n *= s
            total += n
        assert total == elements, component


def test_full_size_layout_has_the_documented_original_names_and_shapes() -> None:
    """Spot checks against shared/reference/original-jukebox.md §1.5."""
    upsampler = _original_layout("5b", "prior_2")
    assert upsampler["conditioner_blocks.0.cond.model.1.0.blocks.15.model.1.weight"] == (1024, 1024, 3)
    assert upsampler["conditioner_blocks.0.cond.model.2.1.weight"] == (1024, 1920, 4)
    assert upsampler["prior.transformer._attn_mods.71.attn.c_attn.w"] == (1920, 1440)
    assert upsampler["prior.x_out.weight"] == (2048, 1920)
    vqvae = _original_layout("5b", "vqvae")
    assert vqvae["encoders.0.level_blocks.0.model.3.weight"] == (64, 64, 3)  # proj_out at index down_t
    assert vqvae["decoders.2.out.weight"] == (1, 64, 3)
    assert vqvae["bottleneck.level_blocks.2.k"] == (2048, 64)
    lyrics = _original_layout("5b_lyrics", "prior_0")
    assert lyrics["prior.transformer._attn_mods.68.attn.c_enc_kv.w"] == (4800, 2400)
    assert lyrics["prime_prior.start_token"] == (1, 1280)
    assert lyrics["prime_state_proj.w"] == (1280, 4800)
    assert lyrics["prime_x_out.weight"] == (80, 4800)
    one_b = _original_layout("1b_lyrics", "prior_0")
    assert one_b["prior.x_emb.weight"] == (2127, 2048)
    assert one_b["prior.pos_emb.pos_emb"] == (6528, 2048)


@pytest.mark.parametrize("preset_name", ["1b_lyrics", "5b_lyrics"])
def test_our_full_size_module_tree_has_the_hf_names_and_shapes(preset_name: str) -> None:
    """The contract the loader relies on, checked against transformers 4.40.2 on the meta device."""
    import torch
    import transformers

    config = preset(preset_name)
    for component in COMPONENTS:
        ours = {k: tuple(v.shape) for k, v in meta_component(config, component).state_dict().items()}
        with torch.device("meta"):
            if component == "vqvae":
                fields = {k: v for k, v in config.vqvae_config.to_dict().items() if k != "model_type"}
                hf = transformers.JukeboxVQVAE(transformers.JukeboxVQVAEConfig(**fields))
            else:
                p = int(component[-1])
                fields = {k: v for k, v in config.prior_configs[p].to_dict().items() if k != "model_type"}
                hf = transformers.JukeboxPrior(transformers.JukeboxPriorConfig(**fields), p)
        assert ours == {k: tuple(v.shape) for k, v in hf.state_dict().items()}, component
