"""Jobs: compose, continue, upsample (sampling, resumable) and preview (decoding). No Qt.

A job is created into ``<project>/jobs/<job_id>/`` (status "queued") with everything it needs: the
initial codes and labels (state.safetensors) and its settings (job.json). ``run_job`` then runs or
resumes it: the cascade continues from the saved codes with the saved random-generator state, and
after every window the state is saved again. So the same seed gives the same codes whether the job
ran in one go, was cancelled and resumed, or was killed and resumed (at most the window in flight is
lost). Results go into the project's takes when the job is done (``jukestudio.engine.takes``).

A preview job decodes takes' codes to audio with the VQ-VAE, one take at a time, into the project's
preview cache; it shares the folder, status, progress, cancel and resume machinery (a resumed
preview job skips the takes it already decoded).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jukestudio.atomic import atomic_write_text
from jukestudio.engine import device as devices
from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.engine.state import RESUMABLE, JobState, new_job_id, now_iso
from jukestudio.engine.tracker import ProgressTracker
from jukestudio.model import sample_loop
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.sample_loop import Window

logger = logging.getLogger(__name__)

SAMPLING_KINDS = ("compose", "continue", "upsample")
KINDS = (*SAMPLING_KINDS, "preview")
Report = Callable[[Progress], None]


@dataclass
class SamplingSettings:
    """How a job samples. Lengths are in audio samples (``sampling_rate`` per second)."""

    levels: list[int]  # prior levels to sample (prior order, 0 = top)
    sample_length: int  # length to reach (rounded down to whole top-level tokens)
    total_length: int  # declared length of the whole song (timing labels)
    offset: int = 0  # where the sampled codes start in the song (a time region)
    temperatures: list[float] | None = None  # per level; default top 0.98, upsamplers 0.99
    top_k: int = 0
    top_p: float = 0.0
    chunk_size: int = 32
    chunk_sizes: list[int] | None = None  # per level (overrides chunk_size)
    max_batch_size: int = 16  # takes at once for the top prior
    lower_batch_size: int = 16  # takes at once for the upsamplers
    seed: int = 0
    device: str | None = None  # None = CUDA when available, else CPU
    precision: str = "auto"  # "auto" (fp16 transformer on a GPU, fp32 on CPU), "fp32", "fp16", "bf16"
    compile: bool = False  # the per-token step replayed as a CUDA graph (CUDA only; else eager)
    fast_preview: bool = False  # int8 weights for the top prior's token step (CPU only; upsamplers fp32)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingSettings:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class JobResult:
    job_id: str
    status: str  # "done" or "cancelled"
    take_ids: list[str]
    codes: list[torch.Tensor]  # prior order, what exists now (finished windows only when cancelled)


# ---------------------------------------------------------------------- creating jobs


def create_job(
    project_dir: str | Path,
    kind: str,
    *,
    model_name: str,
    config: JukeboxConfig,
    codes: Sequence[torch.Tensor],
    labels: Sequence[torch.Tensor],
    settings: SamplingSettings,
    take_ids: Sequence[str] = (),
    source: dict[str, Any] | None = None,
    extra: dict[str, torch.Tensor] | None = None,
    job_id: str | None = None,
) -> JobState:
    """Write a queued sampling job: initial codes (prior order, one row per take) and labels (1 or N rows)."""
    if kind == "preview":
        raise ValueError("preview jobs are created with create_preview_job")
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(KINDS)}")
    n_levels = len(config.prior_configs)
    if len(codes) != n_levels or len(labels) != n_levels:
        raise ValueError(f"a job needs codes and labels for all {n_levels} levels")
    n = codes[0].shape[0]
    labels = [lab.expand(n, -1).clone() if lab.shape[0] == 1 else lab for lab in (_as_2d(x) for x in labels)]
    geometries = sample_loop.level_geometries(config)
    current = [c.shape[1] for c in codes]
    top = geometries[0].raw_to_tokens
    settings.sample_length = settings.sample_length // top * top
    sample_loop.check_durations(
        geometries, settings.levels, settings.total_length, settings.offset, settings.sample_length,
        config.sampling_rate,
    )  # fmt: skip
    plan = sample_loop.plan(geometries, settings.levels, settings.sample_length, current)
    folder, info = _queued_job(
        project_dir, kind, job_id, take_ids, model_name, config, n,
        settings=settings.to_dict(),
        source=source or {},
        initial_lengths=current,
        progress=_progress_info(plan, n, {p: 0 for p in plan}),
    )  # fmt: skip
    state = JobState(folder, info, [c.detach().cpu().long() for c in codes], labels, None, dict(extra or {}))
    state.save()
    logger.info("created %s job %s in %s", kind, job_id, folder)
    return state


def _queued_job(
    project_dir: str | Path,
    kind: str,
    job_id: str | None,
    take_ids: Sequence[str],
    model_name: str,
    config: JukeboxConfig,
    n: int,
    **fields: Any,
) -> tuple[Path, dict[str, Any]]:
    """The folder and the ``job.json`` record every new job starts with (status queued)."""
    job_id = job_id or new_job_id(kind)
    folder = Path(project_dir) / "jobs" / job_id
    if folder.exists():
        raise FileExistsError(f"{folder}: a job with this id exists already")
    info = {
        "id": job_id,
        "kind": kind,
        "status": "queued",
        "created": now_iso(),
        "updated": now_iso(),
        "take_ids": list(take_ids),
        "message": "",
        "model": model_name,
        "n_levels": len(config.prior_configs),
        "n_samples": n,
        "sampling_rate": config.sampling_rate,
        **fields,
    }
    return folder, info


def create_preview_job(
    project_dir: str | Path,
    *,
    model_name: str,
    config: JukeboxConfig,
    take_ids: Sequence[str],
    codes: Sequence[torch.Tensor],
    levels: Sequence[int],
    job_id: str | None = None,
) -> JobState:
    """Write a queued preview job: decode ``codes[i]`` (1-D, prior level ``levels[i]``) of each take.

    The takes' codes are copied into the job (they may differ in length), so the job decodes what
    was chosen even if a take changes before it runs.
    """
    if not take_ids:
        raise ValueError("choose at least one take to preview")
    if not len(take_ids) == len(codes) == len(levels):
        raise ValueError(f"{len(take_ids)} takes, {len(codes)} code rows and {len(levels)} levels do not match")
    n_levels = len(config.prior_configs)
    rows = [torch.as_tensor(c).detach().cpu().long().reshape(-1) for c in codes]
    for take_id, row, level in zip(take_ids, rows, levels, strict=True):
        if not 0 <= int(level) < n_levels:
            raise ValueError(f"take {take_id}: no prior level {level} (the model has {n_levels})")
        if row.numel() == 0:
            raise ValueError(f"take {take_id} has no codes at level {level}")
    n = len(rows)
    folder, info = _queued_job(
        project_dir, "preview", job_id, take_ids, model_name, config, n,
        settings={"levels": [int(x) for x in levels]},
        source={},
        progress=_preview_progress([int(x) for x in levels], [r.numel() for r in rows], 0),
    )  # fmt: skip
    empty = [torch.zeros(n, 0, dtype=torch.long) for _ in range(n_levels)]
    extra = {f"take_{i}": row for i, row in enumerate(rows)}
    state = JobState(folder, info, empty, [e.clone() for e in empty], None, extra)
    state.save()
    logger.info("created preview job %s in %s", job_id, folder)
    return state


def _preview_progress(levels: list[int], lengths: list[int], takes_done: int) -> dict[str, Any]:
    """job.json progress of a preview job: one "window" per take, tokens = codes decoded."""
    per_level: dict[str, dict[str, int]] = {}
    for i, (level, length) in enumerate(zip(levels, lengths, strict=True)):
        entry = per_level.setdefault(str(level), {"n_windows": 0, "windows_done": 0, "tokens_total": 0})
        entry["n_windows"] += 1
        entry["windows_done"] += int(i < takes_done)
        entry["tokens_total"] += length
    total, done = sum(lengths), sum(lengths[:takes_done])
    return {
        "levels": per_level,
        "tokens_total": total,
        "tokens_done": done,
        "fraction": done / total if total else 1.0,
        "takes_done": takes_done,
    }


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.long)
    return x.unsqueeze(0) if x.dim() == 1 else x


def _progress_info(plan: dict[int, list[Window]], n_samples: int, windows_done: dict[int, int]) -> dict[str, Any]:
    levels = {
        str(p): {
            "n_windows": len(ws),
            "windows_done": windows_done.get(p, 0),
            "tokens_total": sum(w.new_tokens for w in ws) * n_samples,
        }
        for p, ws in plan.items()
    }
    total = sum(v["tokens_total"] for v in levels.values())
    return {"levels": levels, "tokens_total": total, "tokens_done": 0, "fraction": 0.0}


def compose_settings(
    config: JukeboxConfig,
    seconds: float,
    *,
    total_seconds: float | None = None,
    start_tokens: int = 0,
    levels: Sequence[int] = (0,),
    **kwargs: Any,
) -> SamplingSettings:
    """Settings that bring a take from ``start_tokens`` top-level tokens to ``seconds`` more audio."""
    sr = config.sampling_rate
    top = sample_loop.level_geometries(config)[0].raw_to_tokens
    sample_length = start_tokens * top + int(seconds * sr) // top * top
    if sample_length <= start_tokens * top:
        raise ValueError(f"{seconds} s is less than one top-level token ({top / sr * 1000:.1f} ms)")
    total = int(total_seconds * sr) if total_seconds is not None else sample_length
    return SamplingSettings(levels=list(levels), sample_length=sample_length, total_length=total, **kwargs)


# ---------------------------------------------------------------------- running jobs


def run_job(
    folder: str | Path,
    *,
    model: Any | None = None,
    report: Report | None = None,
    cancel: CancelToken | None = None,
    device: str | torch.device | None = None,
    project: Any | None = None,
    finish: Callable[[JobState, Any], list[str]] | None = None,
) -> JobResult:
    """Run or resume the job in ``folder`` until done; raises ``Cancelled(JobResult)`` when cancelled.

    ``model`` is a loaded JukeboxModel (else the job's model is loaded from the store). The results
    go into ``project`` (the caller's open Project; else the job folder's project is opened), or
    through ``finish(state, model) -> take ids`` when given.
    """
    state = JobState.load(folder)
    if state.status == "done":
        return JobResult(state.job_id, "done", list(state.info.get("take_ids", [])), state.codes)
    if state.status not in RESUMABLE:
        raise ValueError(f"{folder}: job status {state.status!r} cannot be resumed")
    cancel = cancel or CancelToken()
    report = report or (lambda _p: None)
    with _job_lock(state.folder):
        state = JobState.load(folder)  # as the previous owner left it
        if state.info["kind"] == "preview":
            return _run_preview(state, model, report, cancel, project, finish)
        return _run_locked(state, model, report, cancel, device, project, finish)


def _run_locked(
    state: JobState,
    model: Any | None,
    report: Report,
    cancel: CancelToken,
    device: str | torch.device | None,
    project: Any | None,
    finish: Callable[[JobState, Any], list[str]] | None,
) -> JobResult:
    if model is None:
        model = _load_model(state.info["model"])
    settings = SamplingSettings.from_dict(state.settings)
    target = devices.pick_device(str(device) if device is not None else settings.device)
    generator = _generator(state, settings.seed, target)

    geometries = sample_loop.level_geometries(model.config)
    initial = [int(x) for x in state.info.get("initial_lengths", [c.shape[1] for c in state.codes])]
    full_plan = sample_loop.plan(geometries, settings.levels, settings.sample_length, initial)
    left = sample_loop.plan(geometries, settings.levels, settings.sample_length, [c.shape[1] for c in state.codes])
    n = state.codes[0].shape[0]
    windows_done = {p: len(full_plan[p]) - len(left[p]) for p in full_plan}
    tokens_total = sum(w.new_tokens for ws in full_plan.values() for w in ws) * n
    tokens_left = sum(w.new_tokens for ws in left.values() for w in ws) * n
    tracker = ProgressTracker(
        state.job_id, report, tokens_total=tokens_total, tokens_done=tokens_total - tokens_left,
        n_windows={p: len(ws) for p, ws in full_plan.items()}, windows_done=windows_done,
    )  # fmt: skip

    state.set_status("running", "")
    _update_progress(state, full_plan, tracker)
    state.save(tensors=False)
    tracker.start("resuming" if tokens_left < tokens_total else "starting")

    def on_step(window: Window, rows_done: int, rows: int, i: int, steps: int) -> None:
        cancel.raise_if_cancelled()
        tracker.step(window, rows_done, rows, i, n)

    def on_window(window: Window, codes: list[torch.Tensor]) -> None:
        state.codes = [c.detach().to("cpu") for c in codes]
        state.rng_state = generator.get_state()
        tracker.window_finished(window, n)
        _update_progress(state, full_plan, tracker)
        state.save()
        cancel.raise_if_cancelled()

    def on_message(text: str) -> None:
        state.info["message"] = text
        tracker.message(text)

    max_batch, lower_batch = _batch_sizes(model, settings, n, target)
    with (
        _recording_outcome(
            state,
            "cancelled: finished windows are kept; resume to continue",
            on_cancel=lambda: _update_progress(state, full_plan, tracker),
        ),
        torch.inference_mode(),
    ):
        codes = model._sample(
            [c.to(target) for c in state.codes],
            [lab.to(target) for lab in state.labels],
            settings.levels,
            chunk_size=settings.chunk_size,
            chunk_sizes=settings.chunk_sizes,
            dtype=_precision(settings.precision, target),
            lower_batch_size=lower_batch,
            max_batch_size=max_batch,
            offset=settings.offset,
            sample_length=settings.sample_length,
            total_length_in_seconds=settings.total_length / model.config.sampling_rate,
            temperatures=settings.temperatures,
            top_k=settings.top_k,
            top_p=settings.top_p,
            generator=generator,
            device=target,
            on_step=on_step,
            on_window=on_window,
            on_message=on_message,
            compile=settings.compile,
            fast_preview=settings.fast_preview,
        )
    state.codes = [c.detach().to("cpu") for c in codes]
    if finish is None:
        from jukestudio.engine.takes import finish_job

        take_ids = finish_job(state, model, project)
    else:
        take_ids = finish(state, model)
    state.info["take_ids"] = list(take_ids)
    state.set_status("done", "")
    _update_progress(state, full_plan, tracker)
    state.info["progress"]["fraction"] = 1.0
    state.save(tensors=False)
    tracker.finish()
    return JobResult(state.job_id, "done", list(take_ids), state.codes)


LOCK_FILE = "lock"


@contextmanager
def _recording_outcome(state: JobState, cancelled_message: str, on_cancel: Callable[[], None] | None = None):
    """Record how a running job ended early: cancelled (resumable, re-raised with a JobResult) or
    failed (its message kept). Ctrl+C leaves the status "running", so ``resume`` picks it up."""
    try:
        yield
    except Cancelled:
        state.set_status("cancelled", cancelled_message)
        if on_cancel is not None:
            on_cancel()
        state.save(tensors=False)
        logger.info("job %s cancelled", state.job_id)
        raise Cancelled(JobResult(state.job_id, "cancelled", [], state.codes)) from None
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt):
            state.set_status("failed", f"{type(exc).__name__}: {exc}")
            state.save(tensors=False)
        raise


@contextmanager
def _job_lock(folder: Path) -> Iterator[None]:
    """One process runs a job at a time (the GUI and `jukestudio-cli resume` share project folders).

    The lock file holds the owner's process id; a lock left by a dead (e.g. killed) process is taken over.
    """
    lock = folder / LOCK_FILE
    try:
        owner = int(lock.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        owner = None
    if owner is not None and owner != os.getpid() and _process_alive(owner):
        raise RuntimeError(f"{folder}: this job is being run by process {owner}; wait for it or stop it first")
    atomic_write_text(lock, str(os.getpid()))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or the platform cannot tell: be safe
    return True


def _generator(state: JobState, seed: int, target: torch.device) -> torch.Generator:
    """The job's random stream: seeded once, then carried across runs by its saved state."""
    generator = torch.Generator(device=target)
    saved_on = state.info.get("rng_device")
    if state.rng_state is not None and saved_on == target.type:
        generator.set_state(state.rng_state)
    else:
        if state.rng_state is not None:
            logger.warning("job %s was sampled on %s, now on %s: a new random stream", state.job_id, saved_on, target)
        generator.manual_seed(int(seed) + sum(c.shape[1] for c in state.codes))
    state.info["rng_device"] = target.type
    return generator


def _precision(name: str, target: torch.device) -> torch.dtype | None:
    """The transformer dtype: fp16 on a GPU by default (the original's sampling), fp32 on CPU."""
    table = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
    if name == "auto":
        return torch.float16 if target.type == "cuda" else None
    if name not in table:
        raise ValueError(f"unknown precision {name!r}; choose auto, fp32, fp16 or bf16")
    return table[name]


def _batch_sizes(model: Any, settings: SamplingSettings, n: int, target: torch.device) -> tuple[int, int]:
    sizes = []
    for level, limit in ((0, settings.max_batch_size), (1, settings.lower_batch_size)):
        if level >= len(model.priors):
            sizes.append(limit)
            continue
        prior = model.priors[level]
        n_params = sum(p.numel() for p in prior.parameters())
        width = 2 if _precision(settings.precision, target) is not None else 4
        estimate = devices.estimate_prior_memory(model.config.prior_configs[level], n_params, width)
        sizes.append(devices.choose_batch(estimate, n, limit, target))
    return sizes[0], sizes[1]


def _update_progress(state: JobState, plan: dict[int, list[Window]], tracker: ProgressTracker) -> None:
    info = _progress_info(plan, state.codes[0].shape[0], tracker.windows_done)
    info["tokens_done"] = tracker.tokens_done
    info["fraction"] = tracker.fraction_of(tracker.tokens_done)
    state.info["progress"] = info


def _load_model(name: str, components: tuple[str, ...] | None = None) -> Any:
    from jukestudio.model.weights.loader import load_model

    model = load_model(name, components)
    model.eval()
    return model


# ---------------------------------------------------------------------- preview


def preview_audio(model: Any, codes: torch.Tensor, level: int = 0) -> torch.Tensor:
    """Decode one level's codes (N, T_level) to audio (N, T) on CPU, clipped to [-1, 1]."""
    with torch.inference_mode():
        audio = model.decode_level(codes.long(), level, bs_chunks=codes.shape[0])
    return audio[..., 0].float().clamp(-1.0, 1.0).cpu()


def _run_preview(
    state: JobState,
    model: Any | None,
    report: Report,
    cancel: CancelToken,
    project: Any | None,
    finish: Callable[[JobState, Any], list[str]] | None,
) -> JobResult:
    """Decode the job's takes one by one (on the VQ-VAE's device) into the project's preview cache."""
    from jukestudio.engine.takes import open_project_of

    project = open_project_of(state, project)
    if model is None:
        model = _load_model(state.info["model"], components=("vqvae",))
    take_ids = list(state.info["take_ids"])
    levels = [int(x) for x in state.settings["levels"]]
    try:
        rows = [state.extra[f"take_{i}"] for i in range(len(take_ids))]
    except KeyError as exc:
        raise ValueError(f"{state.folder}: preview job lacks the codes of take {exc}") from exc
    lengths = [r.numel() for r in rows]
    done = int(state.info.get("progress", {}).get("takes_done", 0))
    windows_done: dict[int, int] = {}
    for level in levels[:done]:
        windows_done[level] = windows_done.get(level, 0) + 1
    tracker = ProgressTracker(
        state.job_id, report, tokens_total=sum(lengths), tokens_done=sum(lengths[:done]),
        n_windows={lv: levels.count(lv) for lv in levels}, windows_done=windows_done,
    )  # fmt: skip
    state.set_status("running", "")
    state.save(tensors=False)
    tracker.start("resuming" if done else "starting")
    device = module_device(model.vqvae)
    with _recording_outcome(state, "cancelled: decoded takes are kept; resume to decode the rest"):
        for i in range(done, len(take_ids)):
            cancel.raise_if_cancelled()
            audio = preview_audio(model, rows[i].reshape(1, -1).to(device), level=levels[i])[0].numpy()
            project.write_preview(take_ids[i], audio.astype("float32"), prior_level=levels[i])
            window = Window(levels[i], 0, lengths[i], 0, windows_done.get(levels[i], 0))
            tracker.step(window, 0, 1, lengths[i], 1)
            tracker.window_finished(window, 1)
            windows_done[levels[i]] = windows_done.get(levels[i], 0) + 1
            state.info["progress"] = _preview_progress(levels, lengths, i + 1)
            state.save(tensors=False)
    if finish is not None:
        take_ids = finish(state, model)
    state.info["take_ids"] = list(take_ids)
    state.set_status("done", "")
    state.info["progress"] = _preview_progress(levels, lengths, len(lengths))
    state.save(tensors=False)
    tracker.finish()
    return JobResult(state.job_id, "done", list(take_ids), state.codes)


def module_device(module: torch.nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")
