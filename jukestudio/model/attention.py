"""Factorised attention of the Jukebox transformer, with a preallocated KV cache per attention kind.

A sequence of length L is viewed as ``blocks`` rows of ``block_ctx = n_ctx // blocks`` positions. Per
layer one of these kinds is used (original ``attn_order`` ids in brackets). A query at position t sees:

* ``dense_attn`` [0]: every key j <= t.
* ``block_attn`` [1]: keys of its own row (j // block_ctx == t // block_ctx), j <= t.
* ``transpose_block_attn`` [2]: keys of its own column (j % block_ctx == t % block_ctx), j <= t.
* ``prev_block_attn`` [3]: the whole previous row; in row 0 a row of zero keys and values (output 0).
* ``cross_attention`` [6]: all states of the lyric encoder (5b_lyrics style).
* ``prime_attn`` [7]: keys j <= t among the first ``prime_len = (n_lyric // blocks + 1) * blocks``
  positions, i.e. the lyric prefix (1b_lyrics style).

Four code paths compute the same function: ``forward`` (a whole sequence from position 0, teacher
forcing, in the factorised layout), ``forward_chunk`` (priming: a run of queries after cached keys,
with an explicit mask), ``attend_step`` (one query, reading the static cache in place) and
``attend_static`` (one query whose position is a tensor: fixed shapes, so a CUDA graph can replay it). Scores are
``q·k / sqrt(d_head)`` with softmax in fp32, as the original.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DENSE = "dense_attn"
BLOCK = "block_attn"
TRANSPOSE = "transpose_block_attn"
PREV_BLOCK = "prev_block_attn"
CROSS = "cross_attention"
PRIME = "prime_attn"

_ROW_COLUMN_PREV = (BLOCK, TRANSPOSE, PREV_BLOCK)
_PRIME_PRIME_DENSE = (PRIME, PRIME, DENSE)


def attention_kind(pattern: str, layer: int) -> str:
    """The attention kind of ``layer`` for an HF ``attention_pattern`` name (original attn_order)."""
    if pattern == "full_dense_attention":  # attn_order 0 (HF returns a broken name here)
        return DENSE
    if pattern == "raw_column_previous_row_attention":  # attn_order 2
        return _ROW_COLUMN_PREV[layer % 3]
    if pattern == "large_separated_enc_dec_w_lyrics":  # attn_order 10: 3 x (1,2,3), then 7 x (1,2,3 x 3, 6)
        d = layer % 79
        if d < 9:
            return _ROW_COLUMN_PREV[d % 3]
        return CROSS if (d - 9) % 10 == 9 else _ROW_COLUMN_PREV[(d - 9) % 10 % 3]
    if pattern == "enc_dec_with_lyrics":  # attn_order 12
        if layer % 16 == 15:
            return _PRIME_PRIME_DENSE[layer % 3]
        return _ROW_COLUMN_PREV[layer % 3]
    raise ValueError(f"unknown attention_pattern {pattern!r}")


class JukeboxConv1D(nn.Module):
    """``x @ weight + bias`` with ``weight`` stored (n_in, n_out), as the original ``Conv1D``."""

    def __init__(self, input_width: int, output_width: int) -> None:
        super().__init__()
        self.input_width = input_width
        self.output_width = output_width
        self.weight = nn.Parameter(torch.empty(input_width, output_width))
        self.bias = nn.Parameter(torch.zeros(output_width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.reshape(-1, self.input_width), self.weight)
        return out.view(*x.shape[:-1], self.output_width)


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, record: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Softmax attention over the last two dims; ``mask`` is boolean (True = may attend)."""
    if not record:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
    scores = torch.matmul(q, k.transpose(-1, -2)).float() * (q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(q.dtype)
    return torch.matmul(probs, v), probs


class LayerKVCache:
    """The keys/values one layer needs while sampling, preallocated once and written by index.

    Layout (B = batch, H = heads, d = head dim): dense (B, H, L, d); block (B, H, bc, d), a ring of the
    current row; prev_block (B, H, 2 bc, d), two alternating rows; transpose (B, H, bc, rows, d), so a
    column is contiguous; prime (B, H, prime_len, d); cross: the projected encoder states.
    """

    def __init__(
        self,
        attn: JukeboxAttention,
        batch: int,
        seq_len: int,
        dtype: torch.dtype,
        device: torch.device,
        encoder_states: torch.Tensor | None = None,
    ) -> None:
        self.kind = attn.kind
        bc = attn.block_ctx
        shape: tuple[int, ...]
        h, d = attn.n_heads, attn.head_dim
        if self.kind == CROSS:
            if encoder_states is None:
                raise ValueError("a cross-attention layer needs the lyric encoder states")
            kv = attn.c_enc_kv(encoder_states.to(dtype))
            k, v = kv.chunk(2, dim=-1)
            self.k, self.v = attn.split_heads(k).contiguous(), attn.split_heads(v).contiguous()
            return
        if self.kind == DENSE:
            shape = (batch, h, seq_len, d)
        elif self.kind == BLOCK:
            shape = (batch, h, bc, d)
        elif self.kind == PREV_BLOCK:
            shape = (batch, h, 2 * bc, d)
        elif self.kind == TRANSPOSE:
            shape = (batch, h, bc, -(-seq_len // bc), d)
        elif self.kind == PRIME:
            shape = (batch, h, attn.prime_len, d)
        else:
            raise ValueError(f"no cache for attention kind {self.kind!r}")
        # keys and values in one tensor so one copy per step writes both
        self.kv = torch.zeros((2, *shape), dtype=dtype, device=device)
        self.k, self.v = self.kv[0], self.kv[1]
        # key slots 0..n-1 along the attended axis, for the static step's masks and gathers
        self.slots = torch.arange(shape[-2] if self.kind == TRANSPOSE else shape[2], device=device)

    def reset(self, attn: JukeboxAttention, encoder_states: torch.Tensor | None = None) -> None:
        """Make the cache as new (for another window of the same shape): zeros, or the projected
        encoder states of a cross-attention layer, written into the same tensors."""
        if self.kind == CROSS:
            if encoder_states is None:
                raise ValueError("a cross-attention layer needs the lyric encoder states")
            k, v = attn.c_enc_kv(encoder_states.to(self.k.dtype)).chunk(2, dim=-1)
            self.k.copy_(attn.split_heads(k))
            self.v.copy_(attn.split_heads(v))
        else:
            self.kv.zero_()


class JukeboxAttention(nn.Module):
    """One attention layer. Parameter names follow HF: ``c_attn`` ([q|k|v], or q only for cross
    attention), ``c_enc_kv`` ([k|v] from the encoder states), ``c_proj``."""

    def __init__(self, config, n_ctx: int, kind: str) -> None:
        super().__init__()
        width = config.hidden_size
        hidden = int(config.attention_multiplier * width)
        self.kind = kind
        self.n_heads = config.n_heads
        self.head_dim = hidden // config.n_heads
        self.scale = self.head_dim**-0.25  # applied squared to q·k, as HF/original at inference
        self.step_scale = torch.tensor(self.scale * self.scale)
        self.hidden = hidden
        self.n_ctx = n_ctx
        self.block_ctx = n_ctx // config.blocks
        # HF/original: (n_lyric // blocks + 1) * blocks keys for prime attention (448 for 1b_lyrics).
        self.lyric_len = config.nb_relevant_lyric_tokens
        self.prime_len = (self.lyric_len // config.blocks + 1) * config.blocks
        if kind == CROSS:
            self.c_attn = JukeboxConv1D(width, hidden)
            self.c_enc_kv = JukeboxConv1D(width, hidden * 2)
        else:
            self.c_attn = JukeboxConv1D(width, hidden * 3)
        self.c_proj = JukeboxConv1D(hidden, width)

    # -- shapes --------------------------------------------------------------------------------
    def split_heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, H, L, d)
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    @staticmethod
    def merge_heads(x: torch.Tensor) -> torch.Tensor:  # (B, H, L, d) -> (B, L, D)
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)

    def _qkv(self, x: torch.Tensor, encoder_states: torch.Tensor | None):
        if self.kind == CROSS:
            if encoder_states is None:
                raise ValueError("a cross-attention layer needs the lyric encoder states")
            k, v = self.c_enc_kv(encoder_states.to(x.dtype)).chunk(2, dim=-1)
            return self.split_heads(self.c_attn(x)), self.split_heads(k), self.split_heads(v)
        q, k, v = self.c_attn(x).chunk(3, dim=-1)
        return self.split_heads(q), self.split_heads(k), self.split_heads(v)

    # -- whole sequence from position 0 ------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, encoder_states: torch.Tensor | None = None, record: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced attention over ``x`` (B, L, W) at positions 0..L-1.

        Returns the output (B, L, W) and, if ``record``, the attention probabilities (B, H, L, keys);
        for prime attention sliced to music queries × lyric keys, as the original records them.
        """
        q, k, v = self._qkv(x, encoder_states)
        ctx, probs = self._full(q, k, v, record)
        return self.c_proj(self.merge_heads(ctx)), probs

    def _full(self, q, k, v, record: bool):
        kind, bc = self.kind, self.block_ctx
        n = q.shape[2]
        if kind == CROSS:
            return _attend(q, k, v, None, record)
        if kind == DENSE:
            mask = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
            return _attend(q, k, v, mask, record)
        if kind == PRIME:
            n_keys = min(n, self.prime_len)
            mask = torch.ones(n, n_keys, dtype=torch.bool, device=q.device).tril()
            ctx, probs = _attend(q, k[:, :, :n_keys], v[:, :, :n_keys], mask, record)
            if probs is not None:
                probs = probs[:, :, self.lyric_len :, : self.lyric_len]
            return ctx, probs
        # Factorised kinds: pad to whole rows (padding sits after every real position, so causal
        # masks keep it invisible) and attend within rows / columns / previous rows.
        pad = -n % bc
        if pad:
            q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        b, h, length, d = q.shape
        rows = length // bc
        q, k, v = (t.reshape(b, h, rows, bc, d) for t in (q, k, v))
        if kind == BLOCK:
            mask = torch.ones(bc, bc, dtype=torch.bool, device=q.device).tril()
            ctx, probs = _attend(q, k, v, mask, record)
        elif kind == TRANSPOSE:
            mask = torch.ones(rows, rows, dtype=torch.bool, device=q.device).tril()
            ctx, probs = _attend(q.transpose(2, 3), k.transpose(2, 3), v.transpose(2, 3), mask, record)
            ctx = ctx.transpose(2, 3)
        elif kind == PREV_BLOCK:
            # Row r attends to all of row r-1; row 0 to a row of zeros (uniform weights on zero values).
            k = F.pad(k[:, :, :-1], (0, 0, 0, 0, 1, 0))
            v = F.pad(v[:, :, :-1], (0, 0, 0, 0, 1, 0))
            ctx, probs = _attend(q, k, v, None, record)
        else:
            raise ValueError(f"unknown attention kind {kind!r}")
        ctx = ctx.reshape(b, h, length, d)[:, :, :n]
        return ctx, probs  # probs keep the factorised layout (only used for debugging)

    # -- priming: a chunk of queries after cached positions ---------------------------------------
    def forward_chunk(self, x: torch.Tensor, start: int, cache: LayerKVCache) -> torch.Tensor:
        """Attention for queries at positions ``start .. start+c-1`` given ``cache`` of positions < start;
        then stores this chunk's keys/values in the cache."""
        if self.kind == CROSS:
            q = self.split_heads(self.c_attn(x))
            ctx = F.scaled_dot_product_attention(q, cache.k, cache.v)
            return self.c_proj(self.merge_heads(ctx))
        q, k, v = self._qkv(x, None)
        if start == 0:  # nothing cached yet: the factorised whole-sequence path
            ctx, _ = self._full(q, k, v, False)
            self._store(cache, 0, k, v)
            return self.c_proj(self.merge_heads(ctx))
        n = q.shape[2]
        end = start + n
        past_k, past_v, past_pos = self._past(cache, start)
        keys = torch.cat([past_k, k], dim=2)
        values = torch.cat([past_v, v], dim=2)
        q_pos = torch.arange(start, end, device=x.device)
        k_pos = torch.cat([past_pos, q_pos])
        mask = self._mask(q_pos[:, None], k_pos[None, :])
        ctx = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
        if self.kind == PREV_BLOCK and start < self.block_ctx:
            # Row 0 sees a zero row: output exactly 0 (SDPA gives NaN/garbage for an empty row).
            ctx = ctx.masked_fill((q_pos < self.block_ctx)[None, None, :, None], 0.0)
        self._store(cache, start, k, v)
        return self.c_proj(self.merge_heads(ctx))

    def _mask(self, t: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        bc, kind = self.block_ctx, self.kind
        causal = j <= t
        if kind == DENSE:
            return causal
        if kind == BLOCK:
            return causal & (j // bc == t // bc)
        if kind == TRANSPOSE:
            return causal & (j % bc == t % bc)
        if kind == PREV_BLOCK:
            return j // bc == t // bc - 1
        if kind == PRIME:
            return causal & (j < self.prime_len)
        raise ValueError(f"unknown attention kind {kind!r}")

    def _past(self, cache: LayerKVCache, start: int):
        """Cached keys/values (B, H, n, d) of the positions ``start`` may need, with their positions."""
        bc, kind = self.block_ctx, self.kind
        device = cache.k.device
        if kind == DENSE:
            lo = 0
            k, v = cache.k[:, :, :start], cache.v[:, :, :start]
        elif kind == PRIME:
            lo = 0
            hi = min(start, self.prime_len)
            k, v = cache.k[:, :, :hi], cache.v[:, :, :hi]
            return k, v, torch.arange(0, hi, device=device)
        elif kind == BLOCK:
            lo = (start // bc) * bc
            k, v = cache.k[:, :, : start - lo], cache.v[:, :, : start - lo]
        elif kind == PREV_BLOCK:
            lo = max(0, (start // bc - 1) * bc)
            slots = torch.tensor([self._prev_slot(p) for p in range(lo, start)], dtype=torch.long, device=device)
            k, v = cache.k.index_select(2, slots), cache.v.index_select(2, slots)
        elif kind == TRANSPOSE:
            lo = 0
            b, h, _, rows, d = cache.k.shape
            k = cache.k.transpose(2, 3).reshape(b, h, rows * bc, d)[:, :, :start]
            v = cache.v.transpose(2, 3).reshape(b, h, rows * bc, d)[:, :, :start]
        else:
            raise ValueError(f"unknown attention kind {kind!r}")
        return k, v, torch.arange(lo, start, device=device)

    def _prev_slot(self, pos: int) -> int:
        bc = self.block_ctx
        return ((pos // bc) % 2) * bc + pos % bc

    def _store(self, cache: LayerKVCache, start: int, k: torch.Tensor, v: torch.Tensor) -> None:
        bc, kind = self.block_ctx, self.kind
        end = start + k.shape[2]
        if kind == DENSE:
            cache.k[:, :, start:end] = k
            cache.v[:, :, start:end] = v
        elif kind == PRIME:
            hi = min(end, self.prime_len)
            if start < hi:
                cache.k[:, :, start:hi] = k[:, :, : hi - start]
                cache.v[:, :, start:hi] = v[:, :, : hi - start]
        elif kind == BLOCK:
            lo = max(start, ((end - 1) // bc) * bc)  # only the current row is kept
            cache.k[:, :, lo % bc : lo % bc + end - lo] = k[:, :, lo - start :]
            cache.v[:, :, lo % bc : lo % bc + end - lo] = v[:, :, lo - start :]
        elif kind == PREV_BLOCK:
            lo = max(start, ((end - 1) // bc - 1) * bc)  # current and previous rows are kept
            slots = torch.tensor([self._prev_slot(p) for p in range(lo, end)], dtype=torch.long, device=k.device)
            cache.k.index_copy_(2, slots, k[:, :, lo - start :])
            cache.v.index_copy_(2, slots, v[:, :, lo - start :])
        elif kind == TRANSPOSE:
            rows = cache.k.shape[3]
            pos = torch.arange(start, end, device=k.device)
            flat = (pos % bc) * rows + pos // bc
            b, h, _, _, d = cache.k.shape
            cache.k.view(b, h, bc * rows, d).index_copy_(2, flat, k)
            cache.v.view(b, h, bc * rows, d).index_copy_(2, flat, v)

    # -- one query ------------------------------------------------------------------------------
    def attend_step(self, qkv: torch.Tensor, t: int, cache: LayerKVCache) -> torch.Tensor:
        """Attention of one query at position ``t``: ``qkv`` (B, 3D) from ``c_attn`` (q only, (B, D),
        for cross attention) -> context (B, D) before ``c_proj``; writes this key/value in the cache."""
        b = qkv.shape[0]
        h, d, bc = self.n_heads, self.head_dim, self.block_ctx
        kind = self.kind
        if kind == CROSS:
            q = qkv.view(b, h, 1, d)
            keys, values = cache.k, cache.v
        else:
            qkv = qkv.view(b, 3, h, d)
            q = qkv[:, 0].unsqueeze(2)  # (B, H, 1, d)
            new = qkv[:, 1:].transpose(0, 1)  # (2, B, H, d): key and value
            kv = cache.kv
            if kind == BLOCK:
                s = t % bc
                kv[:, :, :, s] = new
                keys, values = kv[0, :, :, : s + 1], kv[1, :, :, : s + 1]
            elif kind == TRANSPOSE:
                r, c = divmod(t, bc)
                kv[:, :, :, c, r] = new
                keys, values = kv[0, :, :, c, : r + 1], kv[1, :, :, c, : r + 1]
            elif kind == PREV_BLOCK:
                r = t // bc
                kv[:, :, :, (r % 2) * bc + t % bc] = new
                lo = ((r - 1) % 2) * bc  # row 0 reads the zero-initialised other half: output 0
                keys, values = kv[0, :, :, lo : lo + bc], kv[1, :, :, lo : lo + bc]
            elif kind == DENSE:
                kv[:, :, :, t] = new
                keys, values = kv[0, :, :, : t + 1], kv[1, :, :, : t + 1]
            else:  # PRIME
                if t < self.prime_len:
                    kv[:, :, :, t] = new
                n = min(t + 1, self.prime_len)
                keys, values = kv[0, :, :, :n], kv[1, :, :, :n]
        # One query: plain batched matmuls over (B*H) beat the fused kernel's set-up at these sizes.
        n = keys.shape[2]
        w = torch.bmm(q.reshape(b * h, 1, d), keys.reshape(b * h, n, d).transpose(1, 2))
        w.mul_(self.step_scale)  # (d^-1/4)^2 as a 0-dim tensor, set by the layer stack's step plan
        if w.dtype == torch.float32:
            w = torch.softmax(w, dim=-1)
        else:
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(w.dtype)
        return torch.bmm(w, values.reshape(b * h, n, d)).view(b, h * d)

    def attend_static(self, qkv: torch.Tensor, t: torch.Tensor, cache: LayerKVCache) -> torch.Tensor:
        """``attend_step`` with the position ``t`` a 0-dim long tensor on the cache's device.

        Every shape is fixed for a cache (the whole buffer is read, later slots masked out) and no value
        goes to the host, so one capture of the step replays at every position of a window.
        """
        b = qkv.shape[0]
        h, d, bc = self.n_heads, self.head_dim, self.block_ctx
        kind = self.kind
        hidden = None  # key slots to mask out (True = not visible yet)
        if kind == CROSS:
            q = qkv.view(b, h, 1, d)
            keys, values = cache.k, cache.v
        else:
            qkv = qkv.view(b, 3, h, d)
            q = qkv[:, 0].unsqueeze(2)
            new = qkv[:, 1:].transpose(0, 1).unsqueeze(3)  # (2, B, H, 1, d)
            kv, slots = cache.kv, cache.slots
            if kind == DENSE:
                kv.index_copy_(3, t.view(1), new)
                keys, values = kv[0], kv[1]
                hidden = slots > t
            elif kind == BLOCK:
                s = t % bc
                kv.index_copy_(3, s.view(1), new)
                keys, values = kv[0], kv[1]
                hidden = slots > s
            elif kind == PREV_BLOCK:
                r = t // bc
                kv.index_copy_(3, ((r % 2) * bc + t % bc).view(1), new)
                rows = kv.index_select(3, slots[:bc] + ((r + 1) % 2) * bc)  # row 0 reads zeros: output 0
                keys, values = rows[0], rows[1]
            elif kind == TRANSPOSE:
                r, c = t // bc, t % bc
                two, bb, hh, _, n_rows, dd = kv.shape
                kv.view(two, bb, hh, bc * n_rows, dd).index_copy_(3, (c * n_rows + r).view(1), new)
                column = kv.index_select(3, c.view(1)).squeeze(3)  # (2, B, H, rows, d)
                keys, values = column[0], column[1]
                hidden = slots > r
            else:  # PRIME: positions past the prefix write nothing (the slot keeps its value)
                slot = t.clamp(max=self.prime_len - 1).view(1)
                kv.index_copy_(3, slot, torch.where(t < self.prime_len, new, kv.index_select(3, slot)))
                keys, values = kv[0], kv[1]
                hidden = slots > t
        n = keys.shape[2]
        w = torch.bmm(q.reshape(b * h, 1, d), keys.reshape(b * h, n, d).transpose(1, 2))
        w.mul_(self.step_scale)
        if hidden is not None:
            w.masked_fill_(hidden, float("-inf"))
        if w.dtype == torch.float32:
            w = torch.softmax(w, dim=-1)
        else:
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(w.dtype)
        return torch.bmm(w, values.reshape(b * h, n, d)).view(b, h * d)
