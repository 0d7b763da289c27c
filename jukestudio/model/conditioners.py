"""Conditioning of a prior: the music-token conditioner of the upsamplers (upper-level codes ->
per-position embeddings) and the label conditioner (artist/genre start embedding, timing signal).

Names follow Hugging Face 4.40.2 (``conditioner_blocks``/``metadata_embedding`` sub-trees).
"""

from __future__ import annotations

import torch
from torch import nn

from jukestudio.model.transformer import JukeboxLayerNorm
from jukestudio.model.vqvae_blocks import DecoderConvBlock, ResnetSpec


class JukeboxMusicTokenConditioner(nn.Module):
    """Upper-level tokens (B, n_ctx / down) -> conditioning (B, n_ctx, W) of an upsampler."""

    def __init__(self, config, level: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.music_vocab_size, config.hidden_size)
        # The original's indexing: the upsampler at VQ level L upsamples the codes of level L + 1, so it
        # uses downs_t[L + 1] / strides_t[L + 1] (VQ order; prior p is VQ level n - 1 - p). HF uses
        # index p, which agrees only while the levels downsample alike, as the released (3, 2, 2).
        upper_vq_level = len(config.res_downs_t) - level
        down_t, stride_t = config.res_downs_t[upper_vq_level], config.res_strides_t[upper_vq_level]
        if down_t <= 0:
            raise ValueError("the music-token conditioner needs res_downs_t > 0 for its level")
        spec = ResnetSpec(
            depth=config.res_conv_depth,
            multiplier=config.res_convolution_multiplier,
            dilation_growth_rate=config.res_dilation_growth_rate,
            dilation_cycle=config.res_dilation_cycle,
            # Only the middle upsampler scales its residuals (cond_res_scale); invisible in the weights.
            res_scale=bool(config.conv_res_scale),
            reverse_dilation=False,
        )
        # The same block as the VQ-VAE decoder's, with the conditioner's widths.
        self.upsampler = DecoderConvBlock(config.hidden_size, config.res_conv_width, down_t, stride_t, spec)
        self.layer_norm = JukeboxLayerNorm(config.hidden_size)

    def forward(self, music_tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(music_tokens.long()).permute(0, 2, 1)
        x = self.upsampler(x).permute(0, 2, 1)
        return self.layer_norm(x)


class JukeboxRangeEmbedding(nn.Module):
    """Bins positions interpolated over ``[pos_start, pos_end)`` into ``bins`` embeddings.

    For each of ``n_time`` positions: ``floor(bins * (pos - min) / (max - min))``. Range checks are
    done by the label conditioner, which can name the quantity in seconds.
    """

    def __init__(self, n_time: int, bins: int, value_range: tuple[float, float], width: int, clamp: bool = False):
        super().__init__()
        self.n_time = n_time
        self.bins = bins
        self.emb = nn.Embedding(bins, width)
        self.pos_min, self.pos_max = value_range
        self.clamp = clamp

    def forward(self, pos_start: torch.Tensor, pos_end: torch.Tensor | None = None) -> torch.Tensor:
        pos_start = pos_start.float()
        if pos_end is not None:
            if self.clamp:
                pos_end = pos_end.clamp(self.pos_min, self.pos_max)
            pos_end = pos_end.float()
        if self.n_time != 1:
            frac = torch.arange(0, self.n_time, dtype=torch.float, device=pos_start.device).view(1, -1) / self.n_time
            position = pos_start + (pos_end - pos_start) * frac
        else:
            position = pos_start
        normalised = (position - self.pos_min) / (self.pos_max - self.pos_min)
        return self.emb((self.bins * normalised).floor().long())


class JukeboxLabelConditioner(nn.Module):
    """Metadata row ``[total_length, offset, length, artist, genres...]`` (samples) ->
    start embedding (B, 1, W) = artist + sum of genre embeddings (slots < 0 ignored), and for the top
    prior a timing signal (B, n_ctx, W) = total-length + absolute-position + relative-position bins."""

    def __init__(self, config, include_time_signal: bool) -> None:
        super().__init__()
        width = config.hidden_size
        nb_genres, nb_artists = config.metadata_dims
        self.max_nb_genres = config.max_nb_genres
        self.bow_genre_emb = nn.Embedding(nb_genres, width)
        self.artist_emb = nn.Embedding(nb_artists, width)
        self.include_time_signal = include_time_signal
        self.sampling_rate = config.sampling_rate
        if include_time_signal:
            if config.min_duration is None or config.max_duration is None:
                raise ValueError("a prior with a timing signal needs min_duration and max_duration")
            self.min_duration, self.max_duration = float(config.min_duration), float(config.max_duration)
            sr, bins = config.sampling_rate, config.timing_dims
            total_range = (config.min_duration * sr, config.max_duration * sr)
            self.total_length_emb = JukeboxRangeEmbedding(1, bins, total_range, width)
            self.absolute_pos_emb = JukeboxRangeEmbedding(config.n_ctx, bins, (0.0, config.max_duration * sr), width)
            self.relative_pos_emb = JukeboxRangeEmbedding(config.n_ctx, bins, (0.0, 1.0), width, clamp=True)

    def check_timing(self, total_length: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> None:
        """The original asserts; we explain in seconds (HF checks only one end, see hf-jukebox.md #10)."""
        sr = float(self.sampling_rate)
        lo, hi = self.min_duration * sr, self.max_duration * sr
        bad = ~((total_length >= lo) & (total_length < hi))
        if bad.any():
            value = float(total_length[bad][0]) / sr
            raise ValueError(
                f"song length {value:.2f} s is outside the range this prior supports: at least "
                f"{self.min_duration:g} s (min_duration) and less than {self.max_duration:g} s (max_duration)"
            )
        bad = ~((start >= 0) & (start < hi) & (end <= hi))
        if bad.any():
            s, e = float(start[bad][0]) / sr, float(end[bad][0]) / sr
            raise ValueError(
                f"window {s:.2f}-{e:.2f} s lies outside 0-{self.max_duration:g} s, the longest song (max_duration) "
                f"this prior supports (min_duration {self.min_duration:g} s)"
            )
        bad = ~(start < total_length)
        if bad.any():
            s, total = float(start[bad][0]) / sr, float(total_length[bad][0]) / sr
            raise ValueError(f"window starts at {s:.2f} s, not before the end of the song ({total:.2f} s)")

    def forward(self, metadata: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        total_length, offset, length = metadata[:, 0:1], metadata[:, 1:2], metadata[:, 2:3]
        artist, genre = metadata[:, 3:4], metadata[:, 4:]
        mask = (genre >= 0).float().unsqueeze(2)
        genre_emb = (self.bow_genre_emb(genre.clamp(0)) * mask).sum(dim=1, keepdim=True)
        start_emb = genre_emb + self.artist_emb(artist)
        if not self.include_time_signal:
            return start_emb, None
        start, end = offset, offset + length
        self.check_timing(total_length, start, end)
        total_length, start, end = total_length.float(), start.float(), end.float()
        timing = (
            self.total_length_emb(total_length)
            + self.absolute_pos_emb(start, end)
            + self.relative_pos_emb(start / total_length, end / total_length)
        )
        return start_emb, timing
