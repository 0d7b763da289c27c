"""Engine jobs for the window: create them from the song settings, run them, put results into the project.

Everything here runs on the job thread (never the GUI thread) and imports torch lazily. A job's
context (parents, prompt, seed) is stored in the engine's ``job.json`` (``source``), so a job
resumed after a crash or restart finishes into the project the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

Report = Callable[[Any], None]


# ---------------------------------------------------------------------- labels


def labels_for(model: Any, artist: str, genres: list[str], lyrics: str) -> list[Any]:
    """Tokenizer rows per prior (prior order), full lyrics; unknown names are logged, not fatal."""
    from jukestudio.model.tokenizer import JukeboxTokenizer

    tokenizer = JukeboxTokenizer.for_config(model.config)
    out = tokenizer(artist or "unknown", genres or ["unknown"], lyrics)
    for message in out.report.messages():
        log.info("labels: %s", message)
    return list(out["input_ids"])


def sampling_kwargs(project_settings: Any, seed: int) -> dict[str, Any]:
    return {
        "temperatures": list(project_settings.temperatures),
        "top_k": int(project_settings.top_k),
        "top_p": float(project_settings.top_p),
        "chunk_size": int(project_settings.chunk_sizes[0]),
        "max_batch_size": int(project_settings.max_batch),
        "lower_batch_size": int(project_settings.max_batch),
        "seed": int(seed),
    }


# ---------------------------------------------------------------------- creating jobs


def create_compose(
    project: Any, model: Any, model_name: str, job_id: str, seed: int, prompt: np.ndarray | None, prompt_name: str
) -> Any:
    import torch

    from jukestudio.engine.jobs import compose_settings, create_job

    song = project.settings
    n = int(song.n_takes)
    levels = len(model.priors)
    labels = labels_for(model, song.artist, song.genres, song.lyrics)
    start_tokens = 0
    if prompt is not None:
        raw = torch.from_numpy(np.ascontiguousarray(prompt, dtype=np.float32))[None, :, None]
        prompt_codes = model.encode_prompt(raw)
        codes = [c.expand(n, -1).clone() for c in prompt_codes]
        start_tokens = int(codes[0].shape[1])
    else:
        codes = [torch.zeros(n, 0, dtype=torch.long) for _ in range(levels)]
    settings = compose_settings(
        model.config,
        float(song.take_length_s),
        total_seconds=float(song.total_length_s),
        start_tokens=start_tokens,
        levels=[0],
        **sampling_kwargs(song, seed),
    )
    source = {"gui": "compose", "seed": seed, "prompt_name": prompt_name if prompt is not None else None}
    return create_job(
        project.folder, "compose", model_name=model_name, config=model.config, codes=codes, labels=labels,
        settings=settings, source=source, job_id=job_id,
    )  # fmt: skip


def create_continue(
    project: Any, model: Any, model_name: str, job_id: str, parent_id: str, seconds: float, seed: int
) -> Any:
    import torch

    from jukestudio.engine.jobs import compose_settings, create_job

    song = project.settings
    n = int(song.n_takes)
    parent_codes = project.read_codes(parent_id)
    if parent_codes[0] is None or parent_codes[0].numel() == 0:
        raise ValueError("this take has no top-level codes yet; it cannot be continued")
    codes = [
        (c if c is not None else torch.zeros(0, dtype=torch.long)).long().reshape(1, -1).expand(n, -1).clone()
        for c in parent_codes
    ]
    labels = labels_for(model, song.artist, song.genres, song.lyrics)
    settings = compose_settings(
        model.config,
        float(seconds),
        total_seconds=float(song.total_length_s),
        start_tokens=int(codes[0].shape[1]),
        levels=[0],
        **sampling_kwargs(song, seed),
    )
    parent = project.take(parent_id)
    source = {"gui": "continue", "seed": seed, "parent_id": parent_id, "continued_from_s": parent.duration_s}
    return create_job(
        project.folder, "continue", model_name=model_name, config=model.config, codes=codes, labels=labels,
        settings=settings, source=source, job_id=job_id,
    )  # fmt: skip


def create_upsample(
    project: Any,
    model: Any,
    model_name: str,
    job_id: str,
    take_ids: list[str],
    region: tuple[float, float] | None,
    seed: int,
) -> Any:
    import torch

    from jukestudio.engine.jobs import SamplingSettings, create_job

    song = project.settings
    geometries = model.geometries
    hop0 = geometries[0].raw_to_tokens
    all_codes = [project.read_codes(t) for t in take_ids]
    tops = [c[0] for c in all_codes]
    if any(t is None or t.numel() == 0 for t in tops):
        raise ValueError("every take to upsample needs its top-level codes")
    if len({int(t.shape[0]) for t in tops}) != 1:
        raise ValueError("takes upsampled together must have the same length; upsample them one by one")
    length = int(tops[0].shape[0])
    offset = 0
    if region is not None:
        # Region-first upsampling: the region's top codes become a short take of their own.
        start = max(0, int(region[0] * model.config.sampling_rate) // hop0)
        end = min(length, int(np.ceil(region[1] * model.config.sampling_rate / hop0)))
        if end - start < 1:
            raise ValueError("the region is shorter than one top-level token")
        codes = [torch.stack([t[start:end].long() for t in tops])]
        codes += [torch.zeros(len(take_ids), 0, dtype=torch.long) for _ in geometries[1:]]
        offset, length = start * hop0, end - start
    else:
        codes = []
        for p in range(len(geometries)):
            rows = [c[p] if c[p] is not None else torch.zeros(0, dtype=torch.long) for c in all_codes]
            if len({int(r.shape[0]) for r in rows}) != 1:
                raise ValueError("the takes have different amounts already upsampled; upsample them one by one")
            codes.append(torch.stack([r.long() for r in rows]))
    labels = labels_for(model, song.artist, song.genres, song.lyrics)
    total = max(float(song.total_length_s), (offset + length * hop0) / model.config.sampling_rate)
    kwargs = sampling_kwargs(song, seed)
    settings = SamplingSettings(
        levels=list(range(1, len(geometries))),
        sample_length=length * hop0,
        total_length=int(total * model.config.sampling_rate),
        offset=offset,
        **kwargs,
    )
    source = {"gui": "upsample", "seed": seed, "region": list(region) if region else None}
    return create_job(
        project.folder, "upsample", model_name=model_name, config=model.config, codes=codes, labels=labels,
        settings=settings, take_ids=take_ids, source=source, job_id=job_id,
    )  # fmt: skip


# ---------------------------------------------------------------------- finishing into the project


def finish_into(project: Any) -> Callable[[Any, Any], list[str]]:
    """The ``finish`` callback of ``run_job``: write the job's codes as takes of ``project``."""

    def finish(state: Any, model: Any) -> list[str]:
        kind = state.info["kind"]
        source = state.info.get("source") or {}
        if kind == "upsample" and not source.get("region"):
            return _finish_upsample(project, state, model)
        return _finish_new_takes(project, state, model, kind, source)

    return finish


def _duration(model: Any, codes: Any) -> float:
    return int(codes.shape[-1]) * model.geometries[0].raw_to_tokens / model.config.sampling_rate


def _finish_new_takes(project: Any, state: Any, model: Any, kind: str, source: dict[str, Any]) -> list[str]:
    from jukestudio.engine.jobs import preview_audio

    codes = state.codes
    n = int(codes[0].shape[0])
    sampled = set(state.settings["levels"])
    seed = source.get("seed")
    parent_id = source.get("parent_id")
    origin = "continue" if kind == "continue" else "compose"
    continued_from = source.get("continued_from_s")
    if kind == "compose" and source.get("prompt_name"):
        # The prompt becomes a take of its own; the composed takes are its children.
        prompt_tokens = int(state.info.get("initial_lengths", [0])[0])
        prompt_s = _duration(model, codes[0][0, :prompt_tokens])
        prompt = project.add_take(
            name=f"Prompt: {source['prompt_name']}", origin="prompt", duration_s=prompt_s, job_id=state.job_id
        )
        for p, level_codes in enumerate(codes):
            initial = int(state.info["initial_lengths"][p])
            if initial:
                project.write_codes(prompt.id, p, level_codes[0, :initial], complete=True)
        parent_id, origin, continued_from = prompt.id, "continue", prompt.duration_s
    region = source.get("region")
    words = _word_alignment(project, model, state) if kind != "upsample" else [[] for _ in range(n)]
    ids = []
    for row in range(n):
        if kind == "upsample":  # region-first upsampling: a short take of the region at full quality
            of = state.info["take_ids"][row]
            parent = project.take(of)
            take = project.add_take(
                of, name=f"{parent.name} region {region[0]:.1f}–{region[1]:.1f} s", origin="import",
                seed=seed, duration_s=_duration(model, codes[0][row]), job_id=state.job_id,
                extra={"region_of": of, "region_s": list(region)},
            )  # fmt: skip
        else:
            take = project.add_take(
                parent_id, origin=origin, continued_from_s=continued_from, seed=seed,
                duration_s=_duration(model, codes[0][row]), job_id=state.job_id,
                extra={"row": row, "words": words[row]},
            )  # fmt: skip
        for p, level_codes in enumerate(codes):
            if level_codes.shape[1] == 0:
                continue
            # Levels this job did not sample only cover the part inherited from the parent.
            project.write_codes(take.id, p, level_codes[row], complete=p in sampled or kind == "upsample")
        best = max(p for p, c in enumerate(codes) if c.shape[1] > 0 and (p in sampled or kind == "upsample"))
        audio = preview_audio(model, codes[best][row : row + 1], best)[0].numpy()
        project.write_preview(take.id, audio, best)
        ids.append(take.id)
    return ids


def _finish_upsample(project: Any, state: Any, model: Any) -> list[str]:
    from jukestudio.engine.jobs import preview_audio

    ids = list(state.info["take_ids"])
    for row, take_id in enumerate(ids):
        for p in state.settings["levels"]:
            project.write_codes(take_id, p, state.codes[p][row], complete=True)
        best = max(state.settings["levels"])
        audio = preview_audio(model, state.codes[best][row : row + 1], best)[0].numpy()
        project.write_preview(take_id, audio, best)
    return ids


# ---------------------------------------------------------------------- lyric alignment


_WORD = re.compile(r"\S+")


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


def _word_alignment(project: Any, model: Any, state: Any) -> list[list[list[Any]]]:
    """Per row of the job, the lyric words with times from the top prior's attention (best effort:
    models without lyrics or an alignment head give none; a failure is logged, the takes are kept)."""
    import torch

    from jukestudio.model.tokenizer import clean_lyrics

    prior = model.priors[0]
    config = model.config.prior_configs[0]
    lyrics = project.settings.lyrics
    n = int(state.codes[0].shape[0])
    if not config.has_lyrics or config.alignment_layer is None or not lyrics.strip():
        return [[] for _ in range(n)]
    try:
        from jukestudio.model import vocab

        cleaned = clean_lyrics(lyrics, vocab.lyric_version_for_size(config.lyric_vocab_size))
        labels = state.labels[0]
        total = int(state.settings["total_length"])
        with torch.inference_mode():
            alignments = prior.get_alignment(
                state.codes[0], labels, total_length=total, offset=int(state.settings.get("offset", 0))
            )
        seconds_per_token = model.geometries[0].raw_to_tokens / model.config.sampling_rate
        return [
            words_from_alignment(alignments[row].float().numpy(), lyrics, cleaned.positions, seconds_per_token)
            for row in range(n)
        ]
    except Exception:  # the alignment is a view aid; the sampled takes matter more
        log.exception("lyric alignment failed; the takes are kept without it")
        return [[] for _ in range(n)]
