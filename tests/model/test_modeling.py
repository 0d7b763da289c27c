"""JukeboxModel's sampling API on the tiny fixture: greedy parity with the reference outputs.

The reference tensors were produced by transformers 4.40.2 with the conditioning windows of the
original (see tests/fixtures/orig_tiny/README.md); greedy (top_k=1) sampling is deterministic.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from jukestudio.model.sample_loop import DurationError
from tests.conftest import ORIG_TINY
from tests.engine.tiny import hf_model, tiny_labels, tiny_model

GREEDY = {"top_k": 1, "chunk_size": 8}


@pytest.fixture(autouse=True)
def one_thread():
    # tiny matrices: one thread avoids thread hand-offs that dominate on a busy 2-core machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def ref() -> dict[str, torch.Tensor]:
    return load_file(str(ORIG_TINY / "tiny" / "reference.safetensors"))


def empty(n: int = 1) -> list[torch.Tensor]:
    return [torch.zeros(n, 0, dtype=torch.long) for _ in range(3)]


def test_greedy_top_level_over_several_windows_matches_reference(model, ref) -> None:
    codes = model.ancestral_sample(tiny_labels(), 1, sample_levels=[0], sample_length=65 * 128, **GREEDY)
    assert [c.shape[1] for c in codes] == [65, 0, 0]
    assert torch.equal(codes[0], ref["greedy.top"])


def test_greedy_batch_split_gives_the_same_takes(model, ref) -> None:
    codes = model.ancestral_sample(
        tiny_labels(2), 2, sample_levels=[0], sample_length=65 * 128, max_batch_size=1, **GREEDY
    )
    assert torch.equal(codes[0], ref["greedy.top"].repeat(2, 1))


def test_greedy_partial_window_then_continuation(model, ref) -> None:
    part = model.ancestral_sample(tiny_labels(), 1, sample_levels=[0], sample_length=17 * 128, **GREEDY)
    assert torch.equal(part[0], ref["greedy.top_partial"])
    # The continuation must equal one call of the reference prior on the same window and label
    # (HF's own loop would repeat the context here).
    labels = tiny_labels()
    cont = model.continue_sample(part, labels, sample_levels=[0], sample_length=51 * 128, **GREEDY)
    assert cont[0].shape == (1, 51)
    assert torch.equal(cont[0][:, :17], part[0])  # the take is kept as it was
    oracle = _hf_prior_sample(0, part[0], labels[0], start=0, total_length=51 * 128, sample_tokens=51)
    assert torch.equal(cont[0], oracle)


def test_greedy_primed_sample_keeps_and_continues_the_prompt(model, ref) -> None:
    codes = model.primed_sample(ref["wave"], tiny_labels(), sample_levels=[0], sample_length=77 * 128, **GREEDY)
    assert torch.equal(codes[0][:, :64], ref["vqvae.encode.L2"])
    assert torch.equal(codes[0], ref["greedy.top_primed"])
    # the untouched levels hold the prompt's codes (prior order = reversed VQ order)
    assert torch.equal(codes[1], ref["vqvae.encode.L1"])
    assert torch.equal(codes[2], ref["vqvae.encode.L0"])


def test_greedy_upsampling_over_several_windows_matches_reference(model, ref) -> None:
    top = ref["greedy.top"][:, :24]
    codes = model.upsample([top, *empty()[1:]], tiny_labels(), **GREEDY)
    assert [c.shape[1] for c in codes] == [24, 96, 384]
    assert torch.equal(codes[1], ref["greedy.up1.fixedcond"])
    assert torch.equal(codes[2], ref["greedy.up2.fixedcond"])


def test_upsampling_needs_the_level_above(model, ref) -> None:
    top = ref["greedy.top"][:, :24]
    with pytest.raises(ValueError, match="needs 96 codes of the level above, which has 0"):
        model.upsample([top, *empty()[1:]], tiny_labels(), sample_levels=[2], **GREEDY)


def test_duration_error_comes_before_any_sampling(model, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(model.priors[0], "sample", lambda *a, **k: calls.append(1))
    # the tiny model's timing labels end at 1 s (max_duration)
    with pytest.raises(DurationError, match="maximum of 1 s"):
        model.ancestral_sample(tiny_labels(), 1, sample_levels=[0], sample_length_in_seconds=1.5)
    assert calls == []


def test_save_results_writes_only_into_the_given_folder(model, ref, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="save_dir"):
        model.ancestral_sample(tiny_labels(), 1, sample_levels=[0], sample_length=17 * 128, save_results=True)
    out = tmp_path / "results"
    codes = model.ancestral_sample(
        tiny_labels(), 1, sample_levels=[0], sample_length=17 * 128, save_results=True, save_dir=out, **GREEDY
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    saved = load_file(str(out / "level_0" / "codes.safetensors"))
    assert torch.equal(saved["codes"], codes[0])
    import soundfile

    audio, sr = soundfile.read(str(out / "level_0" / "item_0.wav"))
    assert sr == 44100 and audio.shape == (17 * 128,)


def test_compute_alignments_saves_an_attention_map_per_take(model, tmp_path) -> None:
    model.ancestral_sample(
        tiny_labels(), 1, sample_levels=[0], sample_length=60 * 128, compute_alignments=True, save_results=True,
        save_dir=tmp_path, **GREEDY,
    )  # fmt: skip
    saved = load_file(str(tmp_path / "level_0" / "codes.safetensors"))
    alignment = saved["alignment_0"].reshape(60, -1)
    n_lyrics = tiny_labels()[0].shape[1] - 5  # 4 label slots + 1 genre, then the whole lyrics
    assert alignment.shape == (60, n_lyrics)
    assert torch.all(alignment >= 0)


def test_alignment_hook_passes_song_length_and_offset(model, ref) -> None:
    # the reference: the original align.py algorithm on the fixture tokens, song length 19968 samples
    (alignment,) = model._alignment([ref["alignment.tokens"]], ref["prior0.labels"], total_length=19968, offset=0)
    torch.testing.assert_close(alignment.reshape(ref["alignment.fixed"].shape), ref["alignment.fixed"])


def test_decode_level_uses_that_levels_decoder(model, ref) -> None:
    audio = model.decode_level(ref["vqvae.given_tokens.L2"], 0)
    torch.testing.assert_close(audio, ref["vqvae.decode_given.L2"], rtol=1e-4, atol=1e-5)


def _hf_prior_sample(level, context, labels, *, start, total_length, sample_tokens):
    """One window sampled by transformers' JukeboxPrior itself (the oracle)."""
    prior = hf_model().priors[level]
    metadata = prior.get_metadata(labels, start, total_length, 0)
    with torch.no_grad():
        return prior.sample(
            context.shape[0],
            music_tokens=context,
            metadata=metadata,
            top_k=1,
            chunk_size=8,
            sample_tokens=sample_tokens,
        )
