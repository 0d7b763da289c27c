"""Running jobs: run or resume, cancel, fail, requeue. No Qt.

``run_job`` runs or resumes the job in a folder: the cascade continues from the saved codes with the
saved random-generator state, and after every window the state is saved again. So the same seed
gives the same codes whether the job ran in one go, was cancelled and resumed, or was killed and
resumed (at most the window in flight is lost). When the last window is done the results go into
the project's takes through ``finish.finish_job`` — the one way results are handed back, whichever
front end runs the job — and ``run_job`` returns a :class:`JobResult`; a cancelled job raises
``Cancelled(JobResult)`` with what was kept.

A preview job decodes takes' codes to audio with the VQ-VAE, one take at a time, into the project's
preview cache; it shares the status, progress, cancel and resume machinery (a resumed preview job
skips the takes it already decoded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from jukestudio.atomic import is_temp_leftover
from jukestudio.engine import device as devices
from jukestudio.engine.decode import module_device, preview_audio
from jukestudio.engine.finish import finish_job, open_project_of
from jukestudio.engine.job_lock import LOCK_FILE, job_lock  # noqa: F401 - LOCK_FILE: the lock's name
from jukestudio.engine.job_validate import check_codes_vocab, vocab_sizes
from jukestudio.engine.jobs import JobSettings, preview_progress, progress_info
from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.engine.state import RESUMABLE, STATE_FILE, JobState
from jukestudio.engine.tracker import ProgressTracker
from jukestudio.model import sample_loop
from jukestudio.model.sample_loop import Window
from jukestudio.project import Project

logger = logging.getLogger(__name__)

Report = Callable[[Progress], None]


@dataclass(frozen=True)
class JobResult:
    job_id: str
    status: str  # "done" or "cancelled"
    take_ids: list[str]
    codes: list[torch.Tensor]  # prior order, what exists now (finished windows only when cancelled)


def run_job(
    folder: str | Path,
    *,
    model: Any | None = None,
    project: Project | None = None,
    report: Report | None = None,
    cancel: CancelToken | None = None,
    device: str | torch.device | None = None,
) -> JobResult:
    """Run or resume the job in ``folder`` until done; raises ``Cancelled(JobResult)`` when cancelled.

    ``model`` is a loaded JukeboxModel (else the job's model is loaded from the store). The results
    go into ``project`` (the caller's open Project, so its take tree and undo history stay live;
    else the job folder's project is opened) by ``finish.finish_job``.
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
        project = open_project_of(state, project)
        if state.info["kind"] == "preview":
            return _run_preview(state, model, project, report, cancel)
        return _run_sampling(state, model, project, report, cancel, device)


def requeue_job(folder: str | Path, message: str) -> bool:
    """Mark a job that was stopped from outside (the window closing) as queued again, so the next start
    offers it; False when it is not running or cancelled."""
    state = JobState.load(folder)
    if state.status not in ("running", "cancelled"):
        return False
    state.set_status("queued", message)
    state.save(tensors=False)
    return True


def _run_sampling(
    state: JobState,
    model: Any | None,
    project: Project,
    report: Report,
    cancel: CancelToken,
    device: str | torch.device | None,
) -> JobResult:
    if model is None:
        model = _load_model(state.info["model"])
    check_codes_vocab(state.codes, vocab_sizes(model.config), state.folder / STATE_FILE)
    settings = JobSettings.from_dict(state.settings)
    target = devices.pick_device(str(device) if device is not None else settings.device)
    generator = _generator(state, settings.params.seed, target)

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
        saved_progress = state.info["progress"]
        _update_progress(state, full_plan, tracker, finished=window)
        try:
            state.save()
        except BaseException:
            state.info["progress"] = saved_progress  # the failure record must not count this window
            raise
        # "done" in progress means saved: the tracker counts the window (and later reports count it)
        # only once its codes, RNG state and job.json are on disk. Counting it first would let a
        # failed save record (and report) a window that a resume has to sample again.
        tracker.window_finished(window, n)
        cancel.raise_if_cancelled()

    def on_message(text: str) -> None:
        state.info["message"] = text
        tracker.message(text)

    params = _fit_batches(model, settings, n, target)
    with (
        _recording_outcome(
            state,
            "cancelled: finished windows are kept; resume to continue",
            on_cancel=lambda: _update_progress(state, full_plan, tracker),
        ),
        torch.inference_mode(),
    ):
        codes = model.sample_with(
            [c.to(target) for c in state.codes],
            [lab.to(target) for lab in state.labels],
            settings.levels,
            params,
            sample_length=settings.sample_length,
            total_length=settings.total_length,
            offset=settings.offset,
            generator=generator,
            device=target,
            dtype=_precision(settings.precision, target),
            on_step=on_step,
            on_window=on_window,
            on_message=on_message,
            compile=settings.compile,
            fast_preview=settings.fast_preview,
        )
    state.codes = [c.detach().to("cpu") for c in codes]
    take_ids = _finish_into_takes(state, model, project)
    # only now, with every take durable, is the job done (docs/architecture.md, "Finishing a job")
    state.info["take_ids"] = list(take_ids)
    state.set_status("done", "")
    _update_progress(state, full_plan, tracker)
    state.info["progress"]["fraction"] = 1.0
    state.save(tensors=False)
    tracker.finish()
    return JobResult(state.job_id, "done", list(take_ids), state.codes)


def _finish_into_takes(state: JobState, model: Any, project: Project) -> list[str]:
    """Write a sampled job's codes into its takes; the caller marks the job done only after this returns.

    Finishing is idempotent, so a finish killed at any point is simply redone by ``resume`` from the
    job's saved codes (the take ids are in job.json before any take is written; a take that exists is
    completed, the leftover of a killed take write is replaced; every file is written atomically).
    Any other failure (a take deleted meanwhile, a full disk) marks the job failed with the reason,
    instead of leaving it "running" with nothing said; its codes stay saved for a resume by id.
    """
    try:
        return finish_job(state, model, project)
    except Exception as exc:  # Ctrl+C / SystemExit leave it "running": a plain `resume` redoes the finish
        state.set_status(
            "failed",
            f"its results could not be written into the takes ({type(exc).__name__}: {exc}); "
            "they are kept in the job: fix the cause and resume the job",
        )
        state.save(tensors=False)
        logger.error("job %s: writing its takes failed: %s", state.job_id, exc)
        raise


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
            try:
                state.save(tensors=False)
            except OSError as save_error:  # disk full / read-only: the job stays resumable as it was on disk
                logger.warning("job %s: could not record the failure (%s)", state.job_id, save_error)
        raise


@contextmanager
def _job_lock(folder: Path) -> Iterator[None]:
    """One process runs a job at a time (engine/job_lock.py: atomic; a dead owner's lock is taken
    over); holding it, the temp files of a killed owner's writes are cleared."""
    with job_lock(folder):
        for leftover in (p for p in folder.iterdir() if is_temp_leftover(p) and p.is_file()):
            leftover.unlink(missing_ok=True)  # a write of a killed owner (we hold the lock now)
        yield


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


def _fit_batches(model: Any, settings: JobSettings, n: int, target: torch.device) -> Any:
    """The job's params, with smaller batch limits only where the GPU's free memory cannot hold the
    takes the limits allow (on CPU, and whenever they fit, the record passes through unchanged)."""
    from dataclasses import replace

    params = settings.params
    sizes = []
    for level, limit in ((0, params.max_batch_size), (1, params.lower_batch_size)):
        if level >= len(model.priors):
            sizes.append(limit)
            continue
        prior = model.priors[level]
        n_params = sum(p.numel() for p in prior.parameters())
        width = 2 if _precision(settings.precision, target) is not None else 4
        estimate = devices.estimate_prior_memory(model.config.prior_configs[level], n_params, width)
        sizes.append(devices.choose_batch(estimate, n, limit, target))
    wanted = (min(n, params.max_batch_size), min(n, params.lower_batch_size))
    if sizes[0] >= wanted[0] and sizes[1] >= wanted[1]:
        return params
    return replace(params, max_batch_size=sizes[0], lower_batch_size=sizes[1])


def _update_progress(
    state: JobState, plan: dict[int, list[Window]], tracker: ProgressTracker, finished: Window | None = None
) -> None:
    """job.json's progress from the tracker's counts, plus the ``finished`` window about to be saved."""
    n = state.codes[0].shape[0]
    windows_done, tokens_done = dict(tracker.windows_done), tracker.tokens_done
    if finished is not None:
        windows_done[finished.level] = windows_done.get(finished.level, 0) + 1
        tokens_done = min(tokens_done + finished.new_tokens * n, tracker.tokens_total)
    info = progress_info(plan, n, windows_done)
    info["tokens_done"] = tokens_done
    info["fraction"] = tracker.fraction_of(tokens_done)
    state.info["progress"] = info


def _load_model(name: str, components: tuple[str, ...] | None = None) -> Any:
    from jukestudio.model.weights.loader import load_model

    model = load_model(name, components)
    model.eval()
    return model


# ---------------------------------------------------------------------- preview


def _run_preview(
    state: JobState, model: Any | None, project: Project, report: Report, cancel: CancelToken
) -> JobResult:
    """Decode the job's takes one by one (on the VQ-VAE's device) into the project's preview cache."""
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
            if take_ids[i] not in project:  # deleted since the job was made: nothing to decode into
                logger.info("preview job %s: take %s is gone; skipped", state.job_id, take_ids[i])
            else:
                audio = preview_audio(model, rows[i].reshape(1, -1).to(device), level=levels[i])[0].numpy()
                project.write_preview(take_ids[i], audio.astype("float32"), prior_level=levels[i])
            window = Window(levels[i], 0, lengths[i], 0, windows_done.get(levels[i], 0))
            tracker.step(window, 0, 1, lengths[i], 1)
            tracker.window_finished(window, 1)
            windows_done[levels[i]] = windows_done.get(levels[i], 0) + 1
            state.info["progress"] = preview_progress(levels, lengths, i + 1)
            state.save(tensors=False)
    take_ids = _finish_into_takes(state, model, project)  # a failing finish marks the job failed
    state.set_status("done", "")
    state.info["progress"] = preview_progress(levels, lengths, len(lengths))
    state.save(tensors=False)
    tracker.finish()
    return JobResult(state.job_id, "done", list(take_ids), state.codes)
