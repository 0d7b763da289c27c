"""Creating jobs: compose, continue, upsample (sampling) and preview (decoding). No Qt.

A job is created into ``<project>/jobs/<job_id>/`` (status "queued") with everything it needs to
run without the front end that made it: initial codes and labels (state.safetensors), its settings
(the frozen :class:`~jukestudio.model.sampling_params.SamplingParams` plus the plan: levels, lengths,
offset), the take ids it will fill, and the lyrics its labels were made from (job.json). Running,
resuming, cancelling is ``jukestudio.engine.runner``; writing the results into takes is
``jukestudio.engine.finish``. The window and the CLI call the same functions here, so a job started
in one can be finished by the other into the same takes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jukestudio.engine.job_validate import read_checked_codes
from jukestudio.engine.state import JobState, job_folder, new_job_id, now_iso
from jukestudio.levels import level_label
from jukestudio.model import sample_loop, sampling_params
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.sample_loop import Window
from jukestudio.model.sampling_params import SamplingParams
from jukestudio.project import Project, ProjectSettings
from jukestudio.project.takes import new_take_id

logger = logging.getLogger(__name__)

SAMPLING_KINDS = ("compose", "continue", "upsample")
KINDS = (*SAMPLING_KINDS, "preview")


@dataclass
class JobSettings:
    """How a sampling job runs: what to sample (levels, lengths in audio samples at ``sampling_rate``)
    and how (``params``). Stored flat in job.json's "settings"."""

    levels: list[int]  # prior levels to sample (prior order, 0 = top)
    sample_length: int  # length to reach (rounded down to whole top-level tokens)
    total_length: int  # declared length of the whole song (timing labels)
    offset: int = 0  # where the sampled codes start in the song (a time region)
    params: SamplingParams = field(default_factory=SamplingParams)
    device: str | None = None  # None = CUDA when available, else CPU
    precision: str = "auto"  # "auto" (fp16 transformer on a GPU, fp32 on CPU), "fp32", "fp16", "bf16"
    compile: bool = False  # the per-token step replayed as a CUDA graph (CUDA only; else eager)
    fast_preview: bool = False  # int8 weights for the top prior's token step (CPU only; upsamplers fp32)

    def to_dict(self) -> dict[str, Any]:
        plan = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "params"}
        return {**plan, **self.params.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSettings:
        known = {f.name for f in fields(cls)} - {"params"}
        return cls(**{k: v for k, v in data.items() if k in known}, params=SamplingParams.from_dict(data))


# ---------------------------------------------------------------------- the seed


def choose_seed(settings: ProjectSettings, seed: int | None = None) -> int:
    """A job's seed: the one asked for, else the project's fixed seed, else a fresh random one
    (``sampling_params.choose_seed``), recorded in the job and its takes, never in the project's settings."""
    return sampling_params.choose_seed(seed if seed is not None else settings.seed)


# ---------------------------------------------------------------------- jobs on a project


def labels_for(config: JukeboxConfig, settings: ProjectSettings) -> list[torch.Tensor]:
    """Tokenizer rows (prior order) for the project's artist, genres and lyrics."""
    from jukestudio.model.tokenizer import JukeboxTokenizer

    tokenizer = JukeboxTokenizer.for_config(config)
    return list(tokenizer(artist=settings.artist, genres=settings.genres, lyrics=settings.lyrics)["input_ids"])


def _conditioning(config: JukeboxConfig, settings: ProjectSettings) -> dict[str, Any]:
    """What the model gets of the artist, genres and lyrics (recorded in the job and its takes)."""
    from jukestudio.engine import conditioning

    return conditioning.record(conditioning.analyse(config, settings), settings)


def _empty(n_levels: int, n: int) -> list[torch.Tensor]:
    return [torch.zeros(n, 0, dtype=torch.long) for _ in range(n_levels)]


def _new_take_ids(n: int) -> list[str]:
    return [new_take_id() + f"{i:02d}" for i in range(n)]


def create_compose(
    project: Project,
    model: Any,
    *,
    n_takes: int | None = None,
    seconds: float | None = None,
    prompt: np.ndarray | None = None,
    prompt_name: str = "prompt",
    levels: Sequence[int] = (0,),
    seed: int | None = None,
    device: str | None = None,
    compile: bool = False,
    settings: ProjectSettings | None = None,
) -> JobState:
    """N new takes of ``seconds`` (default: the project's take length), from nothing or a prompt.

    ``prompt`` (mono float audio at the model's rate) is encoded at every level and becomes a take of
    its own, "Prompt: <prompt_name>"; the composed takes are its children and start with its codes.
    ``settings``: what to sample with (default: the project's); the job and its takes record them.
    """
    settings = settings or project.settings
    config = model.config
    n = n_takes or settings.n_takes
    seed = choose_seed(settings, seed)
    prompt_take_id = None
    if prompt is not None:
        prompt_codes = encode_prompt(model, prompt)
        prompt_take_id = add_prompt_take(project, model, prompt_codes, prompt_name, seed)
        # every level starts with the prompt; levels not sampled now keep it for a later upsample
        codes = [c.reshape(1, -1).long().cpu().repeat(n, 1) for c in prompt_codes]
    else:
        codes = _empty(len(config.prior_configs), n)
    return _new_takes_job(
        project, model, "compose", settings, codes, seconds=seconds, levels=levels, seed=seed, device=device,
        compile=compile, source={"parent_id": prompt_take_id},
    )  # fmt: skip


def encode_prompt(model: Any, prompt: np.ndarray) -> list[torch.Tensor]:
    """A prompt's codes at every level (prior order, one row each), encoded where the VQ-VAE is."""
    from jukestudio.engine.decode import module_device

    raw = torch.from_numpy(np.ascontiguousarray(prompt, dtype=np.float32)).reshape(1, -1, 1)
    with torch.inference_mode():
        codes = model.encode_prompt(raw.to(module_device(model.vqvae)))
    return [c.cpu() for c in codes]


def add_prompt_take(project: Project, model: Any, codes: Sequence[torch.Tensor], name: str, seed: int) -> str:
    """The prompt as a take ("Prompt: name", every level done): the parent of the takes composed from it."""
    seconds = int(codes[0].shape[1]) * model.geometries[0].raw_to_tokens / model.config.sampling_rate
    take = project.add_take(name=f"Prompt: {name}", origin="prompt", duration_s=seconds, seed=seed)
    for level, level_codes in enumerate(codes):
        project.write_codes(take.id, level, level_codes[0], complete=True)
    return take.id


def create_continue(
    project: Project,
    model: Any,
    take_id: str,
    *,
    n_variations: int | None = None,
    seconds: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    compile: bool = False,
    settings: ProjectSettings | None = None,
) -> JobState:
    """N variations that extend a take's top level by ``seconds``: the take repeated N times, continued."""
    settings = settings or project.settings
    config = model.config
    top = read_checked_codes(project, config, take_id)[0]
    if top is None or top.numel() == 0:
        raise ValueError(f"take {take_id} has no top-level codes to continue")
    n = n_variations or settings.n_takes
    codes = _empty(len(config.prior_configs), n)
    codes[0] = top.reshape(1, -1).long().repeat(n, 1)
    return _new_takes_job(
        project, model, "continue", settings, codes, seconds=seconds, levels=(0,), seed=choose_seed(settings, seed),
        device=device, compile=compile, source={"parent_id": take_id, "continued_from_tokens": top.numel()},
    )  # fmt: skip


def _new_takes_job(
    project: Project,
    model: Any,
    kind: str,
    settings: ProjectSettings,
    codes: list[torch.Tensor],
    *,
    seconds: float | None,
    levels: Sequence[int],
    seed: int,
    device: str | None,
    compile: bool,
    source: dict[str, Any],
) -> JobState:
    """A compose/continue job: one new take per row of ``codes`` (its start), ``seconds`` more each."""
    config = model.config
    job = compose_settings(
        config,
        seconds if seconds is not None else settings.take_length_s,
        total_seconds=settings.total_length_s,
        start_tokens=codes[0].shape[1],
        levels=levels,
        params=settings.sampling_params(seed),
        device=device,
        compile=compile,
        fast_preview=settings.fast_preview,  # int8 top prior on CPU (ProjectSettings)
    )
    return create_job(
        project.folder,
        kind,
        model_name=settings.model,
        config=config,
        codes=codes,
        labels=labels_for(config, settings),
        settings=job,
        take_ids=_new_take_ids(codes[0].shape[0]),
        source={**source, "conditioning": _conditioning(config, settings)},
        project_settings=settings,
    )


def cut_take(project: Project, model: Any, take_id: str, at_s: float) -> str:
    """A child take holding the take's codes up to ``at_s`` (whole top-level tokens): the point a
    "continue from here" branches off. Lower levels keep what covers that span (partial)."""
    parent = project.take(take_id)
    codes = project.read_codes(take_id)
    geometries = model.geometries
    sr = model.config.sampling_rate
    n_top = int(at_s * sr) // geometries[0].raw_to_tokens
    if codes[0] is None or not 0 < n_top <= codes[0].numel():
        raise ValueError(f"{at_s:.2f} s is outside the sampled part of {parent.name}")
    seconds = n_top * geometries[0].raw_to_tokens / sr
    cut = project.add_take(
        take_id, name=f"{parent.name} ✂ {seconds:.1f} s", origin="continue", continued_from_s=seconds,
        seed=parent.seed, duration_s=seconds, extra={"cut_of": take_id},
    )  # fmt: skip
    for level, level_codes in enumerate(codes):
        if level_codes is None or level_codes.numel() == 0:
            continue
        n = n_top * geometries[0].raw_to_tokens // geometries[level].raw_to_tokens
        kept = level_codes[: min(n, level_codes.numel())]
        complete = level == 0 or (parent.level_status(level) == "done" and kept.numel() == n)
        project.write_codes(cut.id, level, kept, complete=complete)
    return cut.id


def create_upsample(
    project: Project,
    model: Any,
    take_ids: Sequence[str],
    *,
    region_s: tuple[float, float] | None = None,
    levels: Sequence[int] = (1, 2),
    seed: int | None = None,
    device: str | None = None,
    compile: bool = False,
    settings: ProjectSettings | None = None,
) -> JobState:
    """Middle and Full quality (prior levels 1, 2) for the chosen takes, batched; optionally a time region only.

    A region is rounded outwards to whole top-level tokens; its codes are sampled as their own
    sequence placed at the region's offset in the song (timing and lyric labels).
    """
    if not take_ids:
        raise ValueError("choose at least one take to upsample")
    settings = settings or project.settings
    config = model.config
    geometries = sample_loop.level_geometries(config)
    hop = geometries[0].raw_to_tokens
    sr = config.sampling_rate
    tops = []
    for take_id in take_ids:
        top = read_checked_codes(project, config, take_id)[0]
        if top is None or top.numel() == 0:
            raise ValueError(f"take {take_id} has no top-level codes to upsample")
        tops.append(top.reshape(-1).long())
    if len({t.numel() for t in tops}) > 1:
        raise ValueError("takes upsampled together must have the same length; upsample them one at a time")
    top = torch.stack(tops)
    first, last = 0, top.shape[1]
    if region_s is not None:
        if not region_s[0] < region_s[1]:
            raise ValueError(f"the region's start {region_s[0]:g} s must come before its end {region_s[1]:g} s")
        first = max(0, int(region_s[0] * sr) // hop)
        last = min(top.shape[1], -(-int(region_s[1] * sr) // hop))
        if last <= first:
            raise ValueError(
                f"the region {region_s[0]:g}–{region_s[1]:g} s lies outside the takes "
                f"(0–{top.shape[1] * hop / sr:g} s)"
            )
    codes = _empty(len(config.prior_configs), len(take_ids))
    codes[0] = top[:, first:last].contiguous()
    if region_s is None:  # lower levels a prompt left behind (status "partial") are continued, not redone
        for level in levels:
            rows = [read_checked_codes(project, config, t)[level] for t in take_ids]
            partial = all(project.take(t).level_status(level) == "partial" for t in take_ids)
            if partial and all(r is not None for r in rows) and len({r.numel() for r in rows}) == 1:
                codes[level] = torch.stack([r.reshape(-1).long() for r in rows])
    length = (last - first) * hop
    job = JobSettings(
        levels=list(levels),
        sample_length=length,
        total_length=max(int(settings.total_length_s * sr), first * hop + length),
        offset=first * hop,
        params=settings.sampling_params(choose_seed(settings, seed)),
        device=device,
        compile=compile,
    )
    return create_job(
        project.folder,
        "upsample",
        model_name=settings.model,
        config=config,
        codes=codes,
        labels=labels_for(config, settings),
        settings=job,
        take_ids=list(take_ids),
        source={
            "region_tokens": [first, last] if region_s is not None else None,
            "region_s": [first * hop / sr, last * hop / sr] if region_s is not None else None,
            "conditioning": _conditioning(config, settings),
        },
        project_settings=settings,
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
        codes = read_checked_codes(project, config, take_id)
        chosen = level if level is not None else _preview_level(project, take_id, codes)
        if not 0 <= chosen < len(codes):
            raise ValueError(f"take {take_id}: no prior level {chosen}")
        if codes[chosen] is None or codes[chosen].numel() == 0:
            raise ValueError(f"take {take_id} has no {level_label(chosen)} codes")
        rows.append(codes[chosen])
        levels.append(chosen)
    return create_preview_job(
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


# ---------------------------------------------------------------------- job folders


def create_job(
    project_dir: str | Path,
    kind: str,
    *,
    model_name: str,
    config: JukeboxConfig,
    codes: Sequence[torch.Tensor],
    labels: Sequence[torch.Tensor],
    settings: JobSettings,
    take_ids: Sequence[str] = (),
    source: dict[str, Any] | None = None,
    project_settings: ProjectSettings | None = None,
    job_id: str | None = None,
) -> JobState:
    """Write a queued sampling job: initial codes (prior order, one row per take) and labels (1 or N rows).

    ``project_settings``: the song settings the job was made from; its new takes record them.
    """
    if kind == "preview":
        raise ValueError("preview jobs are created with create_preview_job")
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(KINDS)}")
    n_levels = len(config.prior_configs)
    if len(codes) != n_levels or len(labels) != n_levels:
        raise ValueError(f"a job needs codes and labels for all {n_levels} levels")
    problems = settings.params.problems()
    if problems:
        raise ValueError("; ".join(problems))
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
        project_settings=project_settings.to_dict() if project_settings is not None else None,
        initial_lengths=current,
        progress=progress_info(plan, n, {p: 0 for p in plan}),
    )  # fmt: skip
    state = JobState(folder, info, [c.detach().cpu().long() for c in codes], labels, None)
    state.save()
    logger.info("created %s job %s in %s", kind, info["id"], folder)
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
    folder = job_folder(project_dir, job_id)
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
            raise ValueError(f"take {take_id} has no {level_label(level)} codes")
    n = len(rows)
    folder, info = _queued_job(
        project_dir, "preview", job_id, take_ids, model_name, config, n,
        settings={"levels": [int(x) for x in levels]},
        source={},
        progress=preview_progress([int(x) for x in levels], [r.numel() for r in rows], 0),
    )  # fmt: skip
    empty = [torch.zeros(n, 0, dtype=torch.long) for _ in range(n_levels)]
    extra = {f"take_{i}": row for i, row in enumerate(rows)}
    state = JobState(folder, info, empty, [e.clone() for e in empty], None, extra)
    state.save()
    logger.info("created preview job %s in %s", info["id"], folder)
    return state


def preview_progress(levels: list[int], lengths: list[int], takes_done: int) -> dict[str, Any]:
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


def progress_info(plan: dict[int, list[Window]], n_samples: int, windows_done: dict[int, int]) -> dict[str, Any]:
    """job.json progress of a sampling job: windows and tokens per level, from the window plan."""
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


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.long)
    return x.unsqueeze(0) if x.dim() == 1 else x


def compose_settings(
    config: JukeboxConfig,
    seconds: float,
    *,
    total_seconds: float | None = None,
    start_tokens: int = 0,
    levels: Sequence[int] = (0,),
    **kwargs: Any,
) -> JobSettings:
    """Settings that bring a take from ``start_tokens`` top-level tokens to ``seconds`` more audio."""
    sr = config.sampling_rate
    top = sample_loop.level_geometries(config)[0].raw_to_tokens
    sample_length = start_tokens * top + int(seconds * sr) // top * top
    if sample_length <= start_tokens * top:
        raise ValueError(f"{seconds} s is less than one top-level token ({top / sr * 1000:.1f} ms)")
    total = int(total_seconds * sr) if total_seconds is not None else sample_length
    return JobSettings(levels=list(levels), sample_length=sample_length, total_length=total, **kwargs)
