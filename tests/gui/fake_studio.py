"""An in-memory Studio for testing the window's wiring without a model: jobs are plain functions
that report, wait on the cancel token or raise. The real layers are exercised in test_workflow.py."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import numpy as np

from jukestudio.audio.export import export_wav
from jukestudio.audio.io import load_prompt
from jukestudio.engine.progress import Cancelled, Progress
from jukestudio.gui.model_access import ModelEntry
from jukestudio.gui.records import TakeItem, Vocabulary
from jukestudio.gui.studio import JobSpec, Studio
from jukestudio.project.settings import ProjectSettings

SR = 44100
ARTISTS = ["alan jackson", "the beatles", "beck"]
GENRES = ["country", "rock", "pop"]


class _NoModels:
    """The fake needs no weights: the window's model preload gets nothing and nothing fails."""

    def get(self, name: str, decoder_only: bool = False) -> None:
        return None


class FakeStudio(Studio):
    # plain attributes instead of the real Studio's project-backed properties
    project_dir = None
    dirty = False
    can_undo = False
    can_redo = False

    def __init__(self) -> None:
        super().__init__()
        self.models = _NoModels()
        self.takes_: dict[str, TakeItem] = {}
        self.audio: dict[str, np.ndarray] = {}
        self.song = ProjectSettings()
        self.undo_stack: list[list[TakeItem]] = []
        self.saved = 0
        self.ids = itertools.count(1)
        self.gate = threading.Event()  # compose jobs with block=True wait on it (or on cancel)
        self.block = False
        self.fail_with: str | None = None
        self.job_calls: list[tuple[str, dict]] = []
        self.rows: dict[str, list[np.ndarray]] = {}  # the audio each job's takes will have
        self.windows_done: dict[str, int] = {}  # of 5 per job
        self.grow_calls: list[tuple[str, int]] = []
        self.regions: dict[str, tuple[float, float]] = {}  # takes upsampled in a region (at level 2)
        self.resumable: dict[str, JobSpec] = {}  # cancelled jobs that finished a step, by job id

    # models
    def list_models(self):
        return [ModelEntry("fake", "complete")]

    def vocabulary(self, name):
        return Vocabulary(
            search_artists=lambda q, n: [a for a in ARTISTS if q in a][:n],
            search_genres=lambda q, n: [g for g in GENRES if q in g][:n],
            is_artist=lambda a: a in ARTISTS,
            is_genre=lambda g: g in GENRES,
            dropped_positions=lambda text: [i for i, c in enumerate(text) if c == "@"],
            max_genres=1,
            min_song_s=12.0,
            max_song_s=300.0,
            analyse=lambda a, genres: (a not in [*ARTISTS, "unknown"], [g for g in genres if g not in GENRES]),
        )

    # project
    def new_project(self, folder: Path, settings: ProjectSettings) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.project_dir, self.song = folder, settings

    def open_project(self, folder: Path) -> None:
        if not folder.exists():
            raise OSError("no such folder")
        self.project_dir = folder

    def save_as(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.project_dir = folder

    def rename_project(self, name: str) -> Path:
        new = self.project_dir.with_name(name)
        self.project_dir.rename(new)
        self.project_dir = new
        return new

    def save(self) -> None:
        self.saved += 1
        self.dirty = False

    def project_settings(self):
        return self.song

    def set_project_settings(self, settings):
        self.song = settings

    def takes(self):
        return list(self.takes_.values())

    def take_settings(self, take_id):
        return self.song

    def rename_take(self, take_id, name):
        t = self.takes_[take_id]
        self.takes_[take_id] = TakeItem(t.take_id, name, t.parent_id, t.status, t.duration_s, t.rating)

    def rate_take(self, take_id, stars):
        t = self.takes_[take_id]
        self.takes_[take_id] = TakeItem(t.take_id, t.name, t.parent_id, t.status, t.duration_s, stars)

    def delete_takes(self, ids):
        self.undo_stack.append(list(self.takes_.values()))
        for i in ids:
            self.takes_.pop(i)
        self.can_undo = True

    def undo(self):
        if not self.undo_stack:
            return ""
        self.takes_ = {t.take_id: t for t in self.undo_stack.pop()}
        self.can_undo = bool(self.undo_stack)
        return "delete"

    def redo(self):
        return ""

    def level_spans(self, take_id):
        spans = {0: [(0.0, self.takes_[take_id].duration_s)]}
        if take_id in self.regions:
            spans[2] = [self.regions[take_id]]
        return spans

    def alignment(self, take_id):
        return [(0.1, 0.4, "la"), (0.5, 0.9, "di")]

    def take_audio(self, take_id):
        return self.audio[take_id]

    def load_prompt(self, path):
        return load_prompt(path)

    def export(self, take_id, path, subtype, normalise, region):
        audio = self.audio[take_id]
        if region:
            audio = audio[int(region[0] * SR) : int(region[1] * SR)]
        return export_wav(path, audio, subtype, normalise=normalise)

    # jobs
    def _job(
        self, kind: str, n: int, parent: str | None, seconds: float, region=None, **info
    ) -> JobSpec:
        job_id = f"{kind}-{next(self.ids)}"
        self.job_calls.append((kind, info))
        rows = [(0.1 * np.random.default_rng(k).standard_normal(int(seconds * SR))).astype(np.float32)
                for k in range(n)]  # fmt: skip
        self.rows[job_id] = rows
        self.windows_done[job_id] = 0

        def run(report, token):
            if self.fail_with:
                raise RuntimeError(self.fail_with)
            for step in range(1, 6):
                self.windows_done[job_id] = step - 1  # saved before the engine reports the next window
                report(Progress(job_id, 0, step - 1, 5, step, 5, 50.0, 0.1 * (5 - step), step / 5))
                if self.block:
                    while not self.gate.wait(0.01):
                        if token.cancelled:
                            self.resumable[job_id] = spec  # reported steps are kept: it can go on
                            raise Cancelled(None)
                time.sleep(0.01)
            ids = []
            for k in range(n):
                take_id = f"t{next(self.ids)}"
                self.audio[take_id] = rows[k]
                self.takes_[take_id] = TakeItem(take_id, f"take {take_id}", parent, "coarse", seconds)
                ids.append(take_id)
            if region is not None:
                for take_id in info["ids"]:
                    self.regions[take_id] = region
                    t = self.takes_[take_id]
                    self.takes_[take_id] = TakeItem(
                        t.take_id, t.name, t.parent_id, "partial", t.duration_s, t.rating,
                        f"Full {region[0]:.1f}–{region[1]:.1f} s",
                    )  # fmt: skip
            return ids

        spec = JobSpec(
            job_id, f"{kind} {n}", kind, run, tuple(info.get("ids", ())), region,
            new_takes=n, new_takes_parent=parent, new_takes_seconds=seconds,
        )  # fmt: skip
        return spec

    def compose_job(self, settings, seed, prompt, prompt_name):
        return self._job("compose", settings.n_takes, None, settings.take_length_s, seed=seed, prompt=prompt)

    def continue_job(self, ids, seconds, settings, seed):
        return self._job("continue", 1, ids[0], self.takes_[ids[0]].duration_s + seconds)

    def upsample_job(self, ids, region, settings):
        return self._job("upsample", 0, None, 0, region, ids=ids)

    def grown_audio(self, job_id, start_sample=0, rows=None):
        """What the finished windows (of 5) of a job decode to, from ``start_sample`` on."""
        self.grow_calls.append((job_id, start_sample))
        rows = [self.rows[job_id][r] for r in (rows if rows is not None else range(len(self.rows[job_id])))]
        end = len(rows[0]) * self.windows_done[job_id] // 5 if rows else 0
        return start_sample, [r[start_sample:end] for r in rows]

    def resume_jobs(self):
        return list(self.resumable.values())

    def unfinished_jobs(self):
        return list(self.resumable)

    def is_resumable(self, job_id):
        return job_id in self.resumable

    def resume_job(self, job_id):
        spec = self.resumable.pop(job_id, None)
        return JobSpec(job_id, f"Resume: {spec.label}", spec.kind, spec.fn) if spec else None

    def describe_kept(self, result, resumable=True):
        return "kept Preview 0.5 s; Resume goes on from there" if resumable else "nothing was finished yet"

    def job_ended(self, job_id, result=None):
        self.dirty = True
        return list(result or []) if isinstance(result, list) else []


def fake_window(qtbot, audition, folder, ready: str = "models_listed"):
    """A MainWindow over a FakeStudio with a new project in ``folder``, shown once its ``ready`` signal
    came (``models_listed`` or ``vocabulary_ready``); closed afterwards. For ``yield from`` in a fixture."""
    from jukestudio.gui.main_window import MainWindow

    w = MainWindow(FakeStudio(), audition)
    qtbot.addWidget(w)
    with qtbot.waitSignal(getattr(w, ready), timeout=10_000):
        w.show()
    assert w.new_project(folder)
    yield w
    w.close()
