"""Training one prior on the VQ-VAE's codes with ``JukeboxPrior.forward_tokens``'s loss (bits per token).

The data are encoded once (``encode_clips``); a batch is random windows of ``n_ctx`` codes of the
prior's level with their clips' labels, and, for an upsampler, the codes of the level above under
the window (exactly what sampling conditions on). The top prior's timing signal sees random declared
song lengths and offsets, so it learns that the music does not depend on them and any song length
in its range samples alike. Labels are dropped to "unknown" (id 0) now and then (``LABEL_DROPOUT``,
artist and genre independently), so a song with an unknown artist or genre samples from what the
model learned of all of them instead of from an untrained embedding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.vqvae import JukeboxVQVAE
from jukestudio.train.dataset import Clip
from jukestudio.train.loop import Schedule, Stage

ENCODE_SECONDS = 4.0  # encode clips in pieces of this length (bounded memory)
LABEL_DROPOUT = 0.15
UNKNOWN_ID = 0  # "unknown" in the v2 and v3 tables


@torch.inference_mode()
def encode_clips(vqvae: JukeboxVQVAE, clips: Sequence[Clip]) -> list[list[torch.Tensor]]:
    """Per clip, its codes at every VQ level (VQ order, 1-D LongTensors); clips cut to whole top hops."""
    vqvae.eval()
    top = vqvae.hop_lengths[-1]
    piece = int(ENCODE_SECONDS * 44100) // top * top
    out = []
    for clip in clips:
        usable = len(clip.audio) // top * top
        audio = torch.from_numpy(clip.audio[:usable]).view(1, -1, 1)
        parts = [vqvae.encode(audio[:, s : s + piece]) for s in range(0, usable, piece)]
        out.append([torch.cat([p[level][0] for p in parts]).long() for level in range(vqvae.levels)])
    return out


def _timing(prior: JukeboxPrior, clip_samples: int, generator: torch.Generator) -> tuple[int, int]:
    """(declared song length, offset of the clip in it) in samples, random within the prior's range."""
    config = prior.config
    sr = config.sampling_rate
    if config.min_duration is None or config.max_duration is None:
        return clip_samples, 0
    low, high = int(config.min_duration * sr), int(config.max_duration * sr) - 1
    room = max(0, min(high, int(180 * sr)) - clip_samples)
    offset = int(torch.randint(room // 3 + 1, (1,), generator=generator))
    extra = int(torch.randint(room - offset + 1, (1,), generator=generator)) if room > offset else 0
    total = min(high, max(low, offset + clip_samples + extra))
    return total, offset


def prior_batch(
    prior: JukeboxPrior,
    codes: Sequence[Sequence[torch.Tensor]],
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor] | None, torch.Tensor]:
    """(tokens (B, n_ctx), upper-level conditioning or None, metadata) of random windows."""
    n_levels = prior.levels
    vq_level = n_levels - 1 - prior.level
    n_ctx = prior.n_ctx
    d = prior.cond_downsample or 1
    tokens, conds, rows = [], [], []
    usable = [i for i, c in enumerate(codes) if len(c[vq_level]) >= n_ctx]
    if not usable:
        raise ValueError(f"no clip has {n_ctx} codes at this level; use longer clips")
    picks = torch.randint(len(usable), (batch_size,), generator=generator).tolist()
    for pick in picks:
        clip = usable[pick]
        level_codes = codes[clip][vq_level]
        positions = (len(level_codes) - n_ctx) // d + 1
        start = int(torch.randint(positions, (1,), generator=generator)) * d
        tokens.append(level_codes[start : start + n_ctx])
        if prior.level != 0:
            upper = codes[clip][vq_level + 1]
            conds.append(upper[start // d : (start + n_ctx) // d])
        clip_samples = len(level_codes) * prior.raw_to_tokens
        total, offset = _timing(prior, clip_samples, generator)
        row = labels[clip : clip + 1].clone()
        drop = torch.rand(2, generator=generator) < LABEL_DROPOUT
        if drop[0]:
            row[:, 3] = UNKNOWN_ID
        if drop[1]:
            row[:, 4:] = torch.where(row[:, 4:] >= 0, UNKNOWN_ID, row[:, 4:])
        rows.append(prior.get_metadata(row, start, total, offset))
    music_tokens_conds = [torch.stack(conds)] if conds else None
    return torch.stack(tokens), music_tokens_conds, torch.cat(rows)


def prior_stage(
    prior: JukeboxPrior,
    codes: Sequence[Sequence[torch.Tensor]],
    labels: torch.Tensor,
    schedule: Schedule,
    name: str,
) -> Stage:
    """A ``Stage`` training ``prior`` on windows of ``codes`` (per clip, VQ order) with ``labels`` rows."""
    optimizer = torch.optim.Adam(prior.parameters(), lr=schedule.lr, betas=(0.9, 0.95))

    def on_start(generator: torch.Generator) -> None:
        prior.init_weights(generator)

    def step(index: int, generator: torch.Generator) -> dict[str, float]:
        tokens, conds, metadata = prior_batch(prior, codes, labels, schedule.batch_size, generator)
        loss, _ = prior.forward_tokens(tokens, conds, metadata)
        loss.backward()
        return {"loss": float(loss.detach())}

    return Stage(name, prior, optimizer, step, on_start=on_start)
