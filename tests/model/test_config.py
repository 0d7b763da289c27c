from __future__ import annotations

import json

import pytest

from jukestudio.model.config import ConfigError, JukeboxConfig, JukeboxPriorConfig, preset
from tests.conftest import ORIG_TINY


def test_json_round_trip_of_every_preset() -> None:
    for name in ("1b_lyrics", "5b_lyrics", "5b", "demo"):
        config = preset(name)
        again = JukeboxConfig.from_dict(json.loads(config.to_json_string()))
        assert again == config


def test_released_hyperparameters() -> None:
    one_b = preset("1b_lyrics")
    top, middle, bottom = one_b.prior_configs
    assert (top.hidden_size, top.num_layers, top.n_heads, top.n_ctx) == (2048, 72, 2, 6144)
    assert top.label_version == "v3" and top.lyric_vocab_size == 79 and top.min_duration == 17.84
    assert middle.conv_res_scale is True and bottom.conv_res_scale is False
    assert one_b.hop_fraction == [0.125, 0.5, 0.5]
    assert one_b.vqvae_config.hop_lengths == [8, 32, 128]
    five = preset("5b_lyrics").prior_configs[0]
    assert (five.hidden_size, five.num_layers, five.encoder_config.num_layers) == (4800, 79, 18)
    assert preset("5b").prior_configs[0].min_duration == 60.0


def test_reads_hugging_face_config_with_shared_params() -> None:
    config = JukeboxConfig.from_pretrained(ORIG_TINY / "tiny5b" / "hf_model")
    raw = json.loads((ORIG_TINY / "tiny5b" / "hf_model" / "config.json").read_text())
    assert config.prior_configs[0].timing_dims == raw["timing_dims"]
    assert config.prior_configs[0].encoder_config is not None
    assert config.prior_configs[1].max_nb_genres == 5  # v2 bag of words kept for upsamplers


def test_bad_configs_are_refused(tmp_path) -> None:
    with pytest.raises(ConfigError):
        JukeboxConfig.from_dict({"model_type": "bert"})
    with pytest.raises(ConfigError):
        JukeboxPriorConfig(attention_pattern="nonsense")
    broken = tmp_path / "config.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json"):
        JukeboxConfig.from_json_file(broken)
