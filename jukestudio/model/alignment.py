"""Lyrics-to-music alignment from the top prior's attention (original ``jukebox/align.py``).

For every top-level window (the sampling hops) a teacher-forced pass records the attention
probabilities of ``alignment_layer`` / ``alignment_head``: music positions (queries) on the lyric
window (keys). Each window is pasted into a (T, len(full lyrics)) matrix at the lyric indices of that
window, windows in reverse order so earlier windows win. HF 4.40.2 records a weight matrix instead
and crashes (hf-jukebox.md §8 #16); this follows the original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from jukestudio.model.sample_loop import get_starts

if TYPE_CHECKING:
    from jukestudio.model.prior import JukeboxPrior


@torch.no_grad()
def compute_alignment(
    prior: JukeboxPrior,
    music_tokens: torch.Tensor,
    labels: torch.Tensor,
    total_length: int,
    offset: int = 0,
    hop_fraction: float = 0.125,
) -> torch.Tensor:
    """Alignment of ``music_tokens`` (N, T) top-level tokens with ``labels`` (N, 4 + G + full
    lyrics): float tensor (N, T, n_full_lyrics); each token's row is its attention over characters.

    Songs shorter than one window are zero-padded to ``n_ctx`` (the padding is cut off again).
    """
    n_ctx = prior.n_ctx
    batch, length = music_tokens.shape
    tokens = F.pad(music_tokens, (0, n_ctx - length)) if length < n_ctx else music_tokens
    padded = tokens.shape[1]
    hop = max(1, int(hop_fraction * n_ctx))
    head = 4 + prior.config.max_nb_genres
    n_full = labels.shape[1] - head
    result = torch.zeros(batch, padded, n_full + 1)
    windows = []
    for start in get_starts(padded, n_ctx, hop):
        metadata, indices = prior.get_metadata(labels, start, total_length, offset, get_indices=True)
        probs = prior.get_alignment_window(tokens[:, start : start + n_ctx], metadata).cpu()
        windows.append((start, probs, indices))
    for start, probs, indices in reversed(windows):
        for row in range(batch):
            # index -1 (padding of short lyrics) lands in the extra last column, dropped below
            cols = torch.tensor([i if i >= 0 else n_full for i in indices[row]], dtype=torch.long)
            result[row, start : start + n_ctx, cols] = probs[row]
    return result[:, :length, :-1]
