"""Finishing a job into the project's takes: the one place a job's results become takes.

:func:`finish_job` writes a done job's codes into its takes (new takes for compose/continue, with
their lyric words from the top prior's attention and a top-level preview; filled levels for
upsample). The window and the CLI both come here through ``runner.run_job``, so a job finishes into
the same takes whichever front end (or process) runs its last window. Take ids are chosen when the
job is created (``job.json`` lists them), so finishing a job twice rewrites the same takes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jukestudio.engine.decode import module_device, preview_audio
from jukestudio.engine.state import JobState
from jukestudio.levels import LEVEL_KEYS
from jukestudio.project import Project, ProjectSettings
from jukestudio.project.takes import new_take_id

logger = logging.getLogger(__name__)


def project_dir_of(state: JobState) -> Path:
    return state.folder.parent.parent


def open_project_of(state: JobState, project: Project | None = None) -> Project:
    """The job's project: the caller's open one (checked to be the job's), else opened from disk."""
    if project is None:
        return Project.open(project_dir_of(state))
    if project.folder.resolve() != project_dir_of(state).resolve():
        raise ValueError(f"job {state.job_id} belongs to {project_dir_of(state)}, not to {project.folder}")
    return project


def finish_job(state: JobState, model: Any, project: Project | None = None) -> list[str]:
    """Write a finished job's codes into the project's takes; returns the take ids.

    Idempotent, so a finish killed anywhere is redone by ``resume`` to the same takes (the order of
    the writes is in docs/architecture.md, "Finishing a job"): per take take.json (a new take), then
    its codes level by level (each followed by take.json's level status), then the previews. A take
    this job already made is completed; the leftover of a killed take write is replaced (add_take).
    Preview jobs wrote their audio take by take while running: nothing is left to write.
    """
    project = open_project_of(state, project)
    kind, info, codes = state.info["kind"], state.info, state.codes
    take_ids = list(info["take_ids"])
    if kind in ("compose", "continue") and not take_ids:
        # a job created without take ids (by an older version): choose them and record them first,
        # so finishing again after a crash rewrites the same takes
        take_ids = [new_take_id() + f"{i:02d}" for i in range(codes[0].shape[0])]
        info["take_ids"] = take_ids
        state.save(tensors=False)
    if kind in ("compose", "continue"):
        _add_new_takes(project, model, state, take_ids)
        for i, take_id in enumerate(take_ids):
            for level, level_codes in enumerate(codes):
                if level_codes.shape[1]:  # levels not sampled by this job hold only the prompt: partial
                    done = level in state.settings["levels"] or level == 0
                    project.write_codes(take_id, level, level_codes[i], complete=done)
        _write_previews(project, model, take_ids, codes[0])
    elif kind == "upsample":
        source = info.get("source", {})
        region = source.get("region_tokens") or source.get("region")  # "region": older job files
        for i, take_id in enumerate(take_ids):
            project.remove_write_leftovers(take_id)  # of an earlier, killed finish
            for level in state.settings["levels"]:
                project.write_codes(take_id, level, codes[level][i], complete=region is None)
            # the take keeps the job that made it (job_id); every later job joins its history
            extra = dict(project.take(take_id).extra)
            history = list(extra.get("jobs") or [])
            if state.job_id not in {entry.get("id") for entry in history if isinstance(entry, dict)}:
                extra["jobs"] = [*history, job_record(state)]
                project.update_take(take_id, extra=extra)
    elif kind != "preview":
        raise ValueError(f"job {state.job_id}: unknown kind {kind!r}")
    return take_ids


def job_record(state: JobState) -> dict[str, Any]:
    """One entry of a take's job history (take.extra["jobs"]): which job, seed, levels and region."""
    source = state.info.get("source", {})
    region = source.get("region_s")
    return {
        "id": state.job_id,
        "kind": state.info["kind"],
        "seed": int(state.settings.get("seed", 0)),
        "levels": [LEVEL_KEYS[p] for p in state.settings.get("levels", [])],
        "region_s": list(region) if region else None,
    }


def _add_new_takes(project: Project, model: Any, state: JobState, take_ids: Sequence[str]) -> None:
    """Create the job's new takes (those not made by an earlier, interrupted finish), each with its
    lyric words in ``extra["words"]``."""
    info, codes = state.info, state.codes
    source = info.get("source", {})
    hop = model.geometries[0].raw_to_tokens
    sr = int(info.get("sampling_rate", model.config.sampling_rate))
    continued_from = None
    if info["kind"] == "continue":
        continued_from = int(source.get("continued_from_tokens", 0)) * hop / sr
    for take_id in take_ids:
        if take_id in project:  # made by an earlier, killed finish: completed now
            if project.take(take_id).job_id != state.job_id:
                raise ValueError(f"take {take_id} exists already and was not made by job {state.job_id}")
            project.remove_write_leftovers(take_id)
    missing = [i for i, take_id in enumerate(take_ids) if take_id not in project]
    if not missing:
        return
    settings = job_project_settings(state) or project.settings
    words = lyric_words(model, state, settings.lyrics)
    for i in missing:
        project.add_take(
            source.get("parent_id"),
            origin=info["kind"],
            continued_from_s=continued_from,
            settings=settings,
            seed=int(state.settings.get("seed", 0)),
            duration_s=int(codes[0].shape[1]) * hop / sr,
            job_id=state.job_id,
            extra={
                "batch_index": i,
                "model": info.get("model"),
                "words": words[i],
                "conditioning": source.get("conditioning"),
                "jobs": [job_record(state)],
            },
            take_id=take_ids[i],
        )


def job_project_settings(state: JobState) -> ProjectSettings | None:
    """The song settings the job was made from (None for jobs from before they were recorded)."""
    data = state.info.get("project_settings")
    return ProjectSettings.from_dict(data, f"{state.folder}/job.json") if data is not None else None


def _write_previews(project: Project, model: Any, take_ids: Sequence[str], top: torch.Tensor) -> None:
    """Decode the top level so new takes can be heard at once (skipped when the VQ-VAE is not loaded)."""
    try:
        audio = preview_audio(model, top.to(module_device(model.vqvae)), level=0)
    except (RuntimeError, NotImplementedError) as exc:  # e.g. a VQ-VAE left on the meta device
        logger.warning("no preview for the new takes: %s", exc)
        return
    for take_id, row in zip(take_ids, audio.numpy().astype(np.float32), strict=True):
        project.write_preview(take_id, row, prior_level=0)


# ---------------------------------------------------------------------- lyric words


_WORD = re.compile(r"\S+")


def lyric_words(model: Any, state: JobState, lyrics: str) -> list[list[list[Any]]]:
    """Per row of the job, the lyric words with times from the top prior's attention (best effort:
    models without lyrics or an alignment head give none; a failure is logged, the takes are kept)."""
    from jukestudio.model.tokenizer import clean_lyrics

    prior = model.priors[0]
    config = model.config.prior_configs[0]
    n = int(state.codes[0].shape[0])
    if not config.has_lyrics or config.alignment_layer is None or not lyrics.strip():
        return [[] for _ in range(n)]
    try:
        from jukestudio.model import vocab

        cleaned = clean_lyrics(lyrics, vocab.lyric_version_for_size(config.lyric_vocab_size))
        with torch.inference_mode():
            alignments = prior.get_alignment(
                state.codes[0].to(module_device(prior)),
                state.labels[0].to(module_device(prior)),
                total_length=int(state.settings["total_length"]),
                offset=int(state.settings.get("offset", 0)),
            )
        seconds_per_token = model.geometries[0].raw_to_tokens / model.config.sampling_rate
        return [
            words_from_alignment(alignments[row].float().cpu().numpy(), lyrics, cleaned.positions, seconds_per_token)
            for row in range(n)
        ]
    except Exception:  # the alignment is a view aid; the sampled takes matter more
        logger.exception("lyric alignment failed; the takes are kept without it")
        return [[] for _ in range(n)]


def words_from_alignment(
    alignment: Any, lyrics: str, positions: tuple[int, ...], seconds_per_token: float
) -> list[list[Any]]:
    """``[[start_s, end_s, word], ...]`` from an alignment (T tokens × lyric ids): the most attended
    character of each token, traced to the word the user typed.

    ``positions[i]`` is the index in ``lyrics`` of lyric id ``i`` (the tokenizer's trace), so words are
    the user's own words as typed.
    """
    spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(lyrics)]
    if not spans or alignment is None or alignment.shape[0] == 0 or alignment.shape[1] == 0:
        return []
    char_to_word = {}
    for w, (start, end, _) in enumerate(spans):
        for c in range(start, end):
            char_to_word[c] = w
    # Lyrics are sung in order: a word starts where the attention first moves past the previous
    # word to it, and lasts until the next word starts (the original's monotonic reading).
    best_char = alignment.argmax(axis=1)
    starts: list[tuple[int, int]] = []  # (token, word index)
    current = -1
    for t, c in enumerate(best_char):
        w = char_to_word.get(positions[int(c)]) if int(c) < len(positions) else None
        if w is not None and w > current:
            current = w
            starts.append((t, w))
    words = []
    for i, (t, w) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(best_char)
        words.append([round(t * seconds_per_token, 3), round(end * seconds_per_token, 3), spans[w][2]])
    return words
