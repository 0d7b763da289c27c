"""The Jukebox transformer (pre-LN blocks of factorised attention + MLP) and the autoregressive
model around it (token/position embeddings, conditioning, tied output projection, sampling loop).

Module and parameter names follow Hugging Face 4.40.2 so state dicts load without a key map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from jukestudio.model.attention import JukeboxAttention, JukeboxConv1D, LayerKVCache, attention_kind
from jukestudio.model.quantize import int8_addmm, int8_linear
from jukestudio.model.sampling import draw_tokens
from jukestudio.model.sampling_params import SamplingParams

# A CPU sampling step whose matrices are this small (rows x width^2 multiply-adds) runs on one
# intra-op thread: forking/joining threads for a 1-row matmul costs more than it saves, and on a
# busy machine a waiting OpenMP thread makes every tiny op wait for a time slice.
SINGLE_THREAD_STEP_WORK = 1 << 24


@contextmanager
def few_threads_if_small(device: torch.device, work: int) -> Iterator[None]:
    """Run the body on one intra-op thread when ``work`` (multiply-adds per matrix) is small."""
    threads = torch.get_num_threads()
    single = device.type == "cpu" and threads > 1 and work <= SINGLE_THREAD_STEP_WORK
    if single:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if single:
            torch.set_num_threads(threads)


class JukeboxLayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 whatever the activation dtype (as the original)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps).to(x.dtype)


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


class JukeboxMLP(nn.Module):
    def __init__(self, config) -> None:
        super().__init__()
        width = config.hidden_size
        hidden = int(config.mlp_multiplier * width)
        self.c_fc = JukeboxConv1D(width, hidden)
        self.c_proj = JukeboxConv1D(hidden, width)
        if config.act_fn != "quick_gelu":
            raise ValueError(f"unsupported act_fn {config.act_fn!r} (Jukebox priors use 'quick_gelu')")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(quick_gelu(self.c_fc(x)))


class JukeboxBlock(nn.Module):
    """``h = x + attn(ln_0(x)); out = h + mlp(ln_1(h))`` (res_scale 1 for all released models)."""

    def __init__(self, config, n_ctx: int, kind: str) -> None:
        super().__init__()
        self.attn = JukeboxAttention(config, n_ctx, kind)
        self.layer_norm_0 = JukeboxLayerNorm(config.hidden_size)
        self.mlp = JukeboxMLP(config)
        self.layer_norm_1 = JukeboxLayerNorm(config.hidden_size)
        self.res_scale = 1.0 / config.num_layers if config.attn_res_scale else 1.0

    def _residual(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        m = self.mlp(self.layer_norm_1(x + a))
        if self.res_scale == 1.0:
            return x + a + m
        return x + self.res_scale * (a + m)

    def forward(self, x, encoder_states=None, record: bool = False):
        a, probs = self.attn(self.layer_norm_0(x), encoder_states, record)
        return self._residual(x, a), probs

    def forward_chunk(self, x: torch.Tensor, start: int, cache: LayerKVCache) -> torch.Tensor:
        return self._residual(x, self.attn.forward_chunk(self.layer_norm_0(x), start, cache))


class JukeboxLayerStack(nn.Module):
    """``num_layers`` blocks; the attention kind of each layer comes from ``attention_pattern``.

    ``compute_dtype`` (None = that of the input) is the activation dtype inside the stack: inputs are
    cast to it on entry and results back to fp32 on exit, as the original's fp16 sampling.
    """

    def __init__(self, config, n_ctx: int) -> None:
        super().__init__()
        self.n_ctx = n_ctx
        self._attn_mods = nn.ModuleList(
            JukeboxBlock(config, n_ctx, attention_kind(config.attention_pattern, d)) for d in range(config.num_layers)
        )
        self.compute_dtype: torch.dtype | None = None
        # per-token step: "eager", "static" (fixed shapes, run eagerly) or "cuda_graph" (see step_graph)
        self.step_mode = "eager"
        self._sessions: dict[tuple, tuple[list[LayerKVCache], Callable]] = {}
        # {Conv1D: Int8Weight} while the fast CPU preview is on (see quantize.py), else None
        self.int8_weights: dict[nn.Module, object] | None = None

    @property
    def kinds(self) -> list[str]:
        return [block.attn.kind for block in self._attn_mods]

    def _enter(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.compute_dtype is None else x.to(self.compute_dtype)

    def forward(
        self, x: torch.Tensor, encoder_states: torch.Tensor | None = None, record_layers: Iterable[int] = ()
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        record = set(record_layers)
        probs: dict[int, torch.Tensor] = {}
        out_dtype = x.dtype
        x = self._enter(x)
        for i, block in enumerate(self._attn_mods):
            x, p = block(x, encoder_states, i in record)
            if p is not None:
                probs[i] = p
        return x.to(out_dtype), probs

    def new_caches(
        self,
        batch: int,
        seq_len: int,
        device: torch.device,
        encoder_states: torch.Tensor | None = None,
    ) -> list[LayerKVCache]:
        dtype = self.compute_dtype or self._attn_mods[0].mlp.c_fc.weight.dtype
        return [LayerKVCache(block.attn, batch, seq_len, dtype, device, encoder_states) for block in self._attn_mods]

    def sampling_session(
        self, batch: int, seq_len: int, device: torch.device, encoder_states: torch.Tensor | None = None
    ) -> tuple[list[LayerKVCache], Callable[[torch.Tensor, int], torch.Tensor]]:
        """Fresh caches for one window and the per-token step ``(x, t) -> h`` reading them.

        Eager: new caches and ``step``. Static/CUDA-graph mode: the caches and captured step of this
        window shape are kept (until ``release_sessions``) and reset for the next window of that shape.
        """
        if self.step_mode == "eager":
            caches = self.new_caches(batch, seq_len, device, encoder_states)
            plan = self.step_plan()
            return caches, lambda x, t: self.step(x, t, caches, plan)
        dtype = self.compute_dtype or self._attn_mods[0].mlp.c_fc.weight.dtype
        key = (batch, seq_len, str(device), dtype, self.step_mode)
        if key in self._sessions:
            caches, step = self._sessions[key]
            for block, cache in zip(self._attn_mods, caches):
                cache.reset(block.attn, encoder_states)
            return caches, step
        from jukestudio.model.step_graph import StaticStep

        # Keep few shapes: a full window and the last batch of takes (or a partial window). A smaller
        # batch than a kept one is the out-of-memory retry: the larger caches go first.
        for old in [k for k in self._sessions if k[0] > batch] + list(self._sessions)[:-1]:
            self._sessions.pop(old, None)
        caches = self.new_caches(batch, seq_len, device, encoder_states)
        step = StaticStep(self, caches, batch, device, use_graph=self.step_mode == "cuda_graph")
        self._sessions[key] = (caches, step)
        return caches, step

    def release_sessions(self) -> None:
        """Drop the kept caches and captured graphs (their device memory)."""
        self._sessions.clear()

    def forward_chunk(self, x: torch.Tensor, start: int, caches: list[LayerKVCache]) -> torch.Tensor:
        out_dtype = x.dtype
        x = self._enter(x)
        for block, cache in zip(self._attn_mods, caches):
            x = block.forward_chunk(x, start, cache)
        return x.to(out_dtype)

    def step_plan(self) -> list[tuple]:
        """Per layer the tensors one sampling step needs, gathered once per window so the step
        itself is plain tensor calls (no module dispatch)."""
        plan = []
        q = self.int8_weights  # weight-only int8 copies (fast CPU preview), else the matrices themselves
        first = self._attn_mods[0].mlp.c_fc.weight
        dtype, device = self.compute_dtype or first.dtype, first.device
        # 0-dim tensors instead of Python scalars: saves a scalar-to-tensor copy per use
        self._gelu_k = torch.tensor(1.702, dtype=dtype, device=device)
        for block in self._attn_mods:
            attn, mlp = block.attn, block.mlp
            attn.step_scale = torch.tensor(attn.scale * attn.scale, dtype=dtype, device=device)
            plan.append(
                (
                    attn,
                    block.layer_norm_0.weight,
                    block.layer_norm_0.bias,
                    attn.c_attn.weight if q is None else q.get(attn.c_attn, attn.c_attn.weight),
                    attn.c_attn.bias,
                    attn.c_proj.weight if q is None else q.get(attn.c_proj, attn.c_proj.weight),
                    attn.c_proj.bias,
                    block.layer_norm_1.weight,
                    block.layer_norm_1.bias,
                    mlp.c_fc.weight if q is None else q.get(mlp.c_fc, mlp.c_fc.weight),
                    mlp.c_fc.bias,
                    mlp.c_proj.weight if q is None else q.get(mlp.c_proj, mlp.c_proj.weight),
                    mlp.c_proj.bias,
                    block.res_scale,
                    block.layer_norm_0.eps,
                )
            )
        return plan

    def step(
        self, x: torch.Tensor, t: int | torch.Tensor, caches: list[LayerKVCache], plan: list[tuple] | None = None
    ) -> torch.Tensor:
        """One position ``t`` for every row: x (B, 1, W) -> (B, 1, W), reading/writing ``caches``.

        ``t`` an int: each layer reads the cache up to ``t`` (eager). ``t`` a 0-dim tensor: the
        fixed-shape step of ``step_graph`` (the same function; what a CUDA graph replays)."""
        b, _, width = x.shape
        shape = (width,)
        dt = self.compute_dtype
        plan = plan if plan is not None else self.step_plan()
        gelu_k = self._gelu_k
        static = isinstance(t, torch.Tensor)  # a position tensor: the fixed-shape step (CUDA graphs)
        mm = int8_addmm if self.int8_weights is not None else torch.addmm
        h = x.view(b, width) if dt is None else x.view(b, width).to(dt)
        for (attn, l0w, l0b, qw, qb, pw, pb, l1w, l1b, fw, fb, mw, mb, res, eps), cache in zip(plan, caches):
            if dt is None:
                a = F.layer_norm(h, shape, l0w, l0b, eps)
            else:
                a = F.layer_norm(h.float(), shape, l0w, l0b, eps).to(dt)
            qkv = mm(qb, a, qw)
            a = mm(pb, attn.attend_static(qkv, t, cache) if static else attn.attend_step(qkv, t, cache), pw)
            h2 = h + a
            if dt is None:
                m = F.layer_norm(h2, shape, l1w, l1b, eps)
            else:
                m = F.layer_norm(h2.float(), shape, l1w, l1b, eps).to(dt)
            m = mm(fb, m, fw)
            m = m * torch.sigmoid(m * gelu_k)  # quick-GELU
            m = mm(mb, m, mw)
            h = h2.add_(m) if res == 1.0 else h + res * (a + m)
        return h.view(b, 1, width) if dt is None else h.view(b, 1, width).float()


class JukeboxPositionalEmbedding(nn.Module):
    def __init__(self, n_ctx: int, width: int) -> None:
        super().__init__()
        self.pos_emb = nn.Parameter(torch.empty(n_ctx, width))

    def forward(self) -> torch.Tensor:
        return self.pos_emb


class JukeboxConditionalAutoregressive(nn.Module):
    """Autoregressive transformer over music tokens, lyric tokens (the 5b lyric encoder) or both
    (the 1b_lyrics prior: one sequence ``[lyrics | music + lyric_vocab]``).

    The input at position t is ``embed(token[t-1]) + pos_emb[t] + cond[t]``; position 0 uses the
    artist/genre start embedding (``metadata_conditioning``) or a learned ``start_token``. Logits are
    ``fc_proj_out(transformer(x) (+ cond unless merged_decoder))``, with ``fc_proj_out`` tied to
    ``embed_tokens`` unless ``merged_decoder``.
    """

    def __init__(
        self,
        config,
        n_ctx: int | None = None,
        embed_dim: int | None = None,
        audio_conditioning: bool = False,
        metadata_conditioning: bool = False,
        is_encoder: bool = False,
    ) -> None:
        super().__init__()
        self.width = config.hidden_size
        self.n_ctx = n_ctx if n_ctx is not None else config.n_ctx
        self.embed_dim = embed_dim if embed_dim is not None else config.music_vocab_size
        self.embed_tokens = nn.Embedding(self.embed_dim, self.width)
        self.metadata_conditioning = metadata_conditioning
        self.audio_conditioning = audio_conditioning
        if not metadata_conditioning:
            self.start_token = nn.Parameter(torch.empty(1, self.width))
        self.pos_emb = JukeboxPositionalEmbedding(self.n_ctx, self.width)
        self.transformer = JukeboxLayerStack(config, self.n_ctx)
        self.is_encoder = is_encoder
        self.encoder_len = config.nb_relevant_lyric_tokens
        self.add_cond_after_transformer = not config.merged_decoder
        self.tied = not config.merged_decoder
        if not is_encoder:
            self.fc_proj_out = nn.Linear(self.width, self.embed_dim, bias=False)
            self.tie_weights()
        self._register_load_state_dict_pre_hook(self._fill_tied_key)

    def tie_weights(self) -> None:
        """Share ``fc_proj_out.weight`` with ``embed_tokens.weight`` (call again after ``assign=True`` loads)."""
        if self.tied and not self.is_encoder:
            self.fc_proj_out.weight = self.embed_tokens.weight

    def _fill_tied_key(self, state_dict, prefix, *args) -> None:
        # HF safetensors files omit the tied copy; the state dict of this module has both names.
        out_key, emb_key = prefix + "fc_proj_out.weight", prefix + "embed_tokens.weight"
        if self.tied and not self.is_encoder and out_key not in state_dict and emb_key in state_dict:
            state_dict[out_key] = state_dict[emb_key]

    # -- conditioning helpers ----------------------------------------------------------------------
    def _start(self, batch: int, metadata_conditioning: torch.Tensor | None) -> torch.Tensor:
        if self.metadata_conditioning:
            if metadata_conditioning is None:
                raise ValueError("this model needs the metadata (artist/genre) start embedding")
            return metadata_conditioning.reshape(batch, 1, self.width).to(self.embed_tokens.weight.dtype)
        return self.start_token.view(1, 1, self.width).expand(batch, 1, self.width)

    def _cond(self, batch: int, audio_conditioning: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """(B, n_ctx, W) per-position conditioning or (B, 1, W) broadcast; zeros when there is none."""
        if not self.audio_conditioning or audio_conditioning is None:
            return torch.zeros(batch, 1, self.width, device=device, dtype=self.embed_tokens.weight.dtype)
        if audio_conditioning.shape[1] not in (1, self.n_ctx):
            raise ValueError(
                f"conditioning covers {audio_conditioning.shape[1]} positions; this prior needs {self.n_ctx} "
                "(one window) or 1"
            )
        return audio_conditioning

    # -- teacher forcing ---------------------------------------------------------------------------
    def forward(
        self,
        tokens: torch.Tensor,
        audio_conditioning: torch.Tensor | None = None,
        metadata_conditioning: torch.Tensor | None = None,
        encoder_states: torch.Tensor | None = None,
        get_preds: bool = False,
        get_sep_loss: bool = False,
        record_layers: Iterable[int] = (),
    ):
        """Returns ``(loss, preds, attention_probs)``; for an encoder ``(hidden_states, None, probs)``.

        ``loss`` is in bits per token; a pair ``(lyric_loss, music_loss)`` with ``get_sep_loss``.
        """
        batch = tokens.shape[0]
        tokens = tokens.reshape(batch, -1).long()
        length = tokens.shape[1]
        cond = self._cond(batch, audio_conditioning, tokens.device)
        x = self.embed_tokens(tokens)
        x = torch.cat((self._start(batch, metadata_conditioning), x[:, :-1]), dim=1)
        x = x + self.pos_emb.pos_emb[:length] + cond
        x, probs = self.transformer(x, encoder_states, record_layers)
        if self.add_cond_after_transformer:
            x = x + cond
        if self.is_encoder:
            return x, None, probs
        logits = self.fc_proj_out(x)
        ln2 = 0.6931471805599453
        if get_sep_loss:
            n = self.encoder_len
            lyric = F.cross_entropy(logits[:, :n].reshape(-1, self.embed_dim), tokens[:, :n].reshape(-1)) / ln2
            music = F.cross_entropy(logits[:, n:].reshape(-1, self.embed_dim), tokens[:, n:].reshape(-1)) / ln2
            loss = (lyric, music)
        else:
            loss = F.cross_entropy(logits.reshape(-1, self.embed_dim), tokens.reshape(-1)) / ln2
        return loss, (logits if get_preds else None), probs

    # -- sampling ----------------------------------------------------------------------------------
    def sample(self, n_samples: int, *args, **kwargs) -> torch.Tensor:
        """Sample positions ``len(context) .. sample_tokens-1``; returns (B, sample_tokens) with the
        context as prefix (see ``_sample`` for the arguments)."""
        with torch.no_grad():
            # the loop runs in inference mode; hand back an ordinary tensor callers may edit in place
            return self._sample(n_samples, *args, **kwargs).clone()

    @torch.inference_mode()
    def _sample(
        self,
        n_samples: int,
        context: torch.Tensor | None = None,
        audio_conditioning: torch.Tensor | None = None,
        metadata_conditioning: torch.Tensor | None = None,
        encoder_states: torch.Tensor | None = None,
        temp: float = 1.0,
        top_k: int = 0,
        top_p: float = 0.0,
        chunk_size: int | None = None,
        sample_tokens: int | None = None,
        generator: torch.Generator | None = None,
        on_step: Callable[[int, int], None] | None = None,
        *,
        params: SamplingParams | None = None,
        level: int = 0,
    ) -> torch.Tensor:
        """Sample positions ``len(context) .. sample_tokens-1``; returns (B, sample_tokens) with the
        context as prefix. The context is first pushed through the transformer in chunks of
        ``chunk_size`` positions (None: one chunk) to fill the KV cache.

        ``params`` (with the prior ``level`` it samples) replaces ``temp``, ``top_k``, ``top_p`` and
        ``chunk_size``; it goes unchanged to the logits filter."""
        if params is None:
            params = SamplingParams.from_hf_kwargs(1, temp=temp, top_k=top_k, top_p=top_p, chunk_size=chunk_size)
            level = 0
        chunk_size = params.chunk_size(level)
        total = self.n_ctx if sample_tokens is None else int(sample_tokens)
        n_context = 0 if context is None else context.shape[1]
        if not 0 <= n_context <= total <= self.n_ctx:
            raise ValueError(f"cannot sample {total} positions with {n_context} of context (window holds {self.n_ctx})")
        weight = self.embed_tokens.weight
        device = weight.device
        cond = self._cond(n_samples, audio_conditioning, device)
        per_position = cond.shape[1] > 1
        start = self._start(n_samples, metadata_conditioning)
        pos = self.pos_emb.pos_emb
        caches, step_fn = self.transformer.sampling_session(n_samples, total, device, encoder_states)
        out = torch.empty(n_samples, total, dtype=torch.long, device=device)
        if n_context:
            context = context.to(device=device, dtype=torch.long).reshape(n_samples, n_context)
            out[:, :n_context] = context
            x = torch.cat((start, F.embedding(context[:, :-1], weight)), dim=1)
            x = x + pos[:n_context] + (cond[:, :n_context] if per_position else cond)
            step = n_context if not chunk_size else int(chunk_size)
            with few_threads_if_small(device, n_samples * min(step, n_context) * self.width**2):
                for s in range(0, n_context, step):
                    self.transformer.forward_chunk(x[:, s : s + step], s, caches)
        token = out[:, n_context - 1 : n_context] if n_context else None
        n_new = total - n_context
        proj_out = self.fc_proj_out.weight
        int8 = self.transformer.int8_weights
        int8_head = int8.get(self.fc_proj_out) if int8 is not None else None
        with few_threads_if_small(device, n_samples * self.width**2):
            for t in range(n_context, total):
                x = start if t == 0 else F.embedding(token, weight)
                c = cond[:, t : t + 1] if per_position else cond
                x = x + pos[t] + c
                h = step_fn(x, t)
                if self.add_cond_after_transformer:
                    h = h + c
                if int8_head is None:
                    logits = F.linear(h[:, 0], proj_out)
                else:
                    logits = int8_linear(h[:, 0], int8_head).float()
                token = draw_tokens(logits, params, level, generator)
                out[:, t : t + 1] = token
                if on_step is not None:
                    on_step(t - n_context + 1, n_new)
        return out


__all__ = [
    "JukeboxBlock",
    "JukeboxConditionalAutoregressive",
    "JukeboxLayerNorm",
    "JukeboxLayerStack",
    "JukeboxMLP",
    "JukeboxPositionalEmbedding",
    "quick_gelu",
]
