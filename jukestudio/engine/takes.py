"""Jobs on a project: build compose/continue/upsample/preview jobs from takes and settings, store results.

The GUI and the CLI both come through here, so a job started in one can be resumed from the other.
Take ids are chosen when the job is created (``job.json`` lists them), so finishing a job twice (a
kill between writing the takes and marking the job done) rewrites the same takes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jukestudio.engine import jobs
from jukestudio.engine.state import JobState
from jukestudio.model import sample_loop
from jukestudio.model.config import JukeboxConfig
from jukestudio.project import Project, ProjectSettings
from jukestudio.project.takes import new_take_id

logger = logging.getLogger(__name__)


def labels_for(config: JukeboxConfig, settings: ProjectSettings) -> list[torch.Tensor]:
    """Tokenizer rows (prior order) for the project's artist, genres and lyrics."""
    from jukestudio.model.tokenizer import JukeboxTokenizer

    tokenizer = JukeboxTokenizer.for_config(config)
    return list(tokenizer(artist=settings.artist, genres=settings.genres, lyrics=settings.lyrics)["input_ids"])


def _seed(settings: ProjectSettings, seed: int | None) -> int:
    if seed is not None:
        return int(seed)
    if settings.seed is not None:
        return int(settings.seed)
    return int(torch.randint(0, 2**62, (1,)).item())


def _sampling(settings: ProjectSettings, seed: int, **kwargs: Any) -> dict[str, Any]:
    if kwargs.get("fast_preview") is None:  # not chosen for this job: the project's setting
        kwargs["fast_preview"] = settings.fast_preview
    return dict(
        temperatures=list(settings.temperatures),
        top_k=settings.top_k,
        top_p=settings.top_p,
        chunk_size=settings.chunk_sizes[0],
        chunk_sizes=list(settings.chunk_sizes),
        max_batch_size=settings.max_batch,
        lower_batch_size=settings.max_batch,
        seed=seed,
        **kwargs,
    )


def _empty(n_levels: int, n: int) -> list[torch.Tensor]:
    return [torch.zeros(n, 0, dtype=torch.long) for _ in range(n_levels)]


def create_compose(
    project: Project,
    config: JukeboxConfig,
    *,
    n_takes: int | None = None,
    seconds: float | None = None,
    prompt_codes: Sequence[torch.Tensor] | None = None,
    prompt_take_id: str | None = None,
    levels: Sequence[int] = (0,),
    seed: int | None = None,
    device: str | None = None,
    compile: bool = False,
    fast_preview: bool | None = None,
) -> JobState:
    """N new takes of ``seconds`` (default: the project's take length), from nothing or a prompt.

    ``prompt_codes``: the prompt encoded at every level (prior order, one row), e.g. from
    ``model.encode_prompt(audio)``; every take starts with it and the sampled levels continue it.
    """
    settings = project.settings
    n = n_takes or settings.n_takes
    n_levels = len(config.prior_configs)
    if prompt_codes is not None:
        # every level starts with the prompt; levels not sampled now keep it for a later upsample
        codes = [c.reshape(1, -1).long().repeat(n, 1) for c in prompt_codes]
    else:
        codes = _empty(n_levels, n)
    seed = _seed(settings, seed)
    sampling = jobs.compose_settings(
        config,
        seconds if seconds is not None else settings.take_length_s,
        total_seconds=settings.total_length_s,
        start_tokens=codes[0].shape[1],
        levels=levels,
        **_sampling(settings, seed, device=device, compile=compile, fast_preview=fast_preview),
    )
    extra = {"prompt_" + str(p): c[:1] for p, c in enumerate(codes) if c.shape[1]}
    return jobs.create_job(
        project.folder,
        "compose",
        model_name=settings.model,
        config=config,
        codes=codes,
        labels=labels_for(config, settings),
        settings=sampling,
        take_ids=[new_take_id() + f"{i:02d}" for i in range(n)],
        source={"parent_id": prompt_take_id, "prompt_tokens": codes[0].shape[1]},
        extra=extra,
    )


def create_continue(
    project: Project,
    config: JukeboxConfig,
    take_id: str,
    *,
    n_variations: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    compile: bool = False,
    fast_preview: bool | None = None,
) -> JobState:
    """N variations that extend a take's top level by ``seconds``: the take repeated N times, continued."""
    settings = project.settings
    top = project.read_codes(take_id)[0]
    if top is None or top.numel() == 0:
        raise ValueError(f"take {take_id} has no top-level codes to continue")
    n = n_variations or settings.n_takes
    codes = _empty(len(config.prior_configs), n)
    codes[0] = top.reshape(1, -1).long().repeat(n, 1)
    seed = _seed(settings, seed)
    sampling = jobs.compose_settings(
        config,
        seconds if seconds is not None else settings.take_length_s,
        total_seconds=settings.total_length_s,
        start_tokens=top.numel(),
        levels=(0,),
        **_sampling(settings, seed, device=device, compile=compile, fast_preview=fast_preview),
    )
    return jobs.create_job(
        project.folder,
        "continue",
        model_name=settings.model,
        config=config,
        codes=codes,
        labels=labels_for(config, settings),
        settings=sampling,
        take_ids=[new_take_id() + f"{i:02d}" for i in range(n)],
        source={"parent_id": take_id, "continued_from_tokens": top.numel()},
    )


def create_upsample(
    project: Project,
    config: JukeboxConfig,
    take_ids: Sequence[str],
    *,
    region_s: tuple[float, float] | None = None,
    levels: Sequence[int] = (1, 2),
    seed: int | None = None,
    device: str | None = None,
    compile: bool = False,
    fast_preview: bool | None = None,
) -> JobState:
    """Levels 1 and 0 (prior levels 1, 2) for the chosen takes, batched; optionally a time region only.

    A region is rounded outwards to whole top-level tokens; its codes are sampled as their own
    sequence placed at the region's offset in the song (timing and lyric labels).
    """
    if not take_ids:
        raise ValueError("choose at least one take to upsample")
    settings = project.settings
    geometries = sample_loop.level_geometries(config)
    hop = geometries[0].raw_to_tokens
    sr = config.sampling_rate
    tops = []
    for take_id in take_ids:
        top = project.read_codes(take_id)[0]
        if top is None or top.numel() == 0:
            raise ValueError(f"take {take_id} has no top-level codes to upsample")
        tops.append(top.reshape(-1).long())
    if len({t.numel() for t in tops}) > 1:
        raise ValueError("takes upsampled together must have the same length; upsample them one at a time")
    top = torch.stack(tops)
    first, last = 0, top.shape[1]
    if region_s is not None:
        first = max(0, int(region_s[0] * sr) // hop)
        last = min(top.shape[1], -(-int(region_s[1] * sr) // hop))
        if last <= first:
            raise ValueError(f"the region {region_s} s lies outside the takes")
    codes = _empty(len(config.prior_configs), len(take_ids))
    codes[0] = top[:, first:last].contiguous()
    if region_s is None:  # lower levels a prompt left behind (status "partial") are continued, not redone
        for level in levels:
            rows = [project.read_codes(t)[level] for t in take_ids]
            partial = all(project.take(t).level_status(level) == "partial" for t in take_ids)
            if partial and all(r is not None for r in rows) and len({r.numel() for r in rows}) == 1:
                codes[level] = torch.stack([r.reshape(-1).long() for r in rows])
    length = (last - first) * hop
    seed = _seed(settings, seed)
    total = max(int(settings.total_length_s * sr), first * hop + length)
    sampling = jobs.SamplingSettings(
        levels=list(levels),
        sample_length=length,
        total_length=total,
        offset=first * hop,
        **_sampling(settings, seed, device=device, compile=compile, fast_preview=fast_preview),
    )
    return jobs.create_job(
        project.folder,
        "upsample",
        model_name=settings.model,
        config=config,
        codes=codes,
        labels=labels_for(config, settings),
        settings=sampling,
        take_ids=list(take_ids),
        source={"region_tokens": [first, last] if region_s is not None else None},
    )


def create_preview(
    project: Project, config: JukeboxConfig, take_ids: Sequence[str], *, level: int | None = None
) -> JobState:
    """A job that decodes each take at ``level`` (default: its best finished level, else the highest
    level with codes) into the project's preview cache."""
    if not take_ids:
        raise ValueError("choose at least one take to preview")
    rows, levels = [], []
    for take_id in take_ids:
        codes = project.read_codes(take_id)
        chosen = level if level is not None else _preview_level(project, take_id, codes)
        if not 0 <= chosen < len(codes):
            raise ValueError(f"take {take_id}: no prior level {chosen}")
        if codes[chosen] is None or codes[chosen].numel() == 0:
            raise ValueError(f"take {take_id} has no codes at level {chosen}")
        rows.append(codes[chosen])
        levels.append(chosen)
    return jobs.create_preview_job(
        project.folder, model_name=project.settings.model, config=config, take_ids=list(take_ids), codes=rows,
        levels=levels,
    )  # fmt: skip


def _preview_level(project: Project, take_id: str, codes: Sequence[torch.Tensor | None]) -> int:
    best = project.take(take_id).best_level
    if best is not None:
        return best
    present = [p for p, c in enumerate(codes) if c is not None and c.numel()]
    if not present:
        raise ValueError(f"take {take_id} has no codes to preview")
    return max(present)


def open_project_of(state: JobState, project: Project | None = None) -> Project:
    """The job's project: the caller's open one (checked to be the job's), else opened from disk."""
    if project is None:
        return Project.open(project_dir_of(state))
    if project.folder.resolve() != project_dir_of(state).resolve():
        raise ValueError(f"job {state.job_id} belongs to {project_dir_of(state)}, not to {project.folder}")
    return project


def finish_job(state: JobState, model: Any, project: Project | None = None) -> list[str]:
    """Write a finished job's codes into the project's takes (and a top-level preview for new takes).

    Preview jobs wrote their audio take by take while running: nothing is left to write.
    """
    project = open_project_of(state, project)
    kind, info, codes = state.info["kind"], state.info, state.codes
    sr = int(info.get("sampling_rate", 44100))
    geometries = sample_loop.level_geometries(model.config)
    seed = int(state.settings.get("seed", 0))
    take_ids = list(info["take_ids"])
    if kind in ("compose", "continue") and not take_ids:
        # a job created elsewhere without take ids (the GUI's): choose them and record them first,
        # so finishing again after a crash rewrites the same takes
        take_ids = [new_take_id() + f"{i:02d}" for i in range(codes[0].shape[0])]
        info["take_ids"] = take_ids
        state.save(tensors=False)
    if kind in ("compose", "continue"):
        source = info.get("source", {})
        parent = source.get("parent_id")
        duration = codes[0].shape[1] * geometries[0].raw_to_tokens / sr
        continued_from = source.get("continued_from_s")
        if kind == "continue" and continued_from is None:
            continued_from = int(source.get("continued_from_tokens", 0)) * geometries[0].raw_to_tokens / sr
        for i, take_id in enumerate(take_ids):
            if take_id not in project:
                project.add_take(
                    parent,
                    origin=kind,
                    continued_from_s=continued_from,
                    seed=seed,
                    duration_s=duration,
                    job_id=state.job_id,
                    extra={"batch_index": i, "model": info.get("model")},
                    take_id=take_id,
                )
            for level, level_codes in enumerate(codes):
                if level_codes.shape[1]:  # levels not sampled by this job hold only the prompt: partial
                    done = level in state.settings["levels"] or level == 0
                    project.write_codes(take_id, level, level_codes[i], complete=done)
        _write_previews(project, model, take_ids, codes[0])
    elif kind == "upsample":
        source = info.get("source", {})
        region = source.get("region_tokens") or source.get("region")
        for i, take_id in enumerate(take_ids):
            for level in state.settings["levels"]:
                project.write_codes(take_id, level, codes[level][i], complete=region is None)
            # the take points at this job; its job.json "source" holds the region (top-level tokens)
            project.update_take(take_id, job_id=state.job_id)
    elif kind != "preview":
        raise ValueError(f"job {state.job_id}: unknown kind {kind!r}")
    return take_ids


def _write_previews(project: Project, model: Any, take_ids: Sequence[str], top: torch.Tensor) -> None:
    """Decode the top level so new takes can be heard at once (skipped when the VQ-VAE is not loaded)."""
    try:
        audio = jobs.preview_audio(model, top.to(jobs.module_device(model.vqvae)), level=0)
    except (RuntimeError, NotImplementedError) as exc:  # e.g. a VQ-VAE left on the meta device
        logger.warning("no preview for the new takes: %s", exc)
        return
    for take_id, row in zip(take_ids, audio.numpy().astype(np.float32), strict=True):
        project.write_preview(take_id, row, prior_level=0)


def preview_take(project: Project, model: Any, take_id: str, level: int = 0) -> np.ndarray:
    """Decode one level of a take, cache it in the project and return it (float32 mono)."""
    codes = project.read_codes(take_id)[level]
    if codes is None or codes.numel() == 0:
        raise ValueError(f"take {take_id} has no codes at level {level}")
    audio = jobs.preview_audio(model, codes.reshape(1, -1).to(jobs.module_device(model.vqvae)), level=level)[0].numpy()
    project.write_preview(take_id, audio.astype(np.float32), prior_level=level)
    return audio


def project_dir_of(state: JobState) -> Path:
    return state.folder.parent.parent
