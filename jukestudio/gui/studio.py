"""The Studio: one Qt-free facade over the project, engine, model store and audio layers for the window.

The window calls plain methods here; anything slow (``take_audio``, ``load_prompt``, ``export``, and
every ``JobSpec.fn``) is called by the window from a background thread, never on the GUI thread.
torch and the model code are imported lazily inside those calls, so the window starts fast.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.gui import studio_jobs
from jukestudio.gui.model_access import ModelCache, ModelEntry, model_entry, vocabulary_for
from jukestudio.gui.records import SongSettings, TakeItem, Vocabulary

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


def to_project_settings(song: SongSettings, base: Any) -> Any:
    """The project's settings with the song panel's fields (keeps top-k/top-p/chunks/batch)."""
    return base.copy(
        model=song.model or base.model,
        artist=song.artist or "unknown",
        genres=list(song.genres),
        lyrics=song.lyrics,
        total_length_s=float(song.total_seconds),
        take_length_s=float(song.take_seconds),
        n_takes=int(song.n_takes),
        temperatures=[float(t) for t in song.temperatures],
        seed=song.seed,
    )


def to_song_settings(settings: Any, seed: int | None = None) -> SongSettings:
    return SongSettings(
        model=settings.model,
        artist="" if settings.artist == "unknown" else settings.artist,
        genres=list(settings.genres),
        lyrics=settings.lyrics,
        total_seconds=float(settings.total_length_s),
        take_seconds=float(settings.take_length_s),
        n_takes=int(settings.n_takes),
        temperatures=list(settings.temperatures),
        seed=seed if seed is not None else settings.seed,
    )


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
        import jukestudio.engine.takes
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

    def new_project(self, folder: Path, song: SongSettings) -> None:
        from jukestudio.project import Project, ProjectSettings

        project = Project.create(folder, to_project_settings(song, ProjectSettings()))
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

    def problems(self) -> list[str]:
        return list(self.project.problems) if self.project is not None else []

    def save(self) -> None:
        if self.project is not None:
            self.project.save()

    def close(self) -> None:
        if self.project is not None:
            self.project.close()
            self.project = None

    def project_settings(self) -> SongSettings | None:
        return to_song_settings(self.project.settings) if self.project is not None else None

    def set_project_settings(self, song: SongSettings) -> None:
        wanted = to_project_settings(song, self.project.settings)
        changes = {k: v for k, v in wanted.to_dict().items() if getattr(self.project.settings, k) != v}
        if changes:
            self.project.update_settings(**changes)

    def takes(self) -> list[TakeItem]:
        if self.project is None:
            return []
        return [
            TakeItem(t.id, t.name, t.parent_id, _take_status(t), t.duration_s, t.rating) for _, t in self.project.walk()
        ]

    def take_settings(self, take_id: str) -> SongSettings:
        take = self.project.take(take_id)
        return to_song_settings(take.settings, take.seed)

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

    def level_progress(self, take_id: str) -> dict[int, float]:
        """Seconds sampled at each prior level (for the waveform's markers)."""
        take = self.project.take(take_id)
        codes = self.project.read_codes(take_id)
        result = {}
        for p, c in enumerate(codes):
            if c is not None and c.numel():
                hops = self._hops.get(take.settings.model, DEFAULT_HOPS)
                result[p] = int(c.shape[0]) * hops[p] / self.sample_rate
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
        from jukestudio.engine.jobs import preview_audio

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
        if not partial or not take.job_id:
            return None
        from jukestudio.engine.state import JobStateError, read_job_info

        try:
            info = read_job_info(self.project.jobs_dir / take.job_id)
        except JobStateError as exc:  # the job folder was removed or damaged: play what is finished
            log.warning("take %s: region of job %s unavailable (%s)", take.name, take.job_id, exc)
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
        from jukestudio.engine.jobs import preview_audio

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
        text = f"Exported {Path(report.path).name} ({report.frames / report.sample_rate:.2f} s, {report.subtype})"
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

    def _spec(self, kind: str, label: str, create: Callable[[Any], Any], take_ids: tuple[str, ...] = ()) -> JobSpec:
        """A job whose engine state is created on the job thread (it needs the model), then run."""
        job_id = f"{kind}-{next(self._job_numbers)}"  # the window's handle; the engine names its folder
        name = self._model_name()
        project = self.project

        def run(report: Any, token: Any) -> Any:
            from jukestudio.engine.jobs import run_job

            _leave_a_core_for_the_window()
            model = self.models.get(name)
            token.raise_if_cancelled()
            state = create(model)
            self.engine_job_ids[job_id] = state.job_id
            return run_job(
                state.folder, model=model, report=report, cancel=token, finish=studio_jobs.finish_into(project)
            )

        return JobSpec(job_id, label, kind, run, take_ids)

    def compose_job(self, song: SongSettings, seed: int, prompt: np.ndarray | None, prompt_name: str) -> JobSpec:
        self.set_project_settings(song)
        project = self.project
        what = f"from {prompt_name}" if prompt is not None else f"{song.take_seconds:g} s"
        return self._spec(
            "compose",
            f"Compose {song.n_takes} take(s), {what}",
            lambda model: studio_jobs.create_compose(project, model, seed, prompt, prompt_name),
        )

    def continue_job(
        self, take_id: str, seconds: float, song: SongSettings, seed: int, from_s: float | None = None
    ) -> JobSpec:
        """N variations that extend the take by ``seconds``; with ``from_s``, from that point of the
        take instead of its end (the cut becomes a take of its own: the branch point in the tree)."""
        self.set_project_settings(song)
        project = self.project
        take = project.take(take_id)
        where = f" from {from_s:.1f} s" if from_s is not None else ""

        def create(model: Any) -> Any:
            source = take_id
            if from_s is not None:
                source = studio_jobs.cut_take(project, model, take_id, from_s)
            return studio_jobs.create_continue(project, model, source, seconds, seed)

        return self._spec(
            "continue", f"Continue {take.name}{where} by {seconds:g} s ({song.n_takes} variation(s))", create
        )

    def upsample_job(self, take_ids: list[str], region: tuple[float, float] | None, song: SongSettings) -> JobSpec:
        project = self.project
        seed = song.seed if song.seed is not None else int(np.random.default_rng().integers(0, 2**31 - 1))
        names = ", ".join(project.take(t).name for t in take_ids)
        where = f" {region[0]:.1f}–{region[1]:.1f} s" if region else ""
        return self._spec(
            "upsample",
            f"Upsample {names}{where}",
            lambda model: studio_jobs.create_upsample(project, model, take_ids, region, seed),
            tuple(take_ids),
        )

    def unfinished_jobs(self) -> list[Any]:
        return self.project.unfinished_jobs() if self.project is not None else []

    def resume_jobs(self) -> list[JobSpec]:
        specs = []
        project = self.project
        for record in self.unfinished_jobs():

            def run(report: Any, token: Any, record: Any = record) -> Any:
                from jukestudio.engine.jobs import run_job

                _leave_a_core_for_the_window()
                model = self.models.get(record.info.get("model") or project.settings.model)
                finish = studio_jobs.finish_into(project)
                return run_job(record.folder, model=model, report=report, cancel=token, finish=finish)

            specs.append(JobSpec(record.id, f"Resume {record.kind} ({record.id})", record.kind, run))
        return specs

    def requeue_interrupted(self, job_ids: list[str]) -> list[str]:
        """Mark jobs the window stopped on closing as queued again, so the next start offers them;
        returns the engine job ids requeued (jobs that never started have nothing on disk)."""
        if self.project is None:
            return []
        from jukestudio.engine.state import JobState

        requeued = []
        for job_id in job_ids:
            engine_id = self.engine_job_ids.get(job_id)
            folder = self.project.jobs_dir / engine_id if engine_id else None
            if folder is None or not folder.is_dir():
                continue
            state = JobState.load(folder)
            if state.status in ("running", "cancelled"):
                state.set_status("queued", "interrupted when the window closed; resume to finish it")
                state.save(tensors=False)
                requeued.append(engine_id)
        return requeued

    def job_ended(self, job_id: str, result: Any = None) -> list[str]:
        """After a job: the take ids it created or filled (empty when cancelled or failed)."""
        return list(getattr(result, "take_ids", []) or [])

    @staticmethod
    def describe_kept(result: Any) -> str:
        codes = getattr(result, "codes", None)
        if not codes:
            return "nothing was finished yet"
        lengths = ", ".join(f"{LEVEL_LABELS[p]} {int(c.shape[1])}" for p, c in enumerate(codes) if c.shape[1])
        return f"finished windows kept in the job (tokens: {lengths or 'none'}); resume it later"


LEVEL_LABELS = {0: "top", 1: "level 1", 2: "level 0"}


def _leave_a_core_for_the_window() -> None:
    """CPU sampling on every core starves the GUI thread (measured: stalls > 50 ms on 2 cores); the
    window's jobs use one core fewer. The headless CLI keeps them all."""
    import os

    import torch

    wanted = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() > wanted:
        torch.set_num_threads(wanted)


DEFAULT_HOPS = (128, 32, 8)
"""Audio samples per token per prior level of every released and the demo model; a model whose
config was read (``model_config``) uses its own."""
