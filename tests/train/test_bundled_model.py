"""The shipped ``jukestudio-tiny``: installed on first use, the default model, and it makes pitched sound."""

from __future__ import annotations

import json

import pytest
import torch

from jukestudio import paths
from jukestudio.bundled_model import BUNDLED_NAME, bundled_dir
from jukestudio.model.tokenizer import JukeboxTokenizer
from jukestudio.model.weights.bundled import TRAINING, ensure_bundled_model
from jukestudio.model.weights.loader import load_model
from jukestudio.train.audio_metrics import dc_removed_rms, spectral_flatness

pytestmark = pytest.mark.skipif(bundled_dir() is None, reason="this build ships no bundled model")


def test_it_ships_with_a_training_manifest_and_under_40_mb():
    folder = bundled_dir()
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size <= 40_000_000
    training = json.loads((folder / TRAINING).read_text())
    assert "make_tiny_dataset.py" in training["data"]["rebuild"]
    assert set(training["how"]["wall_seconds"]) == {"vqvae", "prior_0", "prior_1", "prior_2"}
    config = json.loads((folder / "config.json").read_text())
    assert config["untrained"] is False
    assert all(p["nb_relevant_lyric_tokens"] == 0 for p in config["prior_config_list"])  # instrumental


def test_it_is_installed_on_first_use_and_refreshed_when_outdated():
    store_entry = paths.model_store_dir() / BUNDLED_NAME
    assert not store_entry.exists()
    info = ensure_bundled_model()
    assert info.complete and not info.untrained and (store_entry / TRAINING).is_file()
    assert ensure_bundled_model().created == info.created  # a second call only checks
    manifest = store_entry / "manifest.json"
    manifest.write_text(manifest.read_text().replace(BUNDLED_NAME, "older"))
    (store_entry / TRAINING).unlink()
    ensure_bundled_model()
    assert manifest.read_bytes() == (bundled_dir() / "manifest.json").read_bytes()
    assert not list(paths.model_store_dir().glob(".importing-*"))


def test_the_shipped_weights_make_pitched_audible_sound():
    model = load_model(BUNDLED_NAME).eval()  # installs it
    labels = JukeboxTokenizer.for_config(model.config)("jean_michel_jarre", ["folk"], "")["input_ids"]
    torch.manual_seed(0)
    codes = model.ancestral_sample(
        labels, n_samples=1, sample_levels=[0], sample_length_in_seconds=3.0, total_length_in_seconds=60.0,
        generator=torch.Generator().manual_seed(3),
    )
    audio = model.decode_level(codes[0], 0)[0, :, 0].numpy()
    assert spectral_flatness(audio) <= 0.1  # pitched, not noise (white noise ~0.5)
    assert dc_removed_rms(audio) >= 0.02  # audible, not a DC offset


def test_the_cli_composes_with_it_by_default(tmp_path, capsys):
    from jukestudio.cli.main import main

    project = tmp_path / "song"
    args = ["compose", str(project), "--artist", "eric_clapton", "--genre", "folk", "--seconds", "1", "--takes", "1"]
    assert main(args) == 0
    settings = json.loads((project / "project.json").read_text())
    assert json.dumps(settings).count(BUNDLED_NAME) >= 1
