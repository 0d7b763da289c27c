"""Training: a few steps lower the loss (VQ-VAE and prior); a killed run resumes to the same result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.vqvae import Bandwidth, JukeboxVQVAE
from jukestudio.train import pipeline
from jukestudio.train.dataset import DataError, label_rows, load_clips, random_crops
from jukestudio.train.loop import CHECKPOINT, CURVES, Schedule, load_checkpoint, run_stage
from jukestudio.train.prior_stage import encode_clips, prior_batch, prior_stage
from jukestudio.train.vqvae_stage import vqvae_stage
from tests.train.conftest import micro_config, micro_plan

REPO = Path(__file__).resolve().parents[2]


def _fresh_start(stage, schedule: Schedule) -> None:
    """The initialisation ``run_stage`` does on a fresh run, done early to measure the loss before."""
    torch.manual_seed(schedule.seed)
    stage.on_start(torch.Generator().manual_seed(schedule.seed))


def test_vqvae_steps_lower_the_reconstruction_loss(tiny_data, tmp_path):
    clips = load_clips(tiny_data, splits=("train",)).clips
    model = JukeboxVQVAE(micro_config().vqvae_config)
    schedule = Schedule(steps=25, batch_size=2, lr=3e-3, warmup=1, checkpoint_every=25, log_every=5)
    stage = vqvae_stage(model, clips, schedule, 4096)
    _fresh_start(stage, schedule)
    bandwidth = Bandwidth(*stage.extra_state()["bandwidth"])
    fixed = random_crops(clips, 4096, 4, torch.Generator().manual_seed(99))

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            value = float(model(fixed, bandwidth).loss)
        model.train()
        return value

    before = loss()
    rows = run_stage(stage, schedule, tmp_path / "vqvae")
    after = loss()
    assert after < 0.8 * before, (before, after)
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25]
    assert (tmp_path / "vqvae" / CURVES).read_text().startswith("step,lr,loss,")


def test_prior_steps_lower_the_token_loss(tiny_data, tmp_path):
    config = micro_config()
    clips = load_clips(tiny_data, splits=("train",)).clips
    vqvae = JukeboxVQVAE(config.vqvae_config)
    vqvae.init_weights(torch.Generator().manual_seed(0))
    vqvae.init_codebooks(random_crops(clips, 4096, 4, torch.Generator().manual_seed(1)))
    codes = encode_clips(vqvae, clips)
    labels = label_rows(config, clips)[0]
    prior = JukeboxPrior(config.prior_configs[0], level=0)
    schedule = Schedule(steps=30, batch_size=4, lr=3e-3, warmup=1, checkpoint_every=30, log_every=10)
    stage = prior_stage(prior, codes, labels, schedule, "prior_0")
    _fresh_start(stage, schedule)
    tokens, conds, metadata = prior_batch(prior, codes, labels, 8, torch.Generator().manual_seed(7))

    def loss() -> float:
        with torch.no_grad():
            return float(prior.forward_tokens(tokens, conds, metadata)[0])

    before = loss()
    run_stage(stage, schedule, tmp_path / "prior_0")
    after = loss()
    assert before > 4.5  # about log2(32) bits per token at the start
    assert after < before - 0.3, (before, after)


DRIVER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    from tests.train.test_training import train_micro

    def progress(report):
        if report.step == int(sys.argv[3]) and report.stage == sys.argv[4]:
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill: no clean-up, no atexit

    train_micro(Path(sys.argv[1]), Path(sys.argv[2]), progress)
    """
)


def train_micro(data: Path, run: Path, progress=None) -> None:
    """The VQ-VAE and the middle upsampler (it has every kind of state: EMA, conditioner) for 6 steps."""
    plan = micro_plan(steps=6, checkpoint_every=2)
    pipeline.start_run(run, micro_config(), data, plan)
    clips = load_clips(data, splits=("train",))
    pipeline.train_vqvae(run, clips, plan, progress)
    pipeline.train_prior(run, clips, plan, 1, progress)


def _drive(tmp_path: Path, data: Path, run: Path, kill_at: int, stage: str) -> int:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(script), str(data), str(run), str(kill_at), stage], env=env, timeout=240
    ).returncode


def test_a_killed_run_resumes_to_the_same_weights(tiny_data, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    train_micro(tiny_data, whole)
    # killed twice: in the VQ-VAE after step 3 (last checkpoint: step 2), then in the upsampler after step 5
    assert _drive(tmp_path, tiny_data, killed, 3, "vqvae") == -signal.SIGKILL
    assert load_checkpoint(killed / "vqvae" / CHECKPOINT)["step"] == 2
    assert _drive(tmp_path, tiny_data, killed, 5, "prior_1") == -signal.SIGKILL
    assert load_checkpoint(killed / "prior_1" / CHECKPOINT)["step"] == 4
    assert _drive(tmp_path, tiny_data, killed, -1, "") == 0
    for stage in ("vqvae", "prior_1"):
        a, b = load_checkpoint(whole / stage / CHECKPOINT), load_checkpoint(killed / stage / CHECKPOINT)
        assert a["step"] == b["step"] == 6
        assert a["model"].keys() == b["model"].keys()
        for key, tensor in a["model"].items():
            assert torch.equal(tensor, b["model"][key]), f"{stage}: {key} differs after resuming"
        assert a["rows"] == b["rows"]  # the loss curve continues exactly
    assert not list(killed.glob("**/.*.tmp")), "a kill left a temporary file behind"


def test_install_refuses_an_unfinished_run_and_stores_a_finished_one(tiny_data, tmp_path):
    from jukestudio.model.weights.loader import load_model

    run = tmp_path / "run"
    plan = pipeline.Plan(
        vqvae=Schedule(steps=2, batch_size=1, lr=1e-3, warmup=1, checkpoint_every=1),
        priors=tuple(Schedule(steps=2, batch_size=1, lr=1e-3, warmup=1) for _ in range(3)),
        crop_length=4096,
    )
    pipeline.start_run(run, micro_config(), tiny_data, plan)
    clips = load_clips(tiny_data, splits=("train",))
    pipeline.train_vqvae(run, clips, plan, stop_after=1)
    with pytest.raises(pipeline.RunError, match="vqvae is at step 1 of 2"):
        pipeline.install(run, "mine")
    pipeline.train_vqvae(run, clips, plan)
    for level in range(3):
        pipeline.train_prior(run, clips, plan, level)
    info = pipeline.install(run, "mine")
    assert info.complete and not info.untrained
    model = load_model("mine")
    assert model.config.prior_configs[0].nb_relevant_lyric_tokens == 0


def test_unknown_labels_are_named(tiny_data, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.wav").write_bytes((tiny_data / "folk-eric_clapton-000.wav").read_bytes())
    (folder / "labels.csv").write_text("file,artist,genre\na.wav,nobody at all,folk\n")
    clips = load_clips(folder).clips
    with pytest.raises(DataError, match=r"a\.wav: artist 'nobody at all' is not in the model's label table"):
        label_rows(micro_config(), clips)
    (folder / "labels.csv").write_text("file,artist\na.wav,eric clapton\n")
    with pytest.raises(DataError, match="line 2: needs file, artist and genre"):
        load_clips(folder)
