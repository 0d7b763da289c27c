"""JukeboxPrior behaviour that needs no oracle run: sizes of the released models, KV-cache sampling
consistent with teacher forcing, reproducibility, progress/cancel hook, errors, reduced precision."""

from __future__ import annotations

import pytest
import torch

from jukestudio.model.attention import DENSE, PRIME, attention_kind
from jukestudio.model.config import preset
from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.sampling import filter_logits, multinomial, sample_logits, top_k_filter, top_p_filter
from tests.model.prior_oracle import small_configs

CONFIGS = small_configs()


def _count(module: torch.nn.Module) -> tuple[int, int]:
    state = module.state_dict()
    return len(state), sum(t.numel() for t in state.values())


@pytest.mark.parametrize(
    "name, p, tensors, elements",
    [
        ("1b_lyrics", 0, 872, 946_999_296),
        ("1b_lyrics", 1, 1006, 985_230_336),
        ("1b_lyrics", 2, 1006, 985_230_336),
        ("5b_lyrics", 0, 1194, 5_640_506_800),
        ("5b", 0, 872, 5_060_452_800),
    ],
)
def test_released_sizes_on_meta_device(name: str, p: int, tensors: int, elements: int) -> None:
    # figures of original-jukebox.md §1.3 (state dicts include the tied output copy)
    with torch.device("meta"):
        prior = JukeboxPrior(preset(name).prior_configs[p], level=p)
    assert _count(prior) == (tensors, elements)
    if not prior.config.merged_decoder:
        assert prior.prior.fc_proj_out.weight is prior.prior.embed_tokens.weight


def test_released_attention_layouts() -> None:
    one_b = preset("1b_lyrics").prior_configs[0]
    kinds = [attention_kind(one_b.attention_pattern, d) for d in range(72)]
    assert [d for d, k in enumerate(kinds) if k == PRIME] == [15, 31, 63]
    assert [d for d, k in enumerate(kinds) if k == DENSE] == [47]
    five = preset("5b_lyrics").prior_configs[0]
    kinds = [attention_kind(five.attention_pattern, d) for d in range(79)]
    assert [d for d, k in enumerate(kinds) if k == "cross_attention"] == [18, 28, 38, 48, 58, 68, 78]


def _labels(prior: JukeboxPrior, batch: int, seed: int = 0) -> torch.Tensor:
    cfg = prior.config
    g = torch.Generator().manual_seed(seed)
    genres = [3] + [-1] * (cfg.max_nb_genres - 1)
    head = torch.tensor([[0, 0, 0, 4, *genres]] * batch)
    if not cfg.has_lyrics:
        return head
    return torch.cat([head, torch.randint(1, cfg.lyric_vocab_size, (batch, 30), generator=g)], dim=1)


def _setup(name: str, batch: int = 2, seed: int = 0):
    prior = JukeboxPrior(CONFIGS[name]).eval()
    prior.init_weights(torch.Generator().manual_seed(seed))
    # larger weights than the real init, so attention is far from uniform and errors would show
    for p in prior.parameters():
        p.data.mul_(4.0)
    g = torch.Generator().manual_seed(seed + 1)
    conds = None
    if prior.level:
        conds = [torch.randint(0, prior.config.music_vocab_size, (batch, prior.n_ctx // 4), generator=g)]
    metadata = prior.get_metadata(_labels(prior, batch), 8 if prior.level == 0 else 64, 4 * prior.sample_length)
    return prior, conds, metadata


@torch.no_grad()
@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("n_context, chunk_size", [(0, None), (13, 3)])
def test_greedy_sampling_agrees_with_teacher_forcing(name: str, n_context: int, chunk_size) -> None:
    """Every greedy token is the argmax of the teacher-forced logits at its position: the static KV
    cache (each attention kind, chunked priming across row boundaries) computes the same function."""
    prior, conds, metadata = _setup(name, batch=1)
    audio, start_emb, lyrics = prior.get_cond(conds, metadata)
    context = torch.randint(0, prior.config.music_vocab_size, (1, n_context), generator=torch.Generator())
    encoder_states = prior.get_encoder_states(lyrics)
    if prior.is_encoder_decoder:  # the raw joint sequence [lyrics | music + shift], before clamping
        context, audio = prior._joint_sequence(lyrics, context, audio)
    model = prior.prior
    tokens = model.sample(1, context, audio, start_emb, encoder_states, top_k=1, chunk_size=chunk_size)
    assert tokens.shape == (1, model.n_ctx)
    assert torch.equal(tokens[:, : context.shape[1]], context)
    _, logits, _ = model(tokens, audio, start_emb, encoder_states, get_preds=True)
    n = context.shape[1]
    assert torch.equal(tokens[:, n:], logits.argmax(-1)[:, n:])


@torch.no_grad()
def test_generator_makes_sampling_reproducible() -> None:
    prior, conds, metadata = _setup("middle")
    draw = lambda seed: prior.sample(  # noqa: E731
        2, music_tokens_conds=conds, metadata=metadata, temp=1.0, generator=torch.Generator().manual_seed(seed)
    )
    a, b, c = draw(5), draw(5), draw(6)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.min() >= 0 and a.max() < prior.config.music_vocab_size


@torch.no_grad()
def test_on_step_reports_every_new_token_and_can_cancel() -> None:
    prior, _, metadata = _setup("top1b")
    calls: list[tuple[int, int]] = []
    out = prior.sample(
        2, torch.zeros(2, 10, dtype=torch.long), None, metadata, top_k=1, on_step=lambda i, n: calls.append((i, n))
    )
    n_new = prior.n_ctx - 10
    assert calls == [(i, n_new) for i in range(1, n_new + 1)]
    assert out.shape == (2, prior.n_ctx)

    class Stop(Exception):
        pass

    def cancel(i: int, n: int) -> None:
        if i == 3:
            raise Stop

    with pytest.raises(Stop):
        prior.sample(2, metadata=metadata, on_step=cancel)


def test_timing_outside_the_trained_range_is_a_clear_error() -> None:
    prior = JukeboxPrior(CONFIGS["top1b"]).eval()
    sr = prior.config.sampling_rate
    labels = _labels(prior, 1)
    too_short = prior.get_metadata(labels, 0, int(0.05 * sr))  # min_duration is 0.1 s
    with pytest.raises(ValueError, match=r"0\.05 s .*at least 0\.1 s.*less than 2 s"):
        prior.get_cond(None, too_short)
    too_long = prior.get_metadata(labels, 0, 2 * sr)  # must be < max_duration
    with pytest.raises(ValueError, match="max_duration"):
        prior.get_cond(None, too_long)
    past_end = prior.get_metadata(labels, 0, int(1.99 * sr), offset=int(1.95 * sr))
    with pytest.raises(ValueError, match="window"):
        prior.get_cond(None, past_end)


def test_upsampler_needs_the_whole_upper_window() -> None:
    prior = JukeboxPrior(CONFIGS["middle"], level=1)
    upper = torch.zeros(1, 20, dtype=torch.long)
    conds = prior.get_music_tokens_conds([upper], 0, 64)
    assert conds[0].shape == (1, 16)
    assert torch.equal(prior.get_music_tokens_conds([torch.arange(40)[None]], 64, 128)[0], torch.arange(16, 32)[None])
    with pytest.raises(ValueError, match="needs 16 tokens of the level above"):
        prior.get_music_tokens_conds([upper], 32, 96)
    with pytest.raises(ValueError, match="multiples of 4"):
        prior.get_music_tokens_conds([upper], 2, 66)


def test_each_row_gets_its_own_lyric_window() -> None:
    prior = JukeboxPrior(CONFIGS["top1b"])
    labels = _labels(prior, 2)
    labels[1, 5:] = torch.arange(1, 31)
    metadata, indices = prior.get_metadata(labels, 0, 4 * prior.sample_length, get_indices=True)
    n = prior.nb_relevant_lyric_tokens
    for row in range(2):
        expected = torch.stack([labels[row, 5 + i] for i in indices[row]])
        assert torch.equal(metadata[row, -n:], expected)
    assert not torch.equal(metadata[0, -n:], metadata[1, -n:])


def test_tied_output_loads_without_its_key_and_init_is_deterministic() -> None:
    a = JukeboxPrior(CONFIGS["top1b"])
    a.init_weights(torch.Generator().manual_seed(1))
    b = JukeboxPrior(CONFIGS["top1b"])
    b.init_weights(torch.Generator().manual_seed(1))
    state = a.state_dict()
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in state.items())
    state.pop("prior.fc_proj_out.weight")
    c = JukeboxPrior(CONFIGS["top1b"])
    c.load_state_dict(state, strict=True)
    assert torch.equal(c.prior.fc_proj_out.weight, a.prior.embed_tokens.weight)
    std = a.prior.transformer._attn_mods[0].mlp.c_fc.weight.std().item()
    assert abs(std - 0.02 * a.config.init_scale) < 0.002


@torch.no_grad()
@pytest.mark.parametrize("name", ["top1b", "top5b"])
def test_bfloat16_inference_stays_close_to_fp32(name: str) -> None:
    prior, conds, metadata = _setup(name, batch=1)
    tokens = prior.sample(1, music_tokens_conds=conds, metadata=metadata, top_k=1, sample_tokens=20)
    _, ref = prior.forward_tokens(
        tokens[:, :20].repeat(1, prior.n_ctx // 20 + 1)[:, : prior.n_ctx], conds, metadata, True
    )
    prior.set_inference_dtype(torch.bfloat16)
    block = prior.prior.transformer._attn_mods[0]
    assert block.mlp.c_fc.weight.dtype == torch.bfloat16 and block.layer_norm_0.weight.dtype == torch.float32
    low = prior.sample(1, music_tokens_conds=conds, metadata=metadata, top_k=1, sample_tokens=20)
    _, got = prior.forward_tokens(
        tokens[:, :20].repeat(1, prior.n_ctx // 20 + 1)[:, : prior.n_ctx], conds, metadata, True
    )
    assert got["preds"].dtype == torch.float32
    scale = ref["preds"].abs().max().item()
    assert (got["preds"] - ref["preds"]).abs().max().item() < 0.1 * scale
    assert (low == tokens).float().mean().item() >= 0.5
    prior.set_inference_dtype(None)
    assert block.mlp.c_fc.weight.dtype == torch.float32


# -- sampling functions -----------------------------------------------------------------------------


def test_top_k_keeps_the_k_largest() -> None:
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(0))
    kept = torch.isfinite(top_k_filter(logits, 5))
    assert kept.sum(-1).tolist() == [5] * 4
    assert torch.equal(kept, torch.zeros_like(kept).scatter(-1, logits.topk(5).indices, True))
    assert torch.equal(top_k_filter(logits, 0), logits)


def test_top_p_keeps_the_smallest_nucleus() -> None:
    logits = torch.randn(3, 40, generator=torch.Generator().manual_seed(1)) * 2
    filtered = top_p_filter(logits, 0.8)
    probs = torch.softmax(logits, -1)
    for row in range(3):
        order = probs[row].argsort(descending=True)
        n_kept = int(torch.isfinite(filtered[row]).sum())
        assert probs[row, order[: n_kept - 1]].sum() < 0.8 <= probs[row, order[:n_kept]].sum() + 1e-6
        assert torch.isfinite(filtered[row, order[:n_kept]]).all()


def test_multinomial_draws_follow_the_distribution() -> None:
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05])).expand(40_000, 4)
    draws = multinomial(logits, torch.Generator().manual_seed(0))
    assert draws.shape == (40_000, 1)
    freq = torch.bincount(draws[:, 0], minlength=4).float() / 40_000
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.15, 0.05]), atol=0.01)
    # filtered-out tokens are never drawn
    masked = filter_logits(logits[:1000], top_k=2)
    assert multinomial(masked, torch.Generator().manual_seed(1)).max() <= 1
    assert torch.equal(sample_logits(logits[:3], top_k=1), torch.zeros(3, 1, dtype=torch.long))


@pytest.mark.reference
def test_filters_match_hf() -> None:
    pytest.importorskip("transformers")
    from transformers.models.jukebox.modeling_jukebox import filter_logits as hf_filter

    logits = torch.randn(5, 64, generator=torch.Generator().manual_seed(2)) * 3
    for top_k, top_p in ((0, 0.0), (7, 0.0), (0, 0.6), (1, 0.0)):
        assert torch.equal(filter_logits(logits, top_k, top_p), hf_filter(logits, top_k, top_p))
