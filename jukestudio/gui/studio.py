"""The Studio: one Qt-free facade over the project, engine, model store and audio layers for the window.

The window calls plain methods here; anything slow (``take_audio``, ``load_prompt``, ``export``, and
every ``JobSpec.fn``) is called by the window from a background thread, never on the GUI thread.
torch and the model code are imported lazily inside those calls, so the window starts fast.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.gui.model_access import ModelCache, ModelEntry, model_entry, vocabulary_for
from jukestudio.gui.records import TakeItem, Vocabulary
from jukestudio.gui.wording import KIND_NAMES, QUALITY, bit_depth
from jukestudio.project.settings import ProjectSettings

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"})
LEVEL_STATUS = {0: "coarse", 1: "level1", 2: "full"}  # deepest finished prior level → badge


@dataclass(frozen=True)
class JobSpec:
    """A job ready to queue: ``fn(report, token)`` runs it on the job thread."""

    job_id: str
    label: str
    kind: str
    fn: Callable[..., Any]
    take_ids: tuple[str, ...] = ()  # existing takes the job fills (upsample), for live level markers
    region: tuple[float, float] | None = None  # the span an upsample job fills (seconds), else the whole take
    new_takes: int = 0  # takes the job composes (placeholder rows while it runs)
    new_takes_parent: str | None = None
    new_takes_seconds: float = 0.0  # their expected length


def _take_status(take: Any) -> str:
    best = take.best_level
    if best is not None:
        return LEVEL_STATUS[best]
    if take.origin == "prompt":
        return "prompt"
    return "sampling" if "partial" in take.status.values() else "empty"


class Studio:
    """State the window shows and the operations it offers. See the module docstring for threading."""

    sample_rate = SAMPLE_RATE

    def __init__(self, model_loader: Callable[..., Any] | None = None) -> None:
        self.models = ModelCache(model_loader)
        self.project: Any = None
        self._job_numbers = itertools.count(1)
        self.engine_job_ids: dict[str, str] = {}
        self._hops: dict[str, list[int]] = {}  # the window's job id → the engine's job folder name

    # ------------------------------------------------------------------ models
    @staticmethod
    def warm_up() -> None:
        """Import the sampling stack ahead of the first job (call it off the GUI thread, while the
        user reads the window). A first import inside a job holds Python's import lock for a long
        time and made the window wait on it (measured: a 300 ms stall at the first compose)."""
        import torch._dynamo  # noqa: F401  (torch imports it lazily on first use of some ops)

        import jukestudio.engine.jobs
        import jukestudio.engine.runner
        import jukestudio.model.modeling
        import jukestudio.model.prior
        import jukestudio.model.tokenizer
        import jukestudio.model.weights.loader  # noqa: F401

    def list_models(self) -> list[ModelEntry]:
        """Installed models for the picker, the bundled ``jukestudio-tiny`` installed first if needed
        (imports torch: call it off the GUI thread)."""
        from jukestudio.model.weights.bundled import ensure_bundled_model

        try:
            ensure_bundled_model()
        except OSError as exc:  # a full or read-only disk: list what is there
            log.warning("could not install the bundled model: %s", exc)
        return [model_entry(info) for info in self.store_models()]

    def store_models(self) -> list[Any]:
        from jukestudio.model.weights import store

        return store.list_models()

    def model_config(self, name: str) -> Any:
        from jukestudio.model.weights import store

        config = store.read_entry_config(store.entry_dir(name))
        self._hops[name] = list(reversed(config.vqvae_config.hop_lengths))  # prior order
        return config

    def vocabulary(self, name: str) -> Vocabulary:
        return vocabulary_for(self.model_config(name))

    def import_model(self, paths: list[Path], name: str | None, progress: Callable[[float, str], None]) -> Any:
        from jukestudio.model.weights import store

        return store.import_model(paths, name, progress)

    def ensure_demo_model(self, progress: Callable[[float, str], None] | None = None) -> Any:
        from jukestudio.model.weights.demo import ensure_demo_model

        return ensure_demo_model(progress)

    def verify_model(self, name: str, progress: Callable[[float, str], None]) -> list[str]:
        from jukestudio.model.weights import store

        return store.verify_model(name, progress)

    def remove_model(self, name: str) -> None:
        from jukestudio.model.weights import store

        store.remove_model(name)

    # ------------------------------------------------------------------ project
    @property
    def project_dir(self) -> Path | None:
        return self.project.folder if self.project is not None else None

    @property
    def dirty(self) -> bool:
        return self.project is not None and self.project.dirty

    @property
    def can_undo(self) -> bool:
        return self.project is not None and self.project.can_undo

    @property
    def can_redo(self) -> bool:
        return self.project is not None and self.project.can_redo

    def new_project(self, folder: Path, settings: ProjectSettings) -> None:
        from jukestudio.project import Project

        project = Project.create(folder, settings)
        self._replace_project(project)

    def open_project(self, folder: Path) -> None:
        from jukestudio.project import Project, ProjectError

        try:
            project = Project.open(folder)
        except ProjectError as exc:
            raise ValueError(str(exc)) from exc
        self._replace_project(project)

    def _replace_project(self, project: Any) -> None:
        if self.project is not None:
            self.project.close()
        self.project = project

    def save_as(self, folder: Path) -> None:
        """Copy the project (takes, jobs, settings) to a new or empty ``folder`` and continue there."""
        import shutil

        if self.project is None:
            raise ValueError("no project is open")
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ValueError(f"{folder}: choose a new or empty folder")
        self.project.save()
        if folder.exists():
            folder.rmdir()  # copytree makes it again
        shutil.copytree(self.project_dir, folder, ignore=shutil.ignore_patterns("lock", "*.tmp"))
        self.open_project(folder)

    def rename_project(self, name: str) -> Path:
        """Rename the project's folder (its name is the project's name); returns the new folder."""
        name = name.strip()
        if not name or any(c in name for c in '/\\:*?"<>|') or name in (".", ".."):
            raise ValueError(f"{name!r} cannot be a folder name: use letters, digits, spaces, - or _")
        old = self.project_dir
        new = old.with_name(name)
        if new.exists():
            raise ValueError(f"{new} exists already: choose another name")
        self.project.close()
        self.project = None
        try:
            old.rename(new)
        finally:
            self.open_project(new if new.exists() else old)
        return new

    def problems(self) -> list[str]:
        return list(self.project.problems) if self.project is not None else []

    def save(self) -> None:
        if self.project is not None:
            self.project.save()

    def close(self) -> None:
        if self.project is not None:
            self.project.close()
            self.project = None

    def project_settings(self) -> ProjectSettings | None:
        return self.project.settings.copy() if self.project is not None else None

    def set_project_settings(self, wanted: ProjectSettings) -> None:
        changes = {k: v for k, v in wanted.to_dict().items() if getattr(self.project.settings, k) != v}
        if changes:
            self.project.update_settings(**changes)

    def takes(self) -> list[TakeItem]:
        if self.project is None:
            return []
        items = []
        for _, t in self.project.walk():
            status, detail = _take_status(t), ""
            region = self._region_span(t.id)
            if region is not None:
                level, start, end = region
                status, detail = "partial", f"{QUALITY[level].split()[0]} {start:.1f}–{end:.1f} s"  # "Full 1.0–2.0 s"
            items.append(TakeItem(t.id, t.name, t.parent_id, status, t.duration_s, t.rating, detail))
        return items

    def _region_span(self, take_id: str) -> tuple[int, float, float] | None:
        """(level, start_s, end_s) of a region upsampled beyond the take's best finished level."""
        region = self.upsampled_region(take_id)
        if region is None:
            return None
        level, first, codes = region
        hops = self._hops.get(self.project.take(take_id).settings.model, DEFAULT_HOPS)
        start = first / self.sample_rate
        return level, start, start + codes.numel() * hops[level] / self.sample_rate

    def take_settings(self, take_id: str) -> ProjectSettings:
        """The settings a take was made with, its own seed fixed (for "restore its settings")."""
        take = self.project.take(take_id)
        return take.settings.copy(seed=take.seed)

    def rename_take(self, take_id: str, name: str) -> None:
        self.project.rename_take(take_id, name)

    def rate_take(self, take_id: str, stars: int) -> None:
        self.project.rate_take(take_id, stars)

    def delete_takes(self, ids: list[str]) -> None:
        for take_id in ids:
            if take_id in self.project.takes:  # a child goes with its deleted parent
                self.project.delete_take(take_id)

    def undo(self) -> str | None:
        return self.project.undo() if self.project is not None else None

    def redo(self) -> str | None:
        return self.project.redo() if self.project is not None else None

    def level_spans(self, take_id: str) -> dict[int, list[tuple[float, float]]]:
        """Where each prior level has been sampled, in seconds (for the waveform's shaded spans): from
        the start for a level sampled in order, or the region an upsample filled (every level above
        the take's best finished one that the region job wrote starts where the region starts)."""
        take = self.project.take(take_id)
        codes = self.project.read_codes(take_id)
        hops = self._hops.get(take.settings.model, DEFAULT_HOPS)
        region = self._region_span(take_id)
        best = take.best_level if take.best_level is not None else 0
        result: dict[int, list[tuple[float, float]]] = {}
        for p, c in enumerate(codes):
            if c is None or not c.numel():
                continue
            length = int(c.shape[0]) * hops[p] / self.sample_rate
            if region is not None and p > best and take.level_status(p) == "partial":
                result[p] = [(region[1], region[1] + length)]
            else:
                result[p] = [(0.0, length)]
        return result

    def alignment(self, take_id: str) -> list[tuple[float, float, str]]:
        words = self.project.take(take_id).extra.get("words") or []
        return [(float(s), float(e), str(w)) for s, e, w in words]

    # ------------------------------------------------------------------ audio (background threads)
    def take_audio(self, take_id: str) -> np.ndarray:
        """The take at its best finished level, with an upsampled region (if any) heard in place."""
        audio = self._best_level_audio(take_id)
        region = self.upsampled_region(take_id)
        if region is None:
            return audio
        level, first_sample, codes = region
        from jukestudio.engine.decode import preview_audio

        model = self.models.get(self.project.take(take_id).settings.model, decoder_only=True)
        detail = preview_audio(model, codes.long().reshape(1, -1), level)[0].numpy()
        end = min(len(audio), first_sample + len(detail))
        spliced = audio.copy()
        spliced[first_sample:end] = detail[: end - first_sample]
        return spliced

    def upsampled_region(self, take_id: str) -> tuple[int, int, Any] | None:
        """(prior level, first sample, codes) of a region upsampled at a finer level than the take's
        best finished one, from the engine's job record (its ``region_tokens``)."""
        take = self.project.take(take_id)
        best = take.best_level if take.best_level is not None else 0
        partial = [p for p in range(best + 1, 3) if take.level_status(p) == "partial"]
        # the upsample job is in the take's history (older takes pointed job_id at it)
        job = take.job_for_level(max(partial)) if partial else None
        job_id = job.get("id") if job else take.job_id
        if not partial or not job_id:
            return None
        from jukestudio.engine.state import JobStateError, job_folder, read_job_info

        try:
            info = read_job_info(job_folder(self.project.folder, job_id))
        except JobStateError as exc:  # the job folder was removed or damaged: play what is finished
            log.warning("take %s: region of job %s unavailable (%s)", take.name, job_id, exc)
            return None
        if not (info.get("source") or {}).get("region_tokens"):
            return None
        codes = self.project.read_codes(take_id)[max(partial)]
        if codes is None or codes.numel() == 0:
            return None
        return max(partial), int(info["settings"].get("offset", 0)), codes

    def _best_level_audio(self, take_id: str) -> np.ndarray:
        take = self.project.take(take_id)
        codes = self.project.read_codes(take_id)
        available = [p for p, c in enumerate(codes) if c is not None and c.numel()]
        if not available:
            raise ValueError(f"take {take.name} has no audio yet")
        best = take.best_level if take.best_level is not None else min(available)
        cached = self.project.read_preview(take_id, best) if best in self.project.preview_levels(take_id) else None
        if cached is not None:
            return cached
        from jukestudio.engine.decode import preview_audio

        model = self.models.get(take.settings.model, decoder_only=True)
        audio = preview_audio(model, codes[best].long().reshape(1, -1), best)[0].numpy()
        self.project.write_preview(take_id, audio, best)
        return audio

    def load_prompt(self, path: Path) -> np.ndarray:
        from jukestudio.audio.io import load_prompt

        return load_prompt(path)

    def export(
        self, take_id: str, path: Path, subtype: str, normalise: bool, region: tuple[float, float] | None
    ) -> Any:
        from jukestudio.audio.export import export_wav

        audio = self.take_audio(take_id)
        sidecar = self.project.export_metadata(take_id)
        if region is not None:
            audio = audio[int(region[0] * self.sample_rate) : int(region[1] * self.sample_rate)]
            sidecar["region_s"] = [float(region[0]), float(region[1])]
        return export_wav(path, audio, subtype, normalise=normalise, sidecar=sidecar)

    def describe_export(self, report: Any) -> str:
        text = (
            f"Exported {Path(report.path).name} to {Path(report.path).parent} "
            f"({report.frames / report.sample_rate:.2f} s, {bit_depth(report.subtype)})"
        )
        if report.gain_db:
            text += f", normalised by {report.gain_db:+.1f} dB"
        if report.clipped_samples:
            text += f"; {report.clipped_samples} samples clipped ({report.clipped_fraction:.2%})"
        return text + "."

    # ------------------------------------------------------------------ jobs
    def _model_name(self) -> str:
        name = self.project.settings.model
        if not name:
            raise ValueError("Choose a model first (Models ▸ Manage models…).")
        return name

    def _spec(
        self,
        kind: str,
        label: str,
        create: Callable[[Any], Any],
        take_ids: tuple[str, ...] = (),
        region: tuple[float, float] | None = None,
    ) -> JobSpec:
        """A job whose engine state is created on the job thread (it needs the model), then run."""
        job_id = f"{kind}-{next(self._job_numbers)}"  # the window's handle; the engine names its folder
        name = self._model_name()
        project = self.project

        def run(report: Any, token: Any) -> Any:
            from jukestudio.engine.runner import run_job

            _leave_a_core_for_the_window()
            model = self.models.get(name)
            token.raise_if_cancelled()
            state = create(model)
            self.engine_job_ids[job_id] = state.job_id
            return run_job(state.folder, model=model, project=project, report=report, cancel=token)

        return JobSpec(job_id, label, kind, run, take_ids, region)

    def grown_audio(
        self, job_id: str, start_sample: int = 0, rows: list[int] | None = None
    ) -> tuple[int, list[np.ndarray]] | None:
        """The audio of a running job's new takes (``rows``: which ones; all by default) from about
        ``start_sample`` on, decoded from the top-level codes its finished windows saved:
        ``(first sample, [audio per take])``. Only the new tokens are decoded (plus a little context
        before them). Call it off the GUI thread."""
        engine_id = self.engine_job_ids.get(job_id)
        if engine_id is None or self.project is None:
            return None  # the job has not created its folder yet
        from jukestudio.engine.state import JobState, JobStateError

        try:
            state = JobState.load(self.project.jobs_dir / engine_id)
        except (JobStateError, OSError) as exc:
            log.debug("job %s: no saved codes yet (%s)", job_id, exc)
            return None
        codes = state.codes[0] if rows is None else state.codes[0][rows]
        if codes.numel() == 0:
            return None
        name = state.info.get("model") or self.project.settings.model
        hop = self._hops.get(name, DEFAULT_HOPS)[0]
        first_token = min(start_sample // hop, int(codes.shape[1]))
        context = min(first_token, GROW_CONTEXT_TOKENS)
        from jukestudio.engine.decode import preview_audio

        model = self.models.get(name, decoder_only=True)
        audio = preview_audio(model, codes[:, first_token - context :], 0).numpy()
        return first_token * hop, [row[context * hop :] for row in audio]

    def compose_job(
        self, settings: ProjectSettings, seed: int, prompt: np.ndarray | None, prompt_name: str
    ) -> JobSpec:
        """``settings``: the song panel's (saved into the project; seed None = random); ``seed``: the
        one this job uses (the panel shows it)."""
        self.set_project_settings(settings)
        project = self.project
        what = f"from {prompt_name}" if prompt is not None else f"{settings.take_length_s:g} s"
        spec = self._spec(
            "compose",
            f"Compose {settings.n_takes} take(s), {what}",
            lambda model: _engine_jobs().create_compose(
                project, model, prompt=prompt, prompt_name=prompt_name, seed=seed
            ),
        )
        prompt_s = 0.0 if prompt is None else len(prompt) / self.sample_rate
        seconds = prompt_s + float(settings.take_length_s)
        return replace(spec, new_takes=int(settings.n_takes), new_takes_seconds=seconds)

    def continue_job(
        self, take_id: str, seconds: float, settings: ProjectSettings, seed: int, from_s: float | None = None
    ) -> JobSpec:
        """N variations that extend the take by ``seconds``; with ``from_s``, from that point of the
        take instead of its end (the cut becomes a take of its own: the branch point in the tree)."""
        self.set_project_settings(settings)
        project = self.project
        take = project.take(take_id)
        where = f" from {from_s:.1f} s" if from_s is not None else ""

        def create(model: Any) -> Any:
            jobs = _engine_jobs()
            source = take_id
            if from_s is not None:
                source = jobs.cut_take(project, model, take_id, from_s)
            return jobs.create_continue(project, model, source, seconds=seconds, seed=seed)

        spec = self._spec(
            "continue", f"Continue {take.name}{where} by {seconds:g} s ({settings.n_takes} variation(s))", create
        )
        start = from_s if from_s is not None else take.duration_s
        return replace(
            spec, new_takes=int(settings.n_takes), new_takes_parent=take_id, new_takes_seconds=start + float(seconds)
        )

    def upsample_job(
        self, take_ids: list[str], region: tuple[float, float] | None, settings: ProjectSettings
    ) -> JobSpec:
        project = self.project
        seed = settings.seed  # None: the engine draws one (recorded in the job)
        names = ", ".join(project.take(t).name for t in take_ids)
        where = f" {region[0]:.1f}–{region[1]:.1f} s" if region else ""
        return self._spec(
            "upsample",
            f"Upsample {names}{where}",
            lambda model: _engine_jobs().create_upsample(project, model, take_ids, region_s=region, seed=seed),
            tuple(take_ids),
            region,
        )

    def _job_records(self) -> list[Any]:
        if self.project is None:
            return []
        from jukestudio.engine.state import read_jobs

        return read_jobs(self.project.folder)[0]

    def unfinished_jobs(self) -> list[Any]:
        """Jobs to offer resuming: queued or running ones (interrupted by a crash or by closing the
        window) and cancelled ones that kept finished windows (cancel promises they can go on)."""
        return [r for r in self._job_records() if r.offered_for_resume]

    def is_resumable(self, job_id: str) -> bool:
        """Whether the window's job ``job_id`` (or an engine job id) can be resumed now."""
        engine_id = self.engine_job_ids.get(job_id, job_id)
        return any(r.id == engine_id and r.resumable_from_its_row for r in self._job_records())

    def resume_jobs(self) -> list[JobSpec]:
        window_ids = {engine: window for window, engine in self.engine_job_ids.items()}
        return [self._resume_spec(r, window_ids.get(r.id, r.id)) for r in self.unfinished_jobs()]

    def resume_job(self, job_id: str) -> JobSpec | None:
        """The spec that resumes one job (keeping the window's job id, so its row is reused)."""
        engine_id = self.engine_job_ids.get(job_id, job_id)
        record = next((r for r in self._job_records() if r.id == engine_id and r.resumable_from_its_row), None)
        return self._resume_spec(record, job_id) if record is not None else None

    def _resume_spec(self, record: Any, job_id: str) -> JobSpec:
        project = self.project
        self.engine_job_ids[job_id] = record.id

        def run(report: Any, token: Any) -> Any:
            from jukestudio.engine.runner import run_job

            _leave_a_core_for_the_window()
            model = self.models.get(record.info.get("model") or project.settings.model)
            return run_job(record.folder, model=model, project=project, report=report, cancel=token)

        n = len(record.take_ids) or len((record.info.get("source") or {}).get("take_ids") or [])
        what = KIND_NAMES.get(record.kind, record.kind)
        label = f"Resume: {what}" + (f" ({n} take{'s' if n != 1 else ''})" if n else "")
        upsample = record.kind == "upsample"
        region = (record.info.get("source") or {}).get("region_s") if upsample else None
        return JobSpec(
            job_id,
            label,
            record.kind,
            run,
            tuple(record.take_ids) if upsample else (),
            region=(float(region[0]), float(region[1])) if region else None,  # the live marker's span
        )

    def takes_missing_preview(self) -> list[str]:
        """Takes with codes but no decoded audio at the level they would play (e.g. composed on a
        headless render box, or copied without their previews). Reads no codes: cheap on the GUI thread."""
        if self.project is None:
            return []
        missing = []
        for take in self.project.takes.values():
            with_codes = [p for p in range(len(LEVEL_STATUS)) if take.level_status(p) in ("done", "partial")]
            level = take.best_level if take.best_level is not None else max(with_codes, default=None)
            if level is not None and level not in self.project.preview_levels(take.id):
                missing.append(take.id)
        return missing

    def preview_missing_job(self) -> JobSpec | None:
        """A job that decodes the missing previews in the background (None when nothing is missing),
        so a project opened with codes only plays at once."""
        take_ids = self.takes_missing_preview()
        if not take_ids:
            return None
        job_id = f"preview-{next(self._job_numbers)}"
        name = self._model_name()
        project = self.project

        def run(report: Any, token: Any) -> Any:
            from jukestudio.engine.runner import run_job

            model = self.models.get(name, decoder_only=True)
            token.raise_if_cancelled()
            state = _engine_jobs().create_preview(project, model.config, take_ids)
            self.engine_job_ids[job_id] = state.job_id
            return run_job(state.folder, model=model, project=project, report=report, cancel=token)

        return JobSpec(job_id, f"Decode previews of {len(take_ids)} take(s)", "preview", run, tuple(take_ids))

    def requeue_interrupted(self, job_ids: list[str]) -> list[str]:
        """Mark jobs the window stopped on closing as queued again, so the next start offers them;
        returns the engine job ids requeued (jobs that never started have nothing on disk)."""
        if self.project is None:
            return []
        from jukestudio.engine.runner import requeue_job
        from jukestudio.engine.state import job_folder

        requeued = []
        for job_id in job_ids:
            engine_id = self.engine_job_ids.get(job_id)
            folder = job_folder(self.project.folder, engine_id) if engine_id else None
            if folder is None or not folder.is_dir():
                continue
            if requeue_job(folder, "interrupted when the window closed; resume to finish it"):
                requeued.append(engine_id)
        return requeued

    def job_ended(self, job_id: str, result: Any = None) -> list[str]:
        """After a job: the take ids it created or filled (empty when cancelled or failed)."""
        return list(getattr(result, "take_ids", []) or [])

    def describe_kept(self, result: Any, resumable: bool = True) -> str:
        """What a cancelled job kept, in seconds of music per quality (no token counts)."""
        codes = getattr(result, "codes", None)
        if not codes or not resumable:
            return "nothing was finished yet"
        hops = DEFAULT_HOPS
        kept = ", ".join(
            f"{QUALITY[p]} {int(c.shape[1]) * hops[p] / self.sample_rate:.1f} s"
            for p, c in enumerate(codes)
            if c.shape[-1]
        )
        return f"kept {kept or 'its finished parts'}; Resume (jobs panel or Take menu) goes on from there"


def _engine_jobs() -> Any:
    """The engine's job module, imported on the job thread (it imports torch)."""
    from jukestudio.engine import jobs

    return jobs


def _leave_a_core_for_the_window() -> None:
    """CPU sampling on every core starves the GUI thread (measured: stalls > 50 ms on 2 cores); the
    window's jobs use one core fewer. The headless CLI keeps them all."""
    import os

    import torch

    wanted = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() > wanted:
        torch.set_num_threads(wanted)


GROW_CONTEXT_TOKENS = 16  # top-level tokens decoded before the new part, so its start has context

DEFAULT_HOPS = (128, 32, 8)
"""Audio samples per token per prior level of every released and the demo model; a model whose
config was read (``model_config``) uses its own."""
