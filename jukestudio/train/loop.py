"""The step loop every training stage shares: schedule, atomic checkpoints, resume, curves, progress.

A stage is a fixed number of optimizer steps. Everything random (data crops, codebook restarts)
draws from one ``torch.Generator`` whose state is saved in the checkpoint with the model, the
optimizer, the stage's extra state and the loss rows, so a run killed at any moment and started
again continues to the same result as a run that was never interrupted (same seed, same threads).

    RUN_DIR/<stage>/checkpoint.pt   latest state (written atomically every ``checkpoint_every`` steps)
    RUN_DIR/<stage>/loss.csv        one row per logged step
    RUN_DIR/<stage>/loss.png        the curves (when matplotlib is installed; at the end of a call and
                                    at most every ``PLOT_EVERY_S`` seconds, drawing costs seconds)
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from jukestudio.atomic import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
CURVES = "loss.csv"
PLOT = "loss.png"
PLOT_EVERY_S = 300.0


@dataclass(frozen=True)
class Schedule:
    steps: int
    batch_size: int
    lr: float
    warmup: int = 50
    final_lr_fraction: float = 0.1  # cosine decay to this fraction of ``lr``
    checkpoint_every: int = 50
    log_every: int = 10
    seed: int = 0
    clip_grad: float = 1.0

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return self.lr * (self.final_lr_fraction + (1 - self.final_lr_fraction) * cosine)


@dataclass(frozen=True)
class TrainProgress:
    """One progress report of a training stage (plain numbers, like the engine's job progress)."""

    stage: str
    step: int
    steps: int
    loss: float
    steps_per_s: float
    eta_s: float | None
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.step / self.steps if self.steps else 1.0


ProgressCallback = Callable[[TrainProgress], None]


@dataclass
class Stage:
    """What a stage trains: the module, its optimizer, one step, and any extra state to save."""

    name: str
    module: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step: Callable[[int, torch.Generator], dict[str, float]]  # does forward+backward; returns metrics
    extra_state: Callable[[], dict[str, Any]] = field(default=lambda: {})
    load_extra_state: Callable[[dict[str, Any]], None] = field(default=lambda state: None)
    on_start: Callable[[torch.Generator], None] | None = None  # first-time setup drawing from the generator


def _save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Our own checkpoint, read without running code (``weights_only``)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def run_stage(
    stage: Stage,
    schedule: Schedule,
    folder: Path,
    progress: ProgressCallback | None = None,
    stop_after: int | None = None,
) -> list[dict[str, float]]:
    """Train ``stage`` to ``schedule.steps`` (resuming from ``folder/checkpoint.pt`` if there is one).

    ``stop_after`` ends the call after that many steps of this call (tests use it to simulate a
    kill between checkpoints; the checkpoint is then the last one written, as after a real kill).
    Returns the logged rows.
    """
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(schedule.seed)
    rows: list[dict[str, float]] = []
    start = 0
    ckpt_path = folder / CHECKPOINT
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        stage.module.load_state_dict(state["model"])
        stage.optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        stage.load_extra_state(state["extra"])
        rows = [dict(r) for r in state["rows"]]
        start = int(state["step"])
        log.info("%s: resuming at step %d of %d", stage.name, start, schedule.steps)
    else:
        torch.manual_seed(schedule.seed)
        if stage.on_start is not None:
            stage.on_start(generator)
    stage.module.train()

    last_plot = time.monotonic()

    def save(step: int, final: bool) -> None:
        nonlocal last_plot
        _save(
            ckpt_path,
            {
                "model": stage.module.state_dict(),
                "optimizer": stage.optimizer.state_dict(),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "extra": stage.extra_state(),
                "rows": rows,
                "step": step,
            },
        )
        plot = final or time.monotonic() - last_plot > PLOT_EVERY_S
        write_curves(folder, rows, plot=plot)
        if plot:
            last_plot = time.monotonic()

    began = time.monotonic()
    recent: list[dict[str, float]] = []
    for done_here, step in enumerate(range(start, schedule.steps), start=1):
        for group in stage.optimizer.param_groups:
            group["lr"] = schedule.lr_at(step)
        stage.optimizer.zero_grad(set_to_none=True)
        metrics = stage.step(step, generator)
        if schedule.clip_grad:
            torch.nn.utils.clip_grad_norm_(stage.module.parameters(), schedule.clip_grad)
        stage.optimizer.step()
        recent.append(metrics)
        finished = step + 1
        if finished % schedule.log_every == 0 or finished == schedule.steps:
            row = {"step": float(finished), "lr": schedule.lr_at(step)}
            for key in recent[0]:
                row[key] = sum(m[key] for m in recent) / len(recent)
            rows.append(row)
            recent = []
            elapsed = time.monotonic() - began
            speed = done_here / elapsed if elapsed > 0 else 0.0
            eta = (schedule.steps - finished) / speed if speed > 0 else None
            if progress is not None:
                progress(TrainProgress(stage.name, finished, schedule.steps, row["loss"], speed, eta))
        stopping = stop_after is not None and done_here >= stop_after
        if finished % schedule.checkpoint_every == 0 or finished == schedule.steps:
            save(finished, final=finished == schedule.steps or stopping)
        if stopping:
            break
    if start >= schedule.steps:
        write_curves(folder, rows)
    return rows


def write_curves(folder: Path, rows: list[dict[str, float]], plot: bool = True) -> None:
    """``loss.csv`` (atomically) and, with matplotlib and ``plot``, ``loss.png``."""
    if not rows:
        return
    keys = list(rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{row.get(k, float('nan')):.6g}" for k in keys})
    atomic_write_text(folder / CURVES, buffer.getvalue())
    if plot:
        plot_curves(folder, rows)


def plot_curves(folder: Path, rows: list[dict[str, float]]) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed: %s not drawn (pip install 'jukestudio[train]')", folder / PLOT)
        return False
    steps = [r["step"] for r in rows]
    keys = [k for k in rows[0] if k not in ("step", "lr")]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key in keys:
        axis.plot(steps, [r[key] for r in rows], label=key)
    axis.set_xlabel("step")
    axis.set_yscale("log")
    axis.set_title(folder.name)
    axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    atomic_write_bytes(folder / PLOT, buffer.getvalue())
    return True
