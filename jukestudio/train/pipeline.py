"""Train a whole model from a folder of labelled audio: the VQ-VAE, then each prior on its codes.

    RUN_DIR/config.json         the architecture (JukeboxConfig), fixed when the run starts
    RUN_DIR/run.json            data folder, schedules, seed, wall time per stage
    RUN_DIR/vqvae/              checkpoint.pt, loss.csv, loss.png
    RUN_DIR/prior_0/ … prior_2/ the same per prior (prior order: 0 = top)
    RUN_DIR/codes.pt            the training clips' codes (made once from the finished VQ-VAE)

Every stage resumes from its checkpoint, so ``train_all`` can simply be run again after a kill.
``finished_states`` gives the component state dicts of a finished run; ``install`` stores them as a
model entry like any imported model.
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from jukestudio.atomic import atomic_write_bytes, atomic_write_json
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.vqvae import JukeboxVQVAE
from jukestudio.model.weights.modules import COMPONENTS
from jukestudio.train.dataset import LabelledClips, label_rows, load_clips
from jukestudio.train.loop import CHECKPOINT, ProgressCallback, Schedule, load_checkpoint, run_stage
from jukestudio.train.prior_stage import encode_clips, prior_stage
from jukestudio.train.vqvae_stage import vqvae_stage

log = logging.getLogger(__name__)

CONFIG = "config.json"
RUN = "run.json"
CODES = "codes.pt"


class RunError(ValueError):
    """A run folder that does not fit the request (another architecture, an unfinished stage)."""


@dataclass(frozen=True)
class Plan:
    """Schedules of every stage and the VQ-VAE crop length (samples)."""

    vqvae: Schedule
    priors: tuple[Schedule, Schedule, Schedule]
    crop_length: int = 16384
    extra: dict[str, Any] = field(default_factory=dict)


def start_run(run_dir: Path, config: JukeboxConfig, data_dir: Path, plan: Plan) -> None:
    """Fix the architecture of ``run_dir`` (or check that an existing run has the same one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / CONFIG
    if config_path.is_file():
        existing = JukeboxConfig.from_json_file(config_path)
        if existing.to_dict() != config.to_dict():
            raise RunError(f"{run_dir} holds a run of another architecture; use a new --out folder")
    else:
        atomic_write_json(config_path, config.to_dict())
    run = _read_run(run_dir)
    run.setdefault("data_dir", str(Path(data_dir).resolve()))
    run["plan"] = {
        "vqvae": asdict(plan.vqvae),
        "priors": [asdict(s) for s in plan.priors],
        "crop_length": plan.crop_length,
        **plan.extra,
    }
    run.setdefault("wall_s", {})
    atomic_write_json(run_dir / RUN, run)


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _add_wall(run_dir: Path, stage: str, seconds: float) -> None:
    run = _read_run(run_dir)
    wall = run.setdefault("wall_s", {})
    wall[stage] = round(wall.get(stage, 0.0) + seconds, 1)
    atomic_write_json(run_dir / RUN, run)


def run_config(run_dir: Path) -> JukeboxConfig:
    path = run_dir / CONFIG
    if not path.is_file():
        raise RunError(f"{run_dir}: not a training run folder (no {CONFIG})")
    return JukeboxConfig.from_json_file(path)


def stage_finished(run_dir: Path, stage: str, steps: int) -> bool:
    path = run_dir / stage / CHECKPOINT
    return path.is_file() and int(load_checkpoint(path)["step"]) >= steps


def finished_state(run_dir: Path, stage: str) -> dict[str, torch.Tensor]:
    path = run_dir / stage / CHECKPOINT
    if not path.is_file():
        raise RunError(f"{run_dir}: stage {stage} has not been trained")
    return load_checkpoint(path)["model"]


def train_vqvae(
    run_dir: Path,
    clips: LabelledClips,
    plan: Plan,
    progress: ProgressCallback | None = None,
    stop_after: int | None = None,
) -> list[dict[str, float]]:
    config = run_config(run_dir)
    model = JukeboxVQVAE(config.vqvae_config)
    stage = vqvae_stage(model, clips.split("train"), plan.vqvae, plan.crop_length)
    began = time.monotonic()
    rows = run_stage(stage, plan.vqvae, run_dir / "vqvae", progress, stop_after)
    _add_wall(run_dir, "vqvae", time.monotonic() - began)
    return rows


def _codes(run_dir: Path, clips: LabelledClips, config: JukeboxConfig) -> list[list[torch.Tensor]]:
    """The training clips' codes, cached in ``codes.pt`` (keyed by the VQ-VAE checkpoint's step)."""
    path = run_dir / CODES
    vq_state = finished_state(run_dir, "vqvae")
    names = [c.name for c in clips.split("train")]
    if path.is_file():
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("names") == names:
            return cached["codes"]
    vqvae = JukeboxVQVAE(config.vqvae_config)
    vqvae.load_state_dict(vq_state)
    codes = encode_clips(vqvae, clips.split("train"))
    buffer = io.BytesIO()
    torch.save({"names": names, "codes": codes}, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return codes


def train_prior(
    run_dir: Path,
    clips: LabelledClips,
    plan: Plan,
    level: int,
    progress: ProgressCallback | None = None,
    stop_after: int | None = None,
) -> list[dict[str, float]]:
    """Train prior ``level`` (prior order) on the finished VQ-VAE's codes."""
    config = run_config(run_dir)
    if not stage_finished(run_dir, "vqvae", plan.vqvae.steps):
        raise RunError(f"{run_dir}: train the VQ-VAE first (jukestudio-cli train vqvae)")
    codes = _codes(run_dir, clips, config)
    labels = label_rows(config, clips.split("train"))[level]
    prior = JukeboxPrior(config.prior_configs[level], level=level)
    name = f"prior_{level}"
    stage = prior_stage(prior, codes, labels, plan.priors[level], name)
    began = time.monotonic()
    rows = run_stage(stage, plan.priors[level], run_dir / name, progress, stop_after)
    _add_wall(run_dir, name, time.monotonic() - began)
    return rows


def train_all(
    data_dir: Path, run_dir: Path, config: JukeboxConfig, plan: Plan, progress: ProgressCallback | None = None
) -> None:
    """The VQ-VAE, then the top prior and the two upsamplers; finished stages are skipped."""
    clips = load_clips(data_dir, splits=("train",))  # bad data: nothing is created
    start_run(run_dir, config, data_dir, plan)
    train_vqvae(run_dir, clips, plan, progress)
    for level in range(len(config.prior_configs)):
        train_prior(run_dir, clips, plan, level, progress)


def finished_states(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Component state dicts (``vqvae``, ``prior_0`` …) of the stages trained so far."""
    plan = _read_run(run_dir).get("plan", {})
    wanted = {"vqvae": plan.get("vqvae", {}).get("steps")}
    wanted.update({f"prior_{i}": s.get("steps") for i, s in enumerate(plan.get("priors", []))})
    states = {}
    for component in COMPONENTS:
        path = run_dir / component / CHECKPOINT
        if path.is_file():
            checkpoint = load_checkpoint(path)
            steps = wanted.get(component)
            if steps is not None and int(checkpoint["step"]) < int(steps):
                raise RunError(f"{run_dir}: {component} is at step {checkpoint['step']} of {steps}; finish it first")
            states[component] = checkpoint["model"]
    if "vqvae" not in states:
        raise RunError(f"{run_dir}: nothing trained yet")
    return states


def install(run_dir: Path, name: str, progress=None):
    """Store the run's trained components as model ``name`` in the model store."""
    from jukestudio.model.weights.store import write_entry_from_states

    config = run_config(run_dir)
    config.name = name
    return write_entry_from_states(
        name, config, finished_states(run_dir), preset_name=None, untrained=False, progress=progress
    )
