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

# ---------------------------------------------------------------------- creating jobs (engine.takes)


def create_compose(project: Any, model: Any, seed: int, prompt: np.ndarray | None, prompt_name: str) -> Any:
    """A compose job; a prompt first becomes a take of its own ("Prompt: name") and the composed
    takes are its children, each starting with the prompt's codes."""
    import torch

    from jukestudio.engine import takes

    if prompt is None:
        return takes.create_compose(project, model.config, seed=seed)
    raw = torch.from_numpy(np.ascontiguousarray(prompt, dtype=np.float32))[None, :, None]
    codes = model.encode_prompt(raw)
    seconds = int(codes[0].shape[1]) * model.geometries[0].raw_to_tokens / model.config.sampling_rate
    prompt_take = project.add_take(name=f"Prompt: {prompt_name}", origin="prompt", duration_s=seconds, seed=seed)
    for level, level_codes in enumerate(codes):
        project.write_codes(prompt_take.id, level, level_codes[0], complete=True)
    return takes.create_compose(project, model.config, prompt_codes=codes, prompt_take_id=prompt_take.id, seed=seed)


def create_continue(project: Any, model: Any, take_id: str, seconds: float, seed: int) -> Any:
    from jukestudio.engine import takes

    return takes.create_continue(project, model.config, take_id, seconds=seconds, seed=seed)


def cut_take(project: Any, model: Any, take_id: str, at_s: float) -> str:
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
    project: Any, model: Any, take_ids: list[str], region: tuple[float, float] | None, seed: int
) -> Any:
    from jukestudio.engine import takes

    return takes.create_upsample(project, model.config, take_ids, region_s=region, seed=seed)


# ---------------------------------------------------------------------- finishing into the project


def finish_into(project: Any) -> Callable[[Any, Any], list[str]]:
    """``run_job``'s ``finish``: the engine writes codes and previews into ``project`` (the window's
    own instance, so the take tree and undo history stay live); new takes also get their lyric words."""

    def finish(state: Any, model: Any) -> list[str]:
        from jukestudio.engine import takes

        if state.info["kind"] in ("compose", "continue") and state.info.get("take_ids"):
            _add_takes_with_words(project, model, state)
        return takes.finish_job(state, model, project)

    return finish


def _add_takes_with_words(project: Any, model: Any, state: Any) -> None:
    """Create the job's new takes before the engine does (it then only fills them), so the word
    alignment goes into each take's ``extra`` when the take is made."""
    info, codes = state.info, state.codes
    source = info.get("source", {})
    hop = model.geometries[0].raw_to_tokens
    sr = model.config.sampling_rate
    kind = info["kind"]
    continued_from = None
    if kind == "continue":
        continued_from = int(source.get("continued_from_tokens", 0)) * hop / sr
    words = _word_alignment(project, model, state)
    for i, take_id in enumerate(info["take_ids"]):
        if take_id in project:
            continue
        project.add_take(
            source.get("parent_id"),
            origin=kind,
            continued_from_s=continued_from,
            seed=int(state.settings.get("seed", 0)),
            duration_s=int(codes[0].shape[1]) * hop / sr,
            job_id=state.job_id,
            extra={"batch_index": i, "model": info.get("model"), "words": words[i]},
            take_id=take_id,
        )


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
