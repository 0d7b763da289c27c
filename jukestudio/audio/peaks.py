"""A min/max peak pyramid so a waveform of any length draws at any zoom without touching every sample.

Level ``k`` stores the min and max of consecutive blocks of ``base * factor**k`` samples. A query for
``n`` buckets picks the coarsest level whose blocks fit inside the smallest bucket; each bucket is the
union of whole blocks at that level plus two partial blocks at its edges, and each edge is resolved
exactly with finer levels down to raw samples. The answer therefore equals a brute-force min/max over
the bucket's samples, at a cost of about ``n * factor * levels`` array reads.
"""

from __future__ import annotations

import numpy as np


class PeakPyramid:
    def __init__(self, audio: np.ndarray, base: int = 64, factor: int = 4) -> None:
        if base < 1 or factor < 2:
            raise ValueError(f"PeakPyramid needs base ≥ 1 and factor ≥ 2, got base={base}, factor={factor}")
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"PeakPyramid expects mono samples shaped (samples,), got {audio.shape}")
        self.audio = audio
        self.base = base
        self.factor = factor
        self.block_sizes: list[int] = []
        self._mins: list[np.ndarray] = []
        self._maxs: list[np.ndarray] = []
        mins, maxs, block = self._reduce(audio, audio, base)
        while mins.size >= 1:
            self.block_sizes.append(block)
            self._mins.append(mins)
            self._maxs.append(maxs)
            if mins.size == 1:
                break
            mins, maxs, _ = self._reduce(mins, maxs, factor)
            block *= factor

    @staticmethod
    def _reduce(mins: np.ndarray, maxs: np.ndarray, group: int) -> tuple[np.ndarray, np.ndarray, int]:
        whole = mins.size // group * group  # reduce the whole groups in place, the ragged tail apart
        lo = mins[:whole].reshape(-1, group).min(axis=1)
        hi = maxs[:whole].reshape(-1, group).max(axis=1)
        if whole < mins.size:
            lo = np.append(lo, mins[whole:].min())
            hi = np.append(hi, maxs[whole:].max())
        return lo.astype(np.float32, copy=False), hi.astype(np.float32, copy=False), group

    def __len__(self) -> int:
        return int(self.audio.size)

    @property
    def levels(self) -> int:
        return len(self.block_sizes)

    def nbytes(self) -> int:
        return sum(m.nbytes + x.nbytes for m, x in zip(self._mins, self._maxs))

    # -- queries -------------------------------------------------------------------------------------

    def range(self, start_sample: int, end_sample: int, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-bucket (mins, maxs) of samples ``start_sample..end_sample`` split into ``n_buckets``.

        Bucket ``i`` covers ``[start + i*span//n, start + (i+1)*span//n)``; when there are more buckets
        than samples, an empty bucket shows the single sample at its start. The span is clipped to the
        audio; an empty span (or empty audio) gives zeros.
        """
        if n_buckets < 1:
            raise ValueError(f"n_buckets must be ≥ 1, got {n_buckets}")
        start = max(0, int(start_sample))
        end = min(len(self), int(end_sample))
        if end <= start:
            return np.zeros(n_buckets, np.float32), np.zeros(n_buckets, np.float32)
        span = end - start
        i = np.arange(n_buckets + 1, dtype=np.int64)
        edges = start + (i * span) // n_buckets
        lo, hi = edges[:-1], np.maximum(edges[1:], edges[:-1] + 1)
        shortest = int((hi - lo).min())
        level = -1  # raw samples
        for k, size in enumerate(self.block_sizes):
            if size <= shortest:
                level = k
        if level < 0:
            return self._gather(self.audio, self.audio, lo, hi, int((hi - lo).max()))
        size = self.block_sizes[level]
        first_full = -(-lo // size)
        end_full = hi // size
        mins, maxs = self._gather(
            self._mins[level], self._maxs[level], first_full, end_full, int((end_full - first_full).max())
        )
        for edge_mins, edge_maxs in (self._suffix(level, lo), self._prefix(level, hi)):
            np.minimum(mins, edge_mins, out=mins)
            np.maximum(maxs, edge_maxs, out=maxs)
        return mins, maxs

    def _level(self, k: int) -> tuple[np.ndarray, np.ndarray, int]:
        if k < 0:
            return self.audio, self.audio, 1
        return self._mins[k], self._maxs[k], self.block_sizes[k]

    def _prefix(self, k: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Min/max of ``[floor(pos / B_k) * B_k, pos)``: the part of pos's level-k block before pos."""
        size = self.block_sizes[k]
        lmins, lmaxs, sub = self._level(k - 1)
        first = (pos // size) * size // sub
        stop = pos // sub
        mins, maxs = self._gather(lmins, lmaxs, first, stop, size // sub)
        if k > 0:
            edge_mins, edge_maxs = self._prefix(k - 1, pos)
            np.minimum(mins, edge_mins, out=mins)
            np.maximum(maxs, edge_maxs, out=maxs)
        return mins, maxs

    def _suffix(self, k: int, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Min/max of ``[pos, ceil(pos / B_k) * B_k)``: the part of pos's level-k block from pos on."""
        size = self.block_sizes[k]
        lmins, lmaxs, sub = self._level(k - 1)
        first = -(-pos // sub)
        stop = -(-np.minimum(-(-pos // size) * size, len(self)) // sub)  # a partial last block counts
        mins, maxs = self._gather(lmins, lmaxs, first, stop, size // sub)
        if k > 0:
            edge_mins, edge_maxs = self._suffix(k - 1, pos)
            np.minimum(mins, edge_mins, out=mins)
            np.maximum(maxs, edge_maxs, out=maxs)
        return mins, maxs

    @staticmethod
    def _gather(
        mins: np.ndarray, maxs: np.ndarray, first: np.ndarray, stop: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Min/max over ``mins[first[i]:stop[i]]`` / ``maxs[...]`` per row; empty rows give ±inf."""
        width = max(width, 1)
        idx = first[:, None] + np.arange(width, dtype=np.int64)[None, :]
        valid = idx < stop[:, None]
        safe = np.minimum(idx, mins.size - 1)
        lo = np.where(valid, mins[safe], np.float32(np.inf)).min(axis=1)
        hi = np.where(valid, maxs[safe], np.float32(-np.inf)).max(axis=1)
        return lo.astype(np.float32, copy=False), hi.astype(np.float32, copy=False)
