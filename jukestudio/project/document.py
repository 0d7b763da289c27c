"""The project document: settings + take tree in one folder the user can copy, crash-safe and undoable.

Engine results (new takes, codes, previews, level status) are written to disk at once: a take is
never lost. User edits (rename, rate, notes, trim, settings) mark the document dirty; ``save()`` (or
:class:`~jukestudio.project.autosave.Autosave`) writes them. Deleting takes moves their folders into
``trash/`` so that undo brings them back with all their files; the trash is emptied when the undo
history forgets the deletion and on ``close()``; a crashed session's leftovers go on a later
``open()`` once they are a week old.

All methods may be called from any thread (one re-entrant lock). Listeners are called on the thread
that made the change, with an event name and the take ids involved.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jukestudio.atomic import atomic_write_json, is_temp_leftover
from jukestudio.project import store
from jukestudio.project.commands import DeleteTakes, ReplaceSettings, SetTakeFields
from jukestudio.project.errors import (
    ProjectCorruptError,
    ProjectError,
    ProjectNotFoundError,
    ProjectVersionError,
    TakeNotFoundError,
)
from jukestudio.project.settings import LEVEL_NAMES, N_LEVELS, ProjectSettings
from jukestudio.project.takes import (
    LEVEL_STATES,
    ORIGINS,
    Take,
    Trim,
    check_take_id,
    new_take_id,
    now_iso,
)
from jukestudio.project.undo import UndoStack

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TRASH_KEEP_S = 7 * 24 * 3600
FORMAT_NAME = "jukestudio-project"
Listener = Callable[[str, tuple[str, ...]], None]
"""``listener(event, take_ids)``; events: take_added, take_changed, takes_removed, takes_restored,
settings_changed, saved."""


class Project:
    def __init__(self, folder: Path, settings: ProjectSettings, created: str) -> None:
        """Use :meth:`create` or :meth:`open`."""
        self.folder = folder
        self._settings = settings
        self.created = created
        self._takes: dict[str, Take] = {}
        self._lock = threading.RLock()
        self._dirty_takes: set[str] = set()
        self._settings_dirty = False
        self.undo_stack = UndoStack()
        self.listeners: list[Listener] = []
        self.problems: list[str] = []
        """Messages about files that could not be loaded (damaged take.json, …); they were not touched."""

    # ------------------------------------------------------------------ create / open / save

    @classmethod
    def create(cls, folder: str | os.PathLike[str], settings: ProjectSettings | None = None) -> Project:
        folder = Path(folder)
        if (folder / store.PROJECT_FILE).exists():
            raise ProjectError(f"{folder}: there is a project here already; open it instead")
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ProjectError(f"{folder}: choose a new or empty folder for a new project")
        settings = (settings or ProjectSettings()).validate()
        project = cls(folder, settings, now_iso())
        for sub in (store.TAKES_DIR, store.JOBS_DIR):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        project._write_project_file()
        log.info("created project %s", folder)
        return project

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> Project:
        """Load a project. Damaged or newer files raise; nothing on disk is changed before loading succeeds."""
        folder = Path(folder)
        path = folder / store.PROJECT_FILE
        if not folder.is_dir():
            raise ProjectNotFoundError(f"{folder}: no such folder")
        if not path.exists():
            raise ProjectNotFoundError(f"{folder}: not a jukestudio project (there is no {store.PROJECT_FILE})")
        data = store.read_json(path, "project file")
        if not isinstance(data, dict) or "schema_version" not in data:
            raise ProjectCorruptError(f"{path}: not a jukestudio project file (no schema_version); left untouched")
        version = data["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ProjectVersionError(f"{path}: unknown project schema {version!r}; the file was left untouched")
        if version > SCHEMA_VERSION:
            raise ProjectVersionError(
                f"{path}: saved by a newer jukestudio (project schema {version}; this version reads up to "
                f"{SCHEMA_VERSION}). Update jukestudio to open it; the file was left untouched."
            )
        settings = ProjectSettings.from_dict(data.get("settings", {}), f"{path} settings")
        created = data.get("created") if isinstance(data.get("created"), str) else ""
        project = cls(folder, settings, created)
        project._load_takes()
        project._purge_old_trash()
        return project

    def _load_takes(self) -> None:
        takes_dir = self.folder / store.TAKES_DIR
        if not takes_dir.is_dir():
            return
        for sub in sorted(p for p in takes_dir.iterdir() if p.is_dir()):
            path = sub / store.TAKE_FILE
            if not path.exists():
                self.problems.append(f"{sub}: take folder without {store.TAKE_FILE} (an interrupted write?)")
                continue
            try:
                data = store.read_json(path, "take file")
                version = data.get("schema_version", 1) if isinstance(data, dict) else 1
                if not isinstance(version, int) or version > SCHEMA_VERSION:
                    self.problems.append(
                        f"{path}: saved by a newer jukestudio (take schema {version!r}); skipped and left untouched"
                    )
                    continue
                take = Take.from_dict(data, str(path))
            except ProjectCorruptError as exc:
                self.problems.append(str(exc))
                continue
            if take.id != sub.name:
                self.problems.append(f"{path}: take id {take.id!r} does not match its folder; skipped")
                continue
            self._takes[take.id] = take
        self._break_cycles()
        for problem in self.problems:
            log.info("%s", problem)  # reported to the user through project.problems (window, CLI errors)

    def _break_cycles(self) -> None:
        """Hand-edited files can make a take its own ancestor; show such a take as a root."""
        for take in list(self._takes.values()):
            seen = {take.id}
            parent = take.parent_id
            while parent in self._takes:
                if parent in seen:
                    self.problems.append(f"take {take.id}: its parent chain loops; shown as a root")
                    self._takes[take.id] = take.copy(parent_id=None)
                    break
                seen.add(parent)
                parent = self._takes[parent].parent_id

    def _write_project_file(self) -> None:
        data = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "created": self.created,
            "modified": now_iso(),
            "settings": self._settings.to_dict(),
        }
        atomic_write_json(self.folder / store.PROJECT_FILE, data)

    def _write_take_file(self, take: Take) -> None:
        atomic_write_json(
            self.take_dir(take.id) / store.TAKE_FILE, {"schema_version": SCHEMA_VERSION, **take.to_dict()}
        )

    @property
    def dirty(self) -> bool:
        return self._settings_dirty or bool(self._dirty_takes)

    def save(self) -> bool:
        """Write pending edits (each file atomically). Returns whether anything was written."""
        with self._lock:
            if not self.dirty:
                return False
            for take_id in sorted(self._dirty_takes):
                if take_id in self._takes:
                    self._write_take_file(self._takes[take_id])
            self._dirty_takes.clear()
            if self._settings_dirty:
                self._write_project_file()
                self._settings_dirty = False
        self._emit("saved", ())
        return True

    def close(self) -> None:
        """Save, make this session's deletions final (their trash goes) and forget the undo history."""
        with self._lock:
            self.save()
            self.undo_stack.clear()
            trash = self.folder / store.TRASH_DIR
            if trash.is_dir() and not any(trash.iterdir()):
                trash.rmdir()

    def _purge_old_trash(self) -> None:
        """Trash left by a session that crashed. Another window may still hold the project open
        with undo history pointing into trash/, so only entries older than TRASH_KEEP_S go."""
        trash = self.folder / store.TRASH_DIR
        if not trash.is_dir():
            return
        cutoff = time.time() - TRASH_KEEP_S
        for entry in trash.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                continue

    # ------------------------------------------------------------------ listeners

    def _emit(self, event: str, take_ids: Iterable[str]) -> None:
        ids = tuple(take_ids)
        for listener in list(self.listeners):
            try:
                listener(event, ids)
            except Exception:  # a broken view must not break the document
                log.exception("project listener failed on %s", event)

    # ------------------------------------------------------------------ reading

    @property
    def settings(self) -> ProjectSettings:
        return self._settings

    @property
    def takes(self) -> dict[str, Take]:
        """A snapshot copy of the takes by id (edit through the methods, not this dict)."""
        with self._lock:
            return dict(self._takes)

    def take(self, take_id: str) -> Take:
        try:
            return self._takes[take_id]
        except KeyError:
            raise TakeNotFoundError(f"no take {take_id!r} in {self.folder} (deleted?)") from None

    def __contains__(self, take_id: object) -> bool:
        return take_id in self._takes

    def __len__(self) -> int:
        return len(self._takes)

    def take_dir(self, take_id: str) -> Path:
        return self.folder / store.TAKES_DIR / check_take_id(take_id)

    @property
    def jobs_dir(self) -> Path:
        return self.folder / store.JOBS_DIR

    # ------------------------------------------------------------------ tree

    def _sorted(self, takes: Iterable[Take]) -> list[Take]:
        return sorted(takes, key=lambda t: (t.created, t.id))

    def roots(self) -> list[Take]:
        """Takes without a (present) parent, oldest first; orphans of a damaged parent show here."""
        with self._lock:
            return self._sorted(t for t in self._takes.values() if t.parent_id not in self._takes)

    def children(self, take_id: str | None) -> list[Take]:
        with self._lock:
            if take_id is None:
                return self.roots()
            return self._sorted(t for t in self._takes.values() if t.parent_id == take_id)

    def ancestors(self, take_id: str) -> list[Take]:
        """The parent chain, root first, ending with the take itself."""
        with self._lock:
            chain = [self.take(take_id)]
            seen = {take_id}
            while chain[-1].parent_id in self._takes and chain[-1].parent_id not in seen:
                seen.add(chain[-1].parent_id)
                chain.append(self._takes[chain[-1].parent_id])
            return chain[::-1]

    def subtree(self, take_id: str) -> list[Take]:
        """The take and all its descendants, parents before children."""
        with self._lock:
            out, stack, seen = [], [self.take(take_id)], set()
            while stack:
                take = stack.pop()
                if take.id in seen:
                    continue
                seen.add(take.id)
                out.append(take)
                stack.extend(reversed(self.children(take.id)))
            return out

    def walk(self) -> Iterator[tuple[int, Take]]:
        """(depth, take) for the whole tree, depth first, siblings oldest first."""
        with self._lock:
            seen: set[str] = set()
            stack = [(0, t) for t in reversed(self.roots())]
            while stack:
                depth, take = stack.pop()
                if take.id in seen:
                    continue
                seen.add(take.id)
                yield depth, take
                stack.extend((depth + 1, c) for c in reversed(self.children(take.id)))

    # ------------------------------------------------------------------ engine side (saved at once)

    def add_take(
        self,
        parent_id: str | None = None,
        *,
        name: str | None = None,
        origin: str = "compose",
        continued_from_s: float | None = None,
        settings: ProjectSettings | None = None,
        seed: int | None = None,
        duration_s: float = 0.0,
        job_id: str | None = None,
        extra: dict[str, Any] | None = None,
        take_id: str | None = None,
    ) -> Take:
        """A new take (compose: root or child of a prompt; continue: child), written to disk now."""
        if origin not in ORIGINS:
            raise ValueError(f"unknown take origin {origin!r}; known: {', '.join(ORIGINS)}")
        with self._lock:
            if parent_id is not None:
                self.take(parent_id)
            take_id = check_take_id(take_id) if take_id else new_take_id()
            if take_id in self._takes or not self._reusable_take_dir(take_id):
                raise ProjectError(f"{self.take_dir(take_id)}: a take with this id exists already")
            if continued_from_s is not None and continued_from_s < 0:
                raise ValueError(f"continued_from_s must be ≥ 0, got {continued_from_s}")
            take = Take(
                id=take_id,
                parent_id=parent_id,
                name=name if name is not None else self._default_name(parent_id),
                origin=origin,
                continued_from_s=continued_from_s,
                settings=(settings or self._settings).copy(),
                seed=seed,
                duration_s=float(duration_s),
                job_id=job_id,
                extra=dict(extra or {}),
            )
            self._write_take_file(take)
            self._takes[take.id] = take
        self._emit("take_added", (take.id,))
        return take

    def _reusable_take_dir(self, take_id: str) -> bool:
        """True when there is no folder for ``take_id``, or only the leftover of an add_take killed
        before its take.json was renamed into place (nothing but temp files: take.json is a take's
        first file). Such leftovers are removed, so finishing a killed job is never a dead end."""
        folder = self.take_dir(take_id)
        if not folder.exists():
            return True
        if not folder.is_dir() or self._remove_write_leftovers(folder):
            return False
        folder.rmdir()
        log.info("removed the leftover of an interrupted take write: %s", folder)
        return True

    def remove_write_leftovers(self, take_id: str) -> None:
        """Delete the temp files that writes killed before their rename left in a take's folder (the
        engine calls it when it finishes a job into the take, under the job's lock)."""
        with self._lock:
            folder = self.take_dir(take_id)
            if folder.is_dir():
                self._remove_write_leftovers(folder)

    @staticmethod
    def _remove_write_leftovers(folder: Path) -> list[Path]:
        """Remove atomic-write temp files from ``folder``; returns the other entries."""
        kept = []
        for entry in list(folder.iterdir()):
            if is_temp_leftover(entry) and entry.is_file():
                entry.unlink(missing_ok=True)
            else:
                kept.append(entry)
        return kept

    def _default_name(self, parent_id: str | None) -> str:
        """ "Take 3" for a root, "Take 3.2" for a child; never the name of a sibling (after deletions)."""
        siblings = self.children(parent_id)
        used = {t.name for t in siblings}
        prefix = "Take " if parent_id is None else f"{self._takes[parent_id].name}."
        number = len(siblings) + 1
        while f"{prefix}{number}" in used:
            number += 1
        return f"{prefix}{number}"

    def update_take(self, take_id: str, **changes: Any) -> Take:
        """Engine-side metadata (duration_s, seed, job_id, extra, continued_from_s); saved now, not undoable."""
        allowed = {"duration_s", "seed", "job_id", "extra", "continued_from_s"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"update_take cannot change {', '.join(sorted(unknown))}; use the undoable actions")
        with self._lock:
            take = self.take(take_id).copy(**changes)
            self._write_take_file(take)
            self._takes[take_id] = take
            self._dirty_takes.discard(take_id)
        self._emit("take_changed", (take_id,))
        return take

    def set_level_status(self, take_id: str, prior_level: int, status: str) -> None:
        store.check_level(prior_level)
        if status not in LEVEL_STATES:
            raise ValueError(f"level status must be one of {', '.join(LEVEL_STATES)}, got {status!r}")
        with self._lock:
            take = self.take(take_id).copy()
            take.status[LEVEL_NAMES[prior_level]] = status
            self._write_take_file(take)
            self._takes[take_id] = take
            self._dirty_takes.discard(take_id)
        self._emit("take_changed", (take_id,))

    def write_codes(self, take_id: str, prior_level: int, codes: torch.Tensor, *, complete: bool = True) -> None:
        """Store a take's codes at one prior level (1-D int64) and mark that level done (or partial)."""
        store.check_level(prior_level)
        with self._lock:
            self.take(take_id)
            path = self.take_dir(take_id) / store.codes_name(prior_level)
            store.write_codes_file(path, codes, take_id, prior_level)
            self.set_level_status(take_id, prior_level, "done" if complete else "partial")

    def read_codes(self, take_id: str) -> list[torch.Tensor | None]:
        """Codes per prior level (prior order: top, middle, bottom); None where a level has none."""
        with self._lock:
            self.take(take_id)
            folder = self.take_dir(take_id)
        return [store.read_codes_file(folder / store.codes_name(p)) for p in range(N_LEVELS)]

    def write_preview(self, take_id: str, audio: np.ndarray, prior_level: int | None = None) -> None:
        """Cache decoded audio (float32 mono 44.1 kHz) of the take at one prior level.

        ``prior_level`` None means the take's best finished level (0 when none is finished yet).
        """
        with self._lock:
            take = self.take(take_id)
            if prior_level is None:
                prior_level = take.best_level if take.best_level is not None else 0
            store.check_level(prior_level)
            store.write_preview_file(self.take_dir(take_id) / store.preview_name(prior_level), audio)
        self._emit("take_changed", (take_id,))

    def preview_levels(self, take_id: str) -> list[int]:
        folder = self.take_dir(take_id)
        return [p for p in range(N_LEVELS) if (folder / store.preview_name(p)).exists()]

    def read_preview(self, take_id: str, prior_level: int | None = None) -> np.ndarray | None:
        """Cached audio at ``prior_level``, or the best cached level (full before coarse) when None."""
        with self._lock:
            self.take(take_id)
            levels = [store.check_level(prior_level)] if prior_level is not None else self.preview_levels(take_id)
            folder = self.take_dir(take_id)
        for level in sorted(levels, reverse=True):
            audio = store.read_preview_file(folder / store.preview_name(level))
            if audio is not None:
                return audio
        return None

    # ------------------------------------------------------------------ user actions (undoable)

    def _set_fields(self, label: str, take_id: str, **changes: Any) -> None:
        with self._lock:
            current = self.take(take_id)
            old = {key: getattr(current, key) for key in changes}
            if old == changes:
                return
            command = SetTakeFields(self, label, take_id, old, dict(changes))
            command.redo()
            self.undo_stack.push(command)

    def rename_take(self, take_id: str, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a take needs a name")
        self._set_fields(f"Rename take to “{name}”", take_id, name=name)

    def rate_take(self, take_id: str, rating: int) -> None:
        if isinstance(rating, bool) or not isinstance(rating, int) or not 0 <= rating <= 5:
            raise ValueError(f"rating must be 0 (none) to 5 stars, got {rating!r}")
        self._set_fields("Rate take", take_id, rating=rating)

    def set_notes(self, take_id: str, notes: str) -> None:
        self._set_fields("Edit notes", take_id, notes=str(notes))

    def set_trim(self, take_id: str, trim: Trim | None) -> None:
        if trim is not None and not isinstance(trim, Trim):
            raise TypeError("trim must be a Trim or None")
        self._set_fields("Trim take" if trim else "Clear trim", take_id, trim=trim)

    def update_settings(self, **changes: Any) -> None:
        """Change project settings (validated), as one undoable step."""
        with self._lock:
            before = self._settings
            after = before.copy(**changes)
            if after == before:
                return
            command = ReplaceSettings(self, before, after)
            command.redo()
            self.undo_stack.push(command)

    def delete_take(self, take_id: str) -> list[str]:
        """Delete a take and its whole subtree (undoable: files go to trash/ until the deletion is final)."""
        with self._lock:
            doomed = self.subtree(take_id)
            command = DeleteTakes(self, doomed)
            command.redo()
            self.undo_stack.push(command)
            return [t.id for t in doomed]

    def undo(self) -> str | None:
        with self._lock:
            return self.undo_stack.undo()

    def redo(self) -> str | None:
        with self._lock:
            return self.undo_stack.redo()

    @property
    def can_undo(self) -> bool:
        return self.undo_stack.can_undo

    @property
    def can_redo(self) -> bool:
        return self.undo_stack.can_redo

    # ------------------------------------------------------------------ export

    def export_metadata(self, take_id: str) -> dict[str, Any]:
        """Everything needed to reproduce a take, for an export sidecar.

        ``artist``/``genres`` say what the model got (an unknown name is "unknown"; what was typed is in
        ``conditioning``); ``jobs`` is the full history of jobs that made the take and its ancestors, and
        ``seeds`` every seed they used, upsample seeds included.
        """
        from jukestudio import __version__

        with self._lock:
            chain = self.ancestors(take_id)
        take = chain[-1]
        settings = take.settings
        conditioning = take.extra.get("conditioning") if isinstance(take.extra.get("conditioning"), dict) else None
        jobs = [entry for t in chain for entry in _job_history(t)]
        return {
            "app": {"name": "jukestudio", "version": __version__},
            "model": settings.model,
            "artist": conditioning["artist"] if conditioning else settings.artist,
            "genres": conditioning["genres"] if conditioning and conditioning["unknown_genres"] else settings.genres,
            "lyrics": settings.lyrics,
            "conditioning": conditioning,
            "total_length_s": settings.total_length_s,
            "seeds": [entry.get("seed") for entry in jobs],
            "jobs": jobs,
            "temperatures": list(settings.temperatures),
            "top_k": settings.top_k,
            "top_p": settings.top_p,
            "levels": dict(take.status),
            "take": {
                "id": take.id,
                "name": take.name,
                "rating": take.rating,
                "notes": take.notes,
                "duration_s": take.duration_s,
                "trim": take.trim.to_dict() if take.trim else None,
            },
            "parent_chain": [
                {
                    "id": t.id,
                    "name": t.name,
                    "origin": t.origin,
                    "continued_from_s": t.continued_from_s,
                    "seed": t.seed,
                    "job_id": t.job_id,
                    "settings": t.settings.to_dict(),
                    "extra": t.extra,
                }
                for t in chain
            ],
        }


def _job_history(take: Take) -> list[dict[str, Any]]:
    """The jobs that made a take, oldest first, each with the take's id (older takes: only the first job)."""
    history = [dict(e) for e in take.extra.get("jobs") or [] if isinstance(e, dict)]
    if take.job_id and take.job_id not in {e.get("id") for e in history}:
        history.insert(0, {"id": take.job_id, "kind": take.origin, "seed": take.seed})
    elif not history and take.seed is not None:
        history.append({"id": None, "kind": take.origin, "seed": take.seed})
    return [{**e, "take": take.id} for e in history]
