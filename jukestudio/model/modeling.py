"""`JukeboxModel`: the VQ-VAE and the three priors, with the sampling API of the original Jukebox.

Prior order everywhere in this module (``priors[0]`` = top), VQ order only at the VQ-VAE calls. The
window loop itself lives in ``sample_loop.py``; this class adds devices, batching, out-of-memory
retries, hooks for the engine (progress, cancel, state saving) and optional result files.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jukestudio.model import sample_loop
from jukestudio.model.config import JukeboxConfig
from jukestudio.model.quantize import fast_preview as fast_preview_weights
from jukestudio.model.sample_loop import LevelGeometry, Window
from jukestudio.model.sampling_params import DEFAULT_TEMPERATURES, HF_BATCH, HF_CHUNK_SIZE, SamplingParams

logger = logging.getLogger(__name__)

StepCallback = Callable[[Window, int, int, int, int], None]  # (window, rows done, rows, step i, steps n)
WindowCallback = Callable[[Window, list[torch.Tensor]], None]  # (finished window, codes so far)


class JukeboxModel(nn.Module):
    """VQ-VAE (``self.vqvae``) + priors (``self.priors``, prior order); state-dict names ``vqvae.*``,
    ``priors.{p}.*`` as Hugging Face's.

    ``vqvae``/``priors`` may be given ready-made (the weights loader builds them on the meta device);
    otherwise they are built from ``config``.
    """

    def __init__(
        self, config: JukeboxConfig, vqvae: nn.Module | None = None, priors: Sequence[nn.Module] | None = None
    ) -> None:
        super().__init__()
        self.config = config
        if vqvae is None:
            from jukestudio.model.vqvae import JukeboxVQVAE

            vqvae = JukeboxVQVAE(config.vqvae_config)
        if priors is None:
            from jukestudio.model.prior import JukeboxPrior

            priors = [JukeboxPrior(c, level=p) for p, c in enumerate(config.prior_configs)]
        self.vqvae = vqvae
        self.priors = nn.ModuleList(priors)
        self.geometries: list[LevelGeometry] = sample_loop.level_geometries(config)

    # ------------------------------------------------------------------ VQ-VAE (VQ order)

    def encode(self, input_audio: torch.Tensor, start_level: int = 0, end_level: int | None = None, bs_chunks: int = 1):
        return self.vqvae.encode(input_audio, start_level, end_level, bs_chunks)

    def decode(
        self, music_tokens: list[torch.Tensor], start_level: int = 0, end_level: int | None = None, bs_chunks: int = 1
    ):
        return self.vqvae.decode(music_tokens, start_level, end_level, bs_chunks)

    def decode_level(self, codes: torch.Tensor, level: int, bs_chunks: int = 1) -> torch.Tensor:
        """Audio (N, T, 1) of one prior level's codes (N, T_level), with that level's decoder."""
        vq_level = len(self.priors) - 1 - level
        with torch.no_grad():
            return self.vqvae.decode([codes], start_level=vq_level, end_level=vq_level + 1, bs_chunks=bs_chunks)

    def encode_prompt(self, raw_audio: torch.Tensor) -> list[torch.Tensor]:
        """Codes of a prompt at every level, prior order; the audio is cut to whole top-level tokens."""
        top_hop = self.geometries[0].raw_to_tokens
        usable = raw_audio.shape[1] // top_hop * top_hop
        if usable == 0:
            raise ValueError(f"the prompt is shorter than one top-level token ({top_hop} samples)")
        with torch.no_grad():
            codes = self.vqvae.encode(raw_audio[:, :usable], start_level=0, end_level=len(self.priors))
        return [c.long() for c in reversed(codes)]

    # ------------------------------------------------------------------ sampling modes

    def ancestral_sample(self, labels: Sequence[torch.Tensor], n_samples: int = 1, **kwargs: Any) -> list[torch.Tensor]:
        """New takes from nothing, all levels unless ``sample_levels`` says otherwise."""
        sample_levels = kwargs.pop("sample_levels", list(range(len(self.priors))))
        device = labels[0].device
        music_tokens = [torch.zeros(n_samples, 0, dtype=torch.long, device=device) for _ in self.priors]
        return self._sample(music_tokens, labels, sample_levels, **kwargs)

    def continue_sample(self, music_tokens: list[torch.Tensor], labels: Sequence[torch.Tensor], **kwargs: Any):
        """Extend existing codes (prior order) to the requested length."""
        sample_levels = kwargs.pop("sample_levels", list(range(len(self.priors))))
        return self._sample(music_tokens, labels, sample_levels, **kwargs)

    def upsample(self, music_tokens: list[torch.Tensor], labels: Sequence[torch.Tensor], **kwargs: Any):
        """Sample the upsamplers (levels 1.. in prior order) under existing top-level codes."""
        sample_levels = kwargs.pop("sample_levels", list(range(1, len(self.priors))))
        if "sample_length" not in kwargs and "sample_length_in_seconds" not in kwargs:
            kwargs["sample_length"] = music_tokens[0].shape[1] * self.geometries[0].raw_to_tokens
        return self._sample(music_tokens, labels, sample_levels, **kwargs)

    def primed_sample(self, raw_audio: torch.Tensor, labels: Sequence[torch.Tensor], **kwargs: Any):
        """Continue a prompt (N, T, 1): encoded at every level, each level continues the prompt's codes."""
        sample_levels = kwargs.pop("sample_levels", list(range(len(self.priors))))
        music_tokens = self.encode_prompt(raw_audio)
        return self._sample(music_tokens, labels, sample_levels, **kwargs)

    @torch.no_grad()
    def _sample(
        self,
        music_tokens: list[torch.Tensor],
        labels: Sequence[torch.Tensor],
        sample_levels: Sequence[int] | None,
        chunk_size: int = HF_CHUNK_SIZE,
        sampling_temperature: float = DEFAULT_TEMPERATURES[0],
        lower_batch_size: int = HF_BATCH,
        max_batch_size: int = HF_BATCH,
        sample_length_in_seconds: float = 24,
        compute_alignments: bool = False,
        sample_tokens: int | None = None,
        offset: int = 0,
        save_results: bool = False,
        sample_length: int | None = None,
        *,
        total_length_in_seconds: float | None = None,
        temperatures: Sequence[float] | None = None,
        chunk_sizes: Sequence[int] | None = None,
        top_k: int = 0,
        top_p: float = 0.0,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        save_dir: str | Path | None = None,
        on_step: StepCallback | None = None,
        on_window: WindowCallback | None = None,
        on_message: Callable[[str], None] | None = None,
        compile: bool = False,
        fast_preview: bool = False,
    ) -> list[torch.Tensor]:
        """Sample ``sample_levels`` (prior order, top first) window by window; returns the codes, prior order.

        Hugging Face's keywords, turned into one :class:`SamplingParams` for :meth:`sample_with`.

        Args:
            music_tokens: codes so far per level (N, T_p); sampling continues each of them.
            labels: per level (1 or N, 4 + genres + lyrics) tokenizer rows (full lyrics).
            sample_levels: levels to sample (default: all).
            chunk_size: tokens per chunk when priming the KV cache with the context.
            sampling_temperature: top-level temperature (upsamplers keep ``DEFAULT_TEMPERATURES``).
            lower_batch_size / max_batch_size: most takes sampled at once by the upsamplers / the top prior.
            sample_length_in_seconds: length to reach (ignored when ``sample_length`` is given).
            compute_alignments: compute the lyric alignment after the top level (needs
                ``priors[0].get_alignment``); saved with ``save_results``.
            sample_tokens: for quick experiments: add exactly this many tokens at each sampled level.
            offset: where the sampled audio starts in the song, in samples (timing and lyric window).
            save_results: decode each sampled level and write codes + wav files into ``save_dir``.
            sample_length: length to reach in samples (rounded down to whole top-level tokens).
            total_length_in_seconds: declared length of the whole song for the timing labels
                (default: offset + sample length). Checked against the model's min/max durations.
            temperatures: one temperature per level (overrides the two above).
            chunk_sizes: one priming chunk size per level (overrides ``chunk_size``).
            top_k / top_p: sampling filters (``top_k=1`` = greedy).
            generator: the random stream (a job keeps one and saves its state after each window).
            device: where the sampled prior runs; only that prior is moved there, and back after.
            dtype: transformer precision of the sampled priors (``torch.float16`` on a GPU, as the
                original; None = fp32). Applied once, in place (``prior.set_inference_dtype``).
            on_step(window, rows_done, rows, i, n): after every sampled token step; may raise to cancel.
            on_window(window, codes): after every finished window with the codes so far.
            on_message(text): notes for the user (e.g. out-of-memory retries).
            compile: on CUDA, capture each prior's one-token step once per window shape as a CUDA
                graph and replay it (``sample_loop.compiled_step``); elsewhere a warning and eager sampling.
            fast_preview: on CPU, the top prior's token step uses weight-only int8 matrices
                (``quantize.fast_preview``); the upsamplers stay full precision.
        """
        if save_results and save_dir is None:
            raise ValueError("save_results needs save_dir: jukestudio writes only into a folder you choose")
        params = SamplingParams.from_hf_kwargs(
            len(self.priors), sampling_temperature=sampling_temperature, temperatures=temperatures, top_k=top_k,
            top_p=top_p, chunk_size=chunk_size, chunk_sizes=chunk_sizes, max_batch_size=max_batch_size,
            lower_batch_size=lower_batch_size,
        )  # fmt: skip
        if sample_length is None:
            sample_length = int(sample_length_in_seconds * self.config.sampling_rate)
        total_length = None
        if total_length_in_seconds is not None:
            total_length = int(total_length_in_seconds * self.config.sampling_rate)
        return self.sample_with(
            music_tokens, labels, sample_levels, params,
            sample_length=sample_length, total_length=total_length, offset=offset, sample_tokens=sample_tokens,
            generator=generator, device=device, dtype=dtype, on_step=on_step, on_window=on_window,
            on_message=on_message, compile=compile, fast_preview=fast_preview,
            compute_alignments=compute_alignments, save_dir=save_dir if save_results else None,
        )  # fmt: skip

    @torch.no_grad()
    def sample_with(
        self,
        music_tokens: list[torch.Tensor],
        labels: Sequence[torch.Tensor],
        sample_levels: Sequence[int] | None,
        params: SamplingParams,
        *,
        sample_length: int,
        total_length: int | None = None,
        offset: int = 0,
        sample_tokens: int | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        on_step: StepCallback | None = None,
        on_window: WindowCallback | None = None,
        on_message: Callable[[str], None] | None = None,
        compile: bool = False,
        fast_preview: bool = False,
        compute_alignments: bool = False,
        save_dir: str | Path | None = None,
    ) -> list[torch.Tensor]:
        """The sampling loop behind ``_sample`` and the engine's jobs: ``params`` (temperatures,
        filters, chunk and batch sizes) goes unchanged down to the logits filter. Lengths are in
        audio samples; ``total_length`` None = ``offset + sample_length``; with ``save_dir`` each
        sampled level is decoded and written there."""
        n_levels = len(self.priors)
        sample_levels = sorted(range(n_levels) if sample_levels is None else sample_levels)
        sr = self.config.sampling_rate
        top = self.geometries[0]
        sample_length = sample_length // top.raw_to_tokens * top.raw_to_tokens
        total_length = total_length if total_length is not None else offset + sample_length
        n_samples = music_tokens[0].shape[0]
        music_tokens = [t.long() for t in music_tokens]
        if any(t.shape[0] != n_samples for t in music_tokens):
            raise ValueError(f"every level needs the same number of takes, got {[t.shape[0] for t in music_tokens]}")
        labels = [self._batch_labels(lab, n_samples, p) for p, lab in enumerate(labels)]

        current = [t.shape[1] for t in music_tokens]
        if sample_tokens is not None:
            targets = [current[p] + sample_tokens if p in sample_levels else current[p] for p in range(n_levels)]
        else:
            targets = sample_loop.level_lengths(sample_length, self.geometries)
            sample_loop.check_durations(self.geometries, sample_levels, total_length, offset, sample_length, sr)
        self._check_upper_coverage(sample_levels, targets, current)

        for level in sample_levels:
            geometry = self.geometries[level]
            windows = sample_loop.plan_level(level, targets[level], current[level], geometry.n_ctx, geometry.hop)
            if not windows:
                continue
            prior = self.priors[level]
            if dtype is not None and hasattr(prior, "set_inference_dtype"):
                prior.set_inference_dtype(dtype)  # before the move: half the bytes to copy
            home = _module_device(prior)
            target_device = torch.device(device) if device is not None else home
            if target_device != home:
                prior.to(target_device)
            step_mode = sample_loop.compiled_step(prior, target_device) if compile else nullcontext(False)
            weights = fast_preview_weights(prior, target_device) if fast_preview and level == 0 else nullcontext()
            try:
                with step_mode as compiled, weights:
                    compile = compile and compiled  # warned once: later levels do not try again
                    music_tokens = [t.to(target_device) for t in music_tokens]
                    level_labels = labels[level].to(target_device)
                    batch = min(n_samples, params.batch_size(level))
                    for window in windows:
                        new, batch = self._sample_window_retrying(
                            prior,
                            music_tokens,
                            level_labels,
                            window,
                            batch=batch,
                            total_length=total_length,
                            offset=offset,
                            params=params,
                            generator=generator,
                            on_step=on_step,
                            on_message=on_message,
                        )
                        music_tokens[level] = torch.cat([music_tokens[level], new], dim=1)
                        if on_window is not None:
                            on_window(window, music_tokens)
            finally:
                if target_device != home:
                    prior.to(home)
                    if target_device.type == "cuda":
                        torch.cuda.empty_cache()
            alignment = None
            if level == 0 and compute_alignments:
                alignment = self._alignment(music_tokens, labels[0], total_length, offset)
            if save_dir is not None:
                self._save_level(Path(save_dir), level, music_tokens[level], alignment)
        return music_tokens

    # ------------------------------------------------------------------ helpers

    def _batch_labels(self, labels: torch.Tensor, n_samples: int, level: int) -> torch.Tensor:
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.dim() == 1:
            labels = labels.unsqueeze(0)
        if labels.shape[0] == 1 and n_samples > 1:
            labels = labels.expand(n_samples, -1).clone()
        if labels.shape[0] != n_samples:
            raise ValueError(f"labels of level {level} have {labels.shape[0]} rows for {n_samples} takes")
        return labels

    def _check_upper_coverage(self, sample_levels: Sequence[int], targets: Sequence[int], current: Sequence[int]):
        for level in sample_levels:
            d = self.geometries[level].cond_downsample
            if d is None or targets[level] <= current[level]:
                continue
            upper = targets[level - 1] if level - 1 in sample_levels else current[level - 1]
            needed = math.ceil(targets[level] / d)
            if upper < needed:
                raise ValueError(
                    f"upsampling level {level} to {targets[level]} tokens needs {needed} codes of the level above, "
                    f"which has {upper}"
                )

    def _sample_window_retrying(
        self,
        prior: nn.Module,
        music_tokens: list[torch.Tensor],
        labels: torch.Tensor,
        window: Window,
        *,
        batch: int,
        generator: torch.Generator | None,
        on_step: StepCallback | None,
        on_message: Callable[[str], None] | None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, int]:
        """Sample a window; on CUDA out-of-memory retry it with half the batch (the RNG rewound)."""
        state = generator.get_state() if generator is not None else None
        geometry = self.geometries[window.level]
        while True:
            step = None
            if on_step is not None:

                def step(done: int, rows: int, i: int, n: int) -> None:
                    on_step(window, done, rows, i, n)

            try:
                new = sample_loop.sample_window(
                    prior,
                    music_tokens,
                    labels,
                    geometry,
                    window,
                    batch_size=batch,
                    generator=generator,
                    on_step=step,
                    **kwargs,
                )
                return new, batch
            except torch.cuda.OutOfMemoryError:
                if batch <= 1:
                    raise
                batch = max(1, batch // 2)
                torch.cuda.empty_cache()
                if state is not None:
                    generator.set_state(state)
                text = f"out of GPU memory at level {window.level}: retrying the window with {batch} takes at a time"
                logger.warning(text)
                if on_message is not None:
                    on_message(text)

    def _alignment(self, music_tokens: list[torch.Tensor], labels: torch.Tensor, total_length: int, offset: int):
        get_alignment = getattr(self.priors[0], "get_alignment", None)
        if get_alignment is None or self.config.prior_configs[0].nb_relevant_lyric_tokens == 0:
            logger.info("no lyric alignment: the top prior has no lyrics or no get_alignment")
            return None
        return get_alignment(music_tokens[0], labels, total_length=total_length, offset=offset)

    def _save_level(self, folder: Path, level: int, codes: torch.Tensor, alignment: Any) -> None:
        """Codes and decoded audio of one level under ``folder/level_{p}/`` (atomic writes)."""
        import numpy as np
        import soundfile
        from safetensors.torch import save_file

        from jukestudio.atomic import atomic_write_with

        out = folder / f"level_{level}"
        tensors = {"codes": codes.detach().cpu().contiguous()}
        for i, item in enumerate(alignment if isinstance(alignment, (list, tuple)) else [alignment]):
            if isinstance(item, torch.Tensor):  # one (T, n_lyrics) attention map per take
                tensors[f"alignment_{i}"] = item.detach().cpu().float().contiguous()
        atomic_write_with(out / "codes.safetensors", lambda tmp: save_file(tensors, str(tmp)), suffix=".safetensors")
        audio = self.decode_level(codes.to(_module_device(self.vqvae)), level, bs_chunks=codes.shape[0])
        for i, item in enumerate(audio.float().cpu().numpy()):
            data = np.clip(item[:, 0], -1.0, 1.0)
            atomic_write_with(
                out / f"item_{i}.wav",
                lambda tmp, data=data: soundfile.write(str(tmp), data, self.config.sampling_rate, format="WAV"),
                suffix=".wav",
            )


def _module_device(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
