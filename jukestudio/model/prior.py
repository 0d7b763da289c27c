"""``JukeboxPrior``: one level of Jukebox (the top prior or an upsampler) with the Hugging Face API.

Three styles, chosen by the config:

* **1b_lyrics top** (``is_encoder_decoder=True``): lyrics and music are one sequence
  ``[lyric window (n_lyr) | music tokens + lyric_vocab_size]``; a few layers use prime attention on
  the lyric prefix. The timing signal conditions music positions only (zeros over the lyrics).
* **5b / 5b_lyrics top**: music only; with lyrics a separate lyric encoder (``encoder``) whose
  projected states feed the cross-attention layers.
* **upsamplers** (``level > 0``): music conditioned per position on the level above through
  ``conditioner_blocks``; artist/genre start embedding, no timing signal, no lyrics.

Behaviour follows the original OpenAI code where HF 4.40.2 deviates (hf-jukebox.md §8): ``offset``
is in samples (#10 wording), timing ranges are checked at both ends with a clear ``ValueError``
(#10), upsampler conditioning is exactly ``upper[:, start // 4 : end // 4]`` (#11), ``forward_tokens``
works for every prior (#22), alignment uses attention probabilities (#16), masks are always causal
(#19), and each batch row uses its own lyrics for the lyric window.

Inference dtype: ``set_inference_dtype(torch.float16 | torch.bfloat16)`` stores the transformer
matrices in that dtype (once, in place) and runs the residual stream and KV cache in it, while
embeddings, LayerNorm statistics, softmax, conditioning and logits stay fp32 (as the original's
fp16 sampling). ``set_inference_dtype(None)`` goes back to fp32 computation (the matrices keep
the reduced precision until weights are loaded again).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from jukestudio.model.attention import JukeboxConv1D
from jukestudio.model.conditioners import (
    JukeboxLabelConditioner,
    JukeboxMusicTokenConditioner,
    JukeboxRangeEmbedding,
)
from jukestudio.model.config import JukeboxPriorConfig
from jukestudio.model.sampling_params import SamplingParams
from jukestudio.model.tokenizer import get_relevant_lyric_tokens
from jukestudio.model.transformer import (
    JukeboxConditionalAutoregressive,
    JukeboxLayerNorm,
    JukeboxPositionalEmbedding,
)
from jukestudio.model.vqvae_blocks import ResConv1DBlock

_LN2 = math.log(2.0)


class JukeboxPrior(nn.Module):
    """One Jukebox prior. ``level`` is in prior order (0 = top); defaults to ``config.level``."""

    def __init__(self, config: JukeboxPriorConfig, level: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.level = config.level if level is None else level
        self.levels = len(config.res_downs_t)
        self.n_ctx = config.n_ctx
        self.nb_relevant_lyric_tokens = config.nb_relevant_lyric_tokens
        self.lyric_conditioning = config.nb_relevant_lyric_tokens > 0
        self.encoder_loss_fraction = config.encoder_loss_fraction

        self.audio_conditioning = self.level != 0
        if self.audio_conditioning:
            self.conditioner_blocks = JukeboxMusicTokenConditioner(config, self.level)
        self.metadata_conditioning = config.metadata_conditioning
        if self.metadata_conditioning:
            self.metadata_embedding = JukeboxLabelConditioner(config, include_time_signal=not self.audio_conditioning)

        self.is_encoder_decoder = config.is_encoder_decoder
        uses_cond = self.audio_conditioning or self.metadata_conditioning
        if self.is_encoder_decoder:
            self.lyric_shift = config.lyric_vocab_size
            self.prior = JukeboxConditionalAutoregressive(
                config,
                n_ctx=config.nb_relevant_lyric_tokens + config.n_ctx,
                embed_dim=config.lyric_vocab_size + config.music_vocab_size,
                audio_conditioning=uses_cond,
                metadata_conditioning=True,
            )
        else:
            if self.lyric_conditioning:
                enc = config.encoder_config
                if enc is None:
                    raise ValueError("a prior with lyrics and is_encoder_decoder=False needs an encoder_config")
                self.encoder = JukeboxConditionalAutoregressive(
                    enc, n_ctx=config.nb_relevant_lyric_tokens, embed_dim=config.lyric_vocab_size, is_encoder=True
                )
                self.encoder.proj_in = JukeboxConv1D(enc.hidden_size, config.hidden_size)
                self.encoder.final_layer_norm = JukeboxLayerNorm(config.hidden_size)
                self.encoder.lm_head = nn.Linear(config.hidden_size, config.lyric_vocab_size, bias=False)
            self.prior = JukeboxConditionalAutoregressive(
                config, audio_conditioning=uses_cond, metadata_conditioning=self.metadata_conditioning
            )

        self.total_loss_dims = self.nb_relevant_lyric_tokens + self.n_ctx
        downsamples = [s**d for s, d in zip(config.res_strides_t, config.res_downs_t)]
        # upper-level codes per code of this level: the downsampling of the upper prior's VQ level
        self.cond_downsample = downsamples[self.levels - self.level] if self.level != 0 else None
        self.raw_to_tokens = math.prod(downsamples[: self.levels - self.level])
        self.sample_length = self.n_ctx * self.raw_to_tokens

    # -- weights ---------------------------------------------------------------------------------
    def tie_weights(self) -> None:
        self.prior.tie_weights()

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """Deterministic random initialisation as the original (normal, std 0.02 * init_scale for
        matrices and embeddings, 0.01 * init_scale for positional/timing tables; default-style
        uniform for convolutions; LayerNorm = identity)."""
        g = generator
        enc_cfg = self.config.encoder_config
        for name, module in self.named_modules():
            in_encoder = name.startswith("encoder") and not name.startswith(
                ("encoder.proj_in", "encoder.final_layer_norm", "encoder.lm_head")
            )
            scale = (enc_cfg.init_scale if in_encoder and enc_cfg else self.config.init_scale) * 1.0
            zero_out = (enc_cfg.zero_out if in_encoder and enc_cfg else self.config.zero_out) or False
            if isinstance(module, JukeboxRangeEmbedding):
                module.emb.weight.normal_(0.0, 0.01 * scale, generator=g)
            elif isinstance(module, nn.Embedding):
                if not name.endswith(".emb"):  # range embeddings are done by their parent
                    module.weight.normal_(0.0, 0.02 * scale, generator=g)
            elif isinstance(module, JukeboxConv1D):
                if zero_out:
                    module.weight.zero_()
                else:
                    module.weight.normal_(0.0, 0.02 * scale, generator=g)
                module.bias.zero_()
            elif isinstance(module, JukeboxPositionalEmbedding):
                module.pos_emb.normal_(0.0, 0.01 * scale, generator=g)
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                fan_in = nn.init._calculate_fan_in_and_fan_out(module.weight)[0]
                bound = 1.0 / math.sqrt(fan_in)
                module.weight.uniform_(-bound, bound, generator=g)
                module.bias.uniform_(-bound, bound, generator=g)
            elif isinstance(module, nn.Linear) and not (
                module is getattr(self.prior, "fc_proj_out", None) and self.prior.tied
            ):
                module.weight.normal_(0.0, 0.02 * scale, generator=g)
            if isinstance(module, JukeboxConditionalAutoregressive) and hasattr(module, "start_token"):
                module.start_token.normal_(0.0, 0.01 * scale, generator=g)
        for module in self.modules():
            if isinstance(module, ResConv1DBlock) and self.config.zero_out:
                module.conv1d_2.weight.zero_()
                module.conv1d_2.bias.zero_()

    def _stacks(self):
        yield self.prior.transformer
        if hasattr(self, "encoder"):
            yield self.encoder.transformer

    def set_inference_dtype(self, dtype: torch.dtype | None) -> None:
        """Run the transformer matrices and KV cache in ``dtype`` (e.g. ``torch.float16`` on a GPU);
        LayerNorm, softmax, embeddings, conditioning and logits stay fp32. ``None`` = fp32."""
        target = torch.float32 if dtype is None else dtype
        for stack in self._stacks():
            for module in stack.modules():
                if isinstance(module, JukeboxConv1D):
                    module.weight.data = module.weight.data.to(target)
                    module.bias.data = module.bias.data.to(target)
            stack.compute_dtype = None if target == torch.float32 else target

    # -- labels and conditioning -------------------------------------------------------------------
    def get_metadata(
        self,
        labels: torch.Tensor,
        start: int,
        total_length: int,
        offset: int = 0,
        get_indices: bool = False,
    ):
        """Label rows for the window starting at music token ``start`` of this level.

        ``labels`` (N, 4 + G [+ full lyrics]) from the tokenizer. Sets ``[0] = total_length``
        (samples, the declared song length), ``[1] = offset + start * raw_to_tokens`` (samples),
        ``[2] = n_ctx * raw_to_tokens`` and replaces the full lyrics of each row by its
        ``nb_relevant_lyric_tokens`` window. With ``get_indices`` also returns, per row, the index of
        each window character in the full lyrics (-1 = padding), or None without lyrics.
        """
        metadata = labels.clone()
        metadata[:, 0] = int(total_length)
        metadata[:, 2] = int(self.sample_length)
        metadata[:, 1] = int(offset) + int(start * self.raw_to_tokens)
        indices = None
        if self.nb_relevant_lyric_tokens > 0:
            head = 4 + self.config.max_nb_genres
            if metadata.shape[1] < head:
                raise ValueError(f"label rows have {metadata.shape[1]} entries; this prior needs at least {head}")
            windows, indices = [], []
            for row in range(metadata.shape[0]):
                tokens, idx = get_relevant_lyric_tokens(
                    labels[row, head:],
                    self.nb_relevant_lyric_tokens,
                    metadata[row, 0],
                    metadata[row, 1],
                    metadata[row, 2],
                )
                windows.append(torch.tensor(tokens, dtype=torch.long))
                indices.append(idx)
            metadata = torch.cat([metadata[:, :head], torch.stack(windows).to(metadata.device)], dim=1)
        return (metadata, indices) if get_indices else metadata

    def get_music_tokens_conds(
        self, music_tokens: list[torch.Tensor], start: int, end: int
    ) -> list[torch.Tensor] | None:
        """The upper level's tokens under the window ``[start, end)`` of this level (upsamplers), as
        the original: exactly ``upper[:, start // d : end // d]`` (d = 4), which must be complete."""
        if self.level == 0:
            return None
        d = self.cond_downsample
        if start % d or end % d:
            raise ValueError(f"window [{start}, {end}) of level {self.level} must start and end on multiples of {d}")
        upper = music_tokens[self.level - 1]
        need = self.n_ctx // d
        cond = upper[:, start // d : end // d]
        if cond.shape[1] != need:
            raise ValueError(
                f"level {self.level} window [{start}, {end}) needs {need} tokens of the level above "
                f"(positions {start // d}..{start // d + need - 1}); it has {upper.shape[1]}"
            )
        return [cond]

    def get_cond(self, music_tokens_conds, metadata):
        """``(audio_conditioning, metadata_conditioning, lyric_tokens)``: conditioner output
        (N, n_ctx, W) for upsamplers or the timing signal (N, n_ctx, W) for the top prior; the start
        embedding (N, 1, W); the lyric window (N, n_lyr) (empty without lyrics)."""
        if metadata is not None:
            n_labels = metadata.shape[1] - self.nb_relevant_lyric_tokens
            labels, lyric_tokens = metadata[:, :n_labels], metadata[:, n_labels:]
        else:
            labels, lyric_tokens = None, None
        if self.metadata_conditioning:
            if labels is None:
                raise ValueError("this prior needs metadata (labels from get_metadata)")
            metadata_conditioning, timing = self.metadata_embedding(labels)
        else:
            metadata_conditioning, timing = None, None
        if self.audio_conditioning:
            if not music_tokens_conds:
                raise ValueError(f"the level-{self.level} upsampler needs the tokens of the level above")
            audio_conditioning = self.conditioner_blocks(music_tokens_conds[0])
        else:
            audio_conditioning = timing
        return audio_conditioning, metadata_conditioning, lyric_tokens

    def _joint_sequence(self, lyric_tokens, music_tokens, audio_conditioning):
        """1b style: ``[lyrics | music + shift]`` and conditioning zero over the lyrics."""
        batch = lyric_tokens.shape[0]
        parts = [lyric_tokens.long()]
        if music_tokens is not None and music_tokens.shape[1] > 0:
            parts.append(music_tokens.long().to(lyric_tokens.device) + self.lyric_shift)
        tokens = torch.cat(parts, dim=1)
        if audio_conditioning is not None:
            zeros = audio_conditioning.new_zeros(batch, self.nb_relevant_lyric_tokens, audio_conditioning.shape[-1])
            audio_conditioning = torch.cat([zeros, audio_conditioning], dim=1)
        return tokens, audio_conditioning

    def get_encoder_states(self, lyric_tokens: torch.Tensor | None, sample: bool = False) -> torch.Tensor | None:
        """5b style: lyric encoder -> ``proj_in`` -> ``final_layer_norm`` (N, n_lyr, W); else None."""
        if not hasattr(self, "encoder") or lyric_tokens is None:
            return None
        states, _, _ = self.encoder(lyric_tokens)
        return self.encoder.final_layer_norm(self.encoder.proj_in(states))

    def get_encoder_loss(self, encoder_states: torch.Tensor | None, target_lyrics: torch.Tensor | None):
        if encoder_states is None or not hasattr(self, "encoder"):
            return torch.zeros((), device=self.prior.embed_tokens.weight.device)
        logits = self.encoder.lm_head(encoder_states)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target_lyrics.reshape(-1).long()) / _LN2

    # -- sampling ----------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n_samples: int,
        music_tokens: torch.Tensor | None = None,
        music_tokens_conds: list[torch.Tensor] | None = None,
        metadata: torch.Tensor | None = None,
        temp: float = 1.0,
        top_k: int = 0,
        top_p: float = 0.0,
        chunk_size: int | None = None,
        sample_tokens: int | None = None,
        generator: torch.Generator | None = None,
        on_step: Callable[[int, int], None] | None = None,
        *,
        params: SamplingParams | None = None,
    ) -> torch.Tensor:
        """Sample one window: (N, sample_tokens or n_ctx) music tokens.

        ``params`` (the job's record; this prior's level is used) replaces ``temp``, ``top_k``,
        ``top_p`` and ``chunk_size``, the Hugging Face keywords.

        With ``music_tokens`` (N, c) the context is primed (``chunk_size`` positions at a time) and
        returned as the prefix. ``on_step(i, n)`` runs after each of the n new tokens (an exception
        raised there stops sampling and propagates). ``generator`` makes draws reproducible;
        ``top_k=1`` is greedy.
        """
        level = self.level
        if params is None:
            params = SamplingParams.from_hf_kwargs(1, temp=temp, top_k=top_k, top_p=top_p, chunk_size=chunk_size)
            level = 0
        audio_cond, metadata_cond, lyric_tokens = self.get_cond(music_tokens_conds, metadata)
        if music_tokens is not None and music_tokens.shape[1] == 0:
            music_tokens = None
        if self.is_encoder_decoder:
            if lyric_tokens is None:
                raise ValueError("the lyrics prior needs metadata with the lyric window")
            context, audio_cond = self._joint_sequence(lyric_tokens, music_tokens, audio_cond)
            n_lyr = self.nb_relevant_lyric_tokens
            tokens = self.prior.sample(
                n_samples,
                context,
                audio_cond,
                metadata_cond,
                None,
                sample_tokens=None if sample_tokens is None else sample_tokens + n_lyr,
                generator=generator,
                on_step=on_step,
                params=params,
                level=level,
            )
            # Sampled lyric ids were fed back as they are; only now map them to music token 0.
            return (tokens[:, n_lyr:] - self.lyric_shift).clamp(min=0)
        encoder_states = self.get_encoder_states(lyric_tokens, sample=True)
        return self.prior.sample(
            n_samples,
            music_tokens,
            audio_cond,
            metadata_cond,
            encoder_states,
            sample_tokens=sample_tokens,
            generator=generator,
            on_step=on_step,
            params=params,
            level=level,
        )

    # -- teacher forcing -------------------------------------------------------------------------
    def forward_tokens(
        self,
        music_tokens: torch.Tensor,
        music_tokens_conds: list[torch.Tensor] | None = None,
        metadata: torch.Tensor | None = None,
        get_preds: bool = False,
        get_attn_weights: bool | Iterable[int] = False,
    ) -> tuple[torch.Tensor, dict[str, object]]:
        """Teacher-forced pass over one window of music tokens (N, n_ctx).

        Returns ``(loss, metrics)`` with ``bpd``, ``encoder_loss``, ``next_token_prediction_loss``
        (bits per token), ``preds`` (logits, N x L x V; for the 1b style lyric positions first) when
        ``get_preds``, and ``attention_probs`` {layer: probabilities} for the layers in
        ``get_attn_weights`` (True = all): (N, heads, queries, keys) for dense and cross-attention
        layers, music queries x lyric keys for prime attention (as the original records them), the
        row/column layout for factorised layers. Works for upsamplers too (encoder loss 0).
        Unlike HF (which returns a list of weight matrices here) the result is always ``(loss, metrics)``.
        """
        if get_attn_weights is True:
            record = set(range(len(self.prior.transformer._attn_mods)))
        elif get_attn_weights is False or get_attn_weights is None:
            record = set()
        else:
            record = set(get_attn_weights)
        audio_cond, metadata_cond, lyric_tokens = self.get_cond(music_tokens_conds, metadata)
        if self.is_encoder_decoder:
            tokens, audio_cond = self._joint_sequence(lyric_tokens, music_tokens, audio_cond)
            (encoder_loss, ntp_loss), preds, probs = self.prior(
                tokens, audio_cond, metadata_cond, get_preds=get_preds, get_sep_loss=True, record_layers=record
            )
        else:
            encoder_states = self.get_encoder_states(lyric_tokens)
            encoder_loss = self.get_encoder_loss(encoder_states, lyric_tokens)
            ntp_loss, preds, probs = self.prior(
                music_tokens, audio_cond, metadata_cond, encoder_states, get_preds=get_preds, record_layers=record
            )
        loss = self.encoder_loss_fraction * encoder_loss * self.nb_relevant_lyric_tokens / self.total_loss_dims
        loss = loss + ntp_loss * self.n_ctx / self.total_loss_dims
        metrics: dict[str, object] = {
            "bpd": ntp_loss.detach(),
            "encoder_loss": encoder_loss.detach(),
            "next_token_prediction_loss": ntp_loss.detach(),
        }
        if get_preds:
            metrics["preds"] = preds.detach()
        if record:
            metrics["attention_probs"] = probs
        return loss, metrics

    # -- alignment ---------------------------------------------------------------------------------
    @torch.no_grad()
    def get_alignment_window(self, music_tokens: torch.Tensor, metadata: torch.Tensor) -> torch.Tensor:
        """Attention probabilities (N, n_ctx, n_lyr) of music positions on the lyric window at
        ``alignment_layer`` / ``alignment_head`` (original ``get_alignment``, one window)."""
        layer, head = self.config.alignment_layer, self.config.alignment_head
        if not self.lyric_conditioning or layer is None or head is None:
            raise ValueError("this prior has no lyrics alignment (no alignment_layer/alignment_head)")
        _, metrics = self.forward_tokens(music_tokens, [], metadata, get_attn_weights={layer})
        probs = metrics["attention_probs"][layer]
        return probs[:, head].float()

    def get_alignment(
        self,
        music_tokens: torch.Tensor,
        labels: torch.Tensor,
        total_length: int,
        offset: int = 0,
        hop_fraction: float = 0.125,
    ) -> torch.Tensor:
        """Lyrics-to-music alignment of whole songs: (N, T, n_full_lyrics) attention probabilities of
        each top-level token on each character of the full lyrics (see ``jukestudio.model.alignment``)."""
        from jukestudio.model.alignment import compute_alignment

        return compute_alignment(self, music_tokens, labels, total_length, offset, hop_fraction)
