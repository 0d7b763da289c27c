"""The VQ-VAE against its oracles: the tiny fixture's reference outputs and transformers 4.40.2."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from jukestudio.model.config import ConfigError, JukeboxConfig, JukeboxVQVAEConfig
from jukestudio.model.vqvae import (
    MULTISPECTRAL_STFTS,
    Bandwidth,
    JukeboxVQVAE,
    multispectral_loss,
    reconstruction_loss,
)
from tests.conftest import ORIG_TINY

TINY = ORIG_TINY / "tiny"


def tiny_config() -> JukeboxVQVAEConfig:
    return JukeboxConfig.from_pretrained(TINY / "hf_model").vqvae_config


def random_tiny(seed: int = 0) -> JukeboxVQVAE:
    model = JukeboxVQVAE(tiny_config()).eval()
    model.init_weights(seed)
    return model


@pytest.fixture(scope="module", params=["tiny", "tiny5b"])
def folder(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def reference(folder: str) -> dict[str, torch.Tensor]:
    return load_file(ORIG_TINY / folder / "reference.safetensors")


@pytest.fixture(scope="module")
def wave() -> torch.Tensor:
    """The test waveform, from the formula stated in reference.json."""
    t = torch.arange(8192, dtype=torch.float64) / 44100
    x = (
        0.30 * torch.sin(2 * math.pi * 220 * t)
        + 0.20 * torch.sin(2 * math.pi * 331 * t + 0.5)
        + 0.10 * torch.sin(2 * math.pi * 1234 * t + 1.0)
        + 0.05 * torch.sin(2 * math.pi * (100 + 2000 * t) * t)
    )
    return x.float().view(1, -1, 1)


@pytest.fixture(scope="module")
def fixture_model(folder: str) -> JukeboxVQVAE:
    """The fixture's VQ-VAE weights (``vqvae.*`` keys of the HF file) in our model, HF config reader."""
    hf_dir = ORIG_TINY / folder / "hf_model"
    weights = load_file(hf_dir / "model.safetensors")
    state = {key.removeprefix("vqvae."): value for key, value in weights.items() if key.startswith("vqvae.")}
    model = JukeboxVQVAE(JukeboxConfig.from_pretrained(hf_dir).vqvae_config).eval()
    model.load_state_dict(state, strict=True)
    return model


def close(ours: torch.Tensor, expected: torch.Tensor) -> float:
    """Max |diff|, after checking it is within fp32 noise for the values' scale (thread counts differ)."""
    assert ours.shape == expected.shape
    diff = float((ours - expected).abs().max())
    assert diff <= 1e-5 * max(1.0, float(expected.abs().max())), diff
    return diff


# ---------------------------------------------------------------- the fixture (reference.safetensors)


def test_wave_formula(wave: torch.Tensor, reference: dict[str, torch.Tensor]) -> None:
    assert torch.equal(wave, reference["wave"])


@torch.no_grad()
def test_encode_decode_match_the_fixture(
    fixture_model: JukeboxVQVAE, wave: torch.Tensor, reference: dict[str, torch.Tensor]
) -> None:
    codes = fixture_model.encode(wave)
    assert [c.shape for c in codes] == [(1, 1024), (1, 256), (1, 64)]
    for level in range(3):
        latent = fixture_model.encoders[level](wave.transpose(1, 2))
        close(latent, reference[f"vqvae.latent.L{level}"])
        assert torch.equal(codes[level], reference[f"vqvae.encode.L{level}"])
        close(fixture_model.decode([codes[level]], start_level=level), reference[f"vqvae.decode.L{level}"])
        given = reference[f"vqvae.given_tokens.L{level}"]
        close(fixture_model.decode([given], start_level=level), reference[f"vqvae.decode_given.L{level}"])
    # A whole encode() list decodes only its first entry, with the decoder of start_level.
    close(fixture_model.decode(codes, start_level=0), reference["vqvae.decode_all_from0"])


@torch.no_grad()
def test_quantising_in_row_chunks_gives_the_same_codes(
    fixture_model: JukeboxVQVAE, wave: torch.Tensor, reference: dict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jukestudio.model.vqvae_blocks as blocks

    monkeypatch.setattr(blocks, "_QUANTISE_ELEMENTS", 64 * 100)  # 100 rows at a time: 11 chunks at hop 8
    codes = fixture_model.encode(wave)
    for level in range(3):
        assert torch.equal(codes[level], reference[f"vqvae.encode.L{level}"])


@torch.no_grad()
def test_forward_has_the_original_semantics(
    fixture_model: JukeboxVQVAE, wave: torch.Tensor, reference: dict[str, torch.Tensor]
) -> None:
    out = fixture_model(wave)
    for level in range(3):
        close(out.reconstructions[level], reference[f"vqvae.forward_fixed.recon.L{level}"])
        assert torch.equal(out.music_tokens[level], reference[f"vqvae.encode.L{level}"])
    # HF's forward pairs level 0 with codebook 2 (bug); ours must not.
    assert float((out.reconstructions[0] - reference["vqvae.forward.recon.L0"]).abs().max()) > 1.0
    commit = fixture_model.config.commit * out.metrics["commit_loss"]
    assert commit.item() == pytest.approx(reference["vqvae.forward_fixed.loss"].item(), rel=1e-5)


# ---------------------------------------------------------------- transformers 4.40.2 as oracle


@pytest.mark.reference
def test_state_dict_names_and_shapes_equal_hf() -> None:
    pytest.importorskip("transformers")
    from tests.model.hf_oracle import hf_vqvae_from

    for config in (JukeboxVQVAEConfig(), tiny_config()):
        with torch.device("meta"):
            ours, theirs = JukeboxVQVAE(config).state_dict(), hf_vqvae_from(config).state_dict()
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    released = {k: v.shape for k, v in JukeboxVQVAE(JukeboxVQVAEConfig()).to("meta").state_dict().items()}
    assert len(released) == 669
    assert sum(math.prod(shape) for shape in released.values()) == 1_878_979
    assert released["bottleneck.level_blocks.2.codebook"] == (2048, 64)


@pytest.mark.reference
@pytest.mark.parametrize("which", ["tiny", "released"])
@torch.no_grad()
def test_codes_and_audio_equal_hf(which: str) -> None:
    pytest.importorskip("transformers")
    from tests.model.hf_oracle import hf_vqvae_from

    config = tiny_config() if which == "tiny" else JukeboxVQVAEConfig()
    ours = JukeboxVQVAE(config).eval()
    ours.init_weights(torch.Generator().manual_seed(1))
    theirs = hf_vqvae_from(config, ours.state_dict())  # ours -> HF
    again = JukeboxVQVAE(config).eval()
    again.load_state_dict(theirs.state_dict(), strict=True)  # HF -> ours
    audio = 0.3 * torch.randn(2, 4096 if which == "released" else 8192, 1, generator=torch.Generator().manual_seed(2))

    codes, hf_codes = again.encode(audio), theirs.encode(audio)
    for level in range(3):
        assert torch.equal(codes[level], hf_codes[level])
        assert codes[level].unique().numel() > 1  # a meaningful comparison, not all-zero codes
        ours_audio = again.decode([codes[level]], start_level=level)
        hf_audio = theirs.decode([hf_codes[level]], start_level=level, end_level=level + 1)
        assert ours_audio.shape == audio.shape
        assert float((ours_audio - hf_audio).abs().max()) <= 1e-5  # measured: 0.0 on CPU
    assert torch.equal(again.decode(codes[1:], start_level=1), theirs.decode(hf_codes[1:], start_level=1))
    # Partial level ranges give the same codes (HF always runs all encoders). Batch chunks change the
    # conv arithmetic slightly (a near-tie may flip), so chunked runs are compared with chunked runs.
    assert all(torch.equal(a, b) for a, b in zip(again.encode(audio, start_level=1), hf_codes[1:]))
    chunked_codes = again.encode(audio, start_level=1, end_level=3, bs_chunks=2)
    hf_chunked = theirs.encode(audio, start_level=1, end_level=3, bs_chunks=2)
    assert all(torch.equal(a, b) for a, b in zip(chunked_codes, hf_chunked))
    chunked = again.decode([codes[0]], start_level=0, bs_chunks=2)
    assert float((chunked - theirs.decode(hf_codes[:1], end_level=1)).abs().max()) <= 1e-5


# ---------------------------------------------------------------- behaviour


def test_only_the_needed_encoders_and_decoder_run(monkeypatch: pytest.MonkeyPatch) -> None:
    model = random_tiny()
    audio = 0.1 * torch.randn(1, 1024, 1)

    def refuse(*args: object) -> None:
        raise AssertionError("this level should not run")

    for level in (0, 1):
        monkeypatch.setattr(model.encoders[level], "forward", refuse)
        monkeypatch.setattr(model.decoders[level], "forward", refuse)
    with torch.no_grad():
        (top,) = model.encode(audio, start_level=2)
        assert top.shape == (1, 8)
        assert model.decode([top], start_level=2).shape == (1, 1024, 1)


def test_init_weights_is_reproducible() -> None:
    a, b, c = random_tiny(5), random_tiny(5), random_tiny(6)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.decoders[0].out.weight, c.decoders[0].out.weight)
    by_generator = JukeboxVQVAE(tiny_config())
    by_generator.init_weights(torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), by_generator.state_dict().values()))
    for level in range(3):
        codebook = a.bottleneck.level_blocks[level].codebook
        assert codebook.abs().sum() > 0 and codebook.unique(dim=0).shape[0] == codebook.shape[0]


def test_zero_out_zeroes_each_residual_branch() -> None:
    config = tiny_config()
    config.zero_out = True
    model = JukeboxVQVAE(config)
    model.init_weights(0)
    block = model.encoders[0].level_blocks[0].downsample_block[1].resnet_block[0]
    assert not block.conv1d_2.weight.any() and not block.conv1d_2.bias.any()
    assert block.conv1d_1.weight.any()


def test_decoder_dilations_are_reversed() -> None:
    model = random_tiny()
    encoder_dilations = [
        b.conv1d_1.dilation[0] for b in model.encoders[1].level_blocks[0].downsample_block[1].resnet_block
    ]
    decoder_dilations = [
        b.conv1d_1.dilation[0] for b in model.decoders[1].level_blocks[0].upsample_block[0].resnet_block
    ]
    assert encoder_dilations == [1, 3] and decoder_dilations == [3, 1]


def test_bad_inputs_are_refused() -> None:
    model = random_tiny()
    with pytest.raises(ValueError, match="shape"):
        model.encode(torch.zeros(1, 1024))
    with pytest.raises(ValueError, match="shorter"):
        model.encode(torch.zeros(1, 64, 1))
    with pytest.raises(ValueError, match="start_level"):
        model.encode(torch.zeros(1, 1024, 1), start_level=2, end_level=2)
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        model.decode([torch.full((1, 4), 64)], start_level=2)
    with pytest.raises(TypeError):
        model.decode([torch.zeros(1, 4)], start_level=2)
    config = tiny_config()
    config.multipliers = [1, 1]
    with pytest.raises(ConfigError, match="multipliers"):
        JukeboxVQVAE(config)


def test_training_step_passes_gradients_straight_through_and_keeps_codebooks() -> None:
    model = random_tiny().train()
    codebook = model.bottleneck.level_blocks[0].codebook.clone()
    audio = 0.2 * torch.randn(2, 4096, 1, generator=torch.Generator().manual_seed(3))
    out = model(audio)
    out.loss.backward()
    assert out.loss.requires_grad and torch.isfinite(out.loss)
    for level in range(3):
        assert model.encoders[level].level_blocks[0].proj_out.weight.grad.abs().sum() > 0
        assert model.decoders[level].out.weight.grad.abs().sum() > 0
    assert torch.equal(model.bottleneck.level_blocks[0].codebook, codebook)
    parts = out.metrics
    cfg = model.config
    expected = (
        parts["recons_loss"] + cfg.multispectral * parts["multispectral_loss"] + cfg.commit * parts["commit_loss"]
    )
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-6)


# ---------------------------------------------------------------- losses (the original formulas)


def numpy_magnitudes(x: np.ndarray, n_fft: int, hop: int, window: int) -> np.ndarray:
    """|STFT| written out: reflect-pad n_fft/2, periodic Hann window centred in n_fft, one-sided FFT."""
    padded = np.pad(x, n_fft // 2, mode="reflect")
    hann = np.zeros(n_fft)
    left = (n_fft - window) // 2
    hann[left : left + window] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
    frames = [padded[i : i + n_fft] * hann for i in range(0, len(padded) - n_fft + 1, hop)]
    return np.abs(np.fft.rfft(np.stack(frames, axis=1), axis=0))


def test_multispectral_loss_is_the_mean_stft_distance() -> None:
    gen = torch.Generator().manual_seed(4)
    target, output = torch.randn(2, 3000, 1, generator=gen), torch.randn(2, 3000, 1, generator=gen)
    expected = []
    for item in range(2):
        dists = [
            np.linalg.norm(
                numpy_magnitudes(target[item, :, 0].double().numpy(), *stft)
                - numpy_magnitudes(output[item, :, 0].double().numpy(), *stft)
            )
            for stft in MULTISPECTRAL_STFTS
        ]
        expected.append(np.mean(dists))
    np.testing.assert_allclose(multispectral_loss(target, output).numpy(), expected, rtol=1e-4)
    assert multispectral_loss(target, target).abs().max() == 0


def test_reconstruction_losses() -> None:
    config = JukeboxVQVAEConfig(linf_k=5)
    gen = torch.Generator().manual_seed(7)
    target, output = torch.randn(2, 100, 1, generator=gen), torch.randn(2, 100, 1, generator=gen)
    bw = Bandwidth(l1=2.0, l2=4.0)
    sq = ((output - target) ** 2).reshape(2, -1).numpy()
    linf = np.sort(sq, axis=1)[:, -5:].mean() / 4.0
    l2 = sq.mean() / 4.0
    assert reconstruction_loss(config, target, output, bw, "linf").item() == pytest.approx(linf, rel=1e-6)
    assert reconstruction_loss(config, target, output, bw, "l2").item() == pytest.approx(l2, rel=1e-6)
    l1 = np.abs((output - target).numpy()).mean() / 2.0
    assert reconstruction_loss(config, target, output, bw, "l1").item() == pytest.approx(l1, rel=1e-6)
    assert reconstruction_loss(config, target, output, bw).item() == pytest.approx(l2 + 0.02 * linf, rel=1e-6)
    with pytest.raises(ConfigError):
        reconstruction_loss(config, target, output, bw, "l3")


def test_bandwidth_from_audio() -> None:
    audio = 0.5 * torch.randn(2, 5000, 1, generator=torch.Generator().manual_seed(8))
    bw = Bandwidth.from_audio(audio)
    x = audio[..., 0].double().numpy()
    assert bw.l1 == pytest.approx(np.abs(x).mean()) and bw.l2 == pytest.approx(x.var())
    spec = np.mean([np.linalg.norm(numpy_magnitudes(item, 2048, 256, 1536)) for item in x])
    assert bw.spec == pytest.approx(spec, rel=1e-6)
