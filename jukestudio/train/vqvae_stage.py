"""Training the VQ-VAE: ``JukeboxVQVAE.forward``'s losses (reconstruction + multi-resolution spectral +
commitment) by gradient, codebooks by the original's EMA with dead-code restarts.

Set-up as the original: convolutions initialised from the seed, each codebook initialised from the
latents of the first batch (``init_k``), the losses normalised by the data's statistics
(``calculate_bandwidth``, here from a sample of crops).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from jukestudio.model.vqvae import Bandwidth, JukeboxVQVAE
from jukestudio.train.codebook import EmaCodebook
from jukestudio.train.dataset import Clip, random_crops
from jukestudio.train.loop import Schedule, Stage

BANDWIDTH_CROPS = 32


def vqvae_stage(model: JukeboxVQVAE, clips: Sequence[Clip], schedule: Schedule, crop_length: int) -> Stage:
    """A ``Stage`` training ``model`` on random crops of ``crop_length`` samples of ``clips``."""
    config = model.config
    hop = model.hop_lengths[-1]
    if crop_length % hop:
        raise ValueError(f"crop length {crop_length} must be a multiple of the top hop ({hop})")
    emas = [EmaCodebook(model.bottleneck[level], config.lmu) for level in range(model.levels)]
    bandwidth = {"value": Bandwidth()}
    latents: dict[int, torch.Tensor] = {}
    for level, encoder in enumerate(model.encoders):
        encoder.register_forward_hook(lambda module, inputs, output, level=level: latents.__setitem__(level, output))
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr, betas=(0.9, 0.999))

    def on_start(generator: torch.Generator) -> None:
        model.init_weights(generator)
        sample = random_crops(clips, crop_length, BANDWIDTH_CROPS, generator)
        bandwidth["value"] = Bandwidth.from_audio(sample)
        model.init_codebooks(sample[: schedule.batch_size], generator)
        for ema in emas:
            ema.reset_from_codebook()

    def step(index: int, generator: torch.Generator) -> dict[str, float]:
        audio = random_crops(clips, crop_length, schedule.batch_size, generator)
        out = model(audio, bandwidth["value"])
        out.loss.backward()
        metrics = {"loss": float(out.loss.detach())}
        for level in range(model.levels):
            stats = emas[level].update(latents[level], out.music_tokens[level], generator)
            metrics[f"recons_l{level}"] = float(out.metrics[f"recons_loss_l{level + 1}"])
            metrics[f"spec_l{level}"] = float(out.metrics[f"multispectral_loss_l{level + 1}"])
            metrics[f"codes_used_l{level}"] = float(stats.used)
        metrics["commit"] = float(out.metrics["commit_loss"])
        latents.clear()
        return metrics

    def extra_state() -> dict:
        bw = bandwidth["value"]
        return {
            "bandwidth": [bw.l1, bw.l2, bw.spec],
            "ema": [ema.state_dict() for ema in emas],
        }

    def load_extra_state(state: dict) -> None:
        l1, l2, spec = state["bandwidth"]
        bandwidth["value"] = Bandwidth(l1=l1, l2=l2, spec=spec)
        for ema, ema_state in zip(emas, state["ema"]):
            ema.load_state_dict(ema_state)

    return Stage("vqvae", model, optimizer, step, extra_state, load_extra_state, on_start)
