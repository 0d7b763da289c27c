"""Decoding codes to audio with the VQ-VAE: one take, one level (the preview cache and exports)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jukestudio.engine.job_validate import read_checked_codes
from jukestudio.levels import level_label


def module_device(module: torch.nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")


def preview_audio(model: Any, codes: torch.Tensor, level: int = 0) -> torch.Tensor:
    """Decode one level's codes (N, T_level) to audio (N, T) on CPU, clipped to [-1, 1]."""
    with torch.inference_mode():
        audio = model.decode_level(codes.long(), level, bs_chunks=codes.shape[0])
    return audio[..., 0].float().clamp(-1.0, 1.0).cpu()


def preview_take(project: Any, model: Any, take_id: str, level: int = 0) -> np.ndarray:
    """Decode one level of a take, cache it in the project and return it (float32 mono)."""
    codes = read_checked_codes(project, model.config, take_id)[level]
    if codes is None or codes.numel() == 0:
        raise ValueError(f"take {take_id} has no {level_label(level)} codes")
    audio = preview_audio(model, codes.reshape(1, -1).to(module_device(model.vqvae)), level=level)[0].numpy()
    project.write_preview(take_id, audio.astype(np.float32), prior_level=level)
    return audio
