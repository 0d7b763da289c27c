"""Export a take: its cached decoded audio (trimmed) as WAV, with a sidecar to reproduce it."""

from __future__ import annotations

import os
from typing import Any

from jukestudio.audio.constants import SAMPLE_RATE
from jukestudio.audio.export import ExportReport, export_wav
from jukestudio.levels import LEVEL_KEYS, level_label
from jukestudio.project.document import Project
from jukestudio.project.errors import ProjectError


def export_take(
    project: Project,
    take_id: str,
    path: str | os.PathLike[str],
    *,
    subtype: str = "PCM_16",
    normalise: bool = False,
    headroom_db: float = 1.0,
    prior_level: int | None = None,
    use_trim: bool = True,
) -> ExportReport:
    """Write ``take_id`` to ``path`` (+ ``<name>.json``) from its preview at ``prior_level`` (best when None)."""
    take = project.take(take_id)
    levels = project.preview_levels(take_id)
    level = prior_level if prior_level is not None else (max(levels) if levels else None)
    audio = project.read_preview(take_id, level) if level is not None else None
    if audio is None:
        wanted = f" at {level_label(level)}" if level is not None else ""
        raise ProjectError(f"take “{take.name}” has no decoded audio{wanted} yet; decode it before exporting")
    trim = take.trim if use_trim else None
    if trim is not None:
        start = round(trim.start_s * SAMPLE_RATE)
        end = len(audio) if trim.end_s is None else round(trim.end_s * SAMPLE_RATE)
        audio = audio[start:end]
        if audio.size == 0:
            raise ProjectError(f"take “{take.name}”: its trim {trim.start_s}–{trim.end_s} s leaves no audio")
    meta = project.export_metadata(take_id)
    meta.update(exported_level_info(project, take_id, level))
    meta["trim_applied"] = trim.to_dict() if trim else None
    return export_wav(path, audio, subtype, normalise=normalise, headroom_db=headroom_db, sidecar=meta)


def exported_level_info(project: Project, take_id: str, level: int) -> dict[str, Any]:
    """Sidecar fields saying which quality was exported and which stretch of the song it covers.

    A level made by a region upsample ("partial") holds only that region: ``region_s`` and
    ``offset_s`` (where the exported audio starts in the take) say so.
    """
    take = project.take(take_id)
    job = take.job_for_level(level)
    region = job.get("region_s") if job else None
    partial = take.level_status(level) == "partial"
    return {
        "exported_level": LEVEL_KEYS[level],
        "exported_quality": level_label(level),
        "level_status": take.level_status(level),
        "region_s": region if partial else None,
        "offset_s": region[0] if partial and region else 0.0,
    }
