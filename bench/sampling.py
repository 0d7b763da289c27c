"""Sampling-loop benchmark: tokens/s of the cascade, ours vs transformers 4.40.2, in the same run (CPU).

    python bench/sampling.py [--threads 2] [--width 512] [--layers 12] [--n-ctx 1024] [--batch 1] [--quick]

Builds a small 1b_lyrics-style top prior and an upsampler with random weights, the same weights for
ours and for Hugging Face's ``JukeboxPrior`` (mask=True), and measures

* top level: ancestral sampling of one window plus one hop (``JukeboxModel._sample``, level 0),
  ours vs HF's own ``JukeboxModel._sample`` (whose top-level loop is usable);
* one upsampler level over three windows: ours vs HF's prior driven by our window loop (HF's own
  loop conditions every window on the whole upper sequence, which is wrong and much slower);
* the VQ-VAE decoder of the real geometry: seconds of audio decoded per second, ours vs HF;
* the fast CPU preview (int8 top prior, ``fast_preview=True``): the top-level measure at batch 1 and 4
  (``--fast-preview-batches``), ours fp32 / ours int8 / HF fp32 alternating, and the mean KL (nats per
  token) of the int8 next-token distributions from our fp32 ones along one fp32-sampled window.

Prints a table and one JSON line (ratios and peak RSS). Run from the repository root.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jukestudio.model.config import JukeboxConfig, JukeboxPriorConfig, JukeboxVQVAEConfig
from jukestudio.model.modeling import JukeboxModel
from jukestudio.model.prior import JukeboxPrior
from jukestudio.model.vqvae import JukeboxVQVAE

SR = 44100


def configs(width: int, layers: int, n_ctx: int) -> JukeboxConfig:
    top = JukeboxPriorConfig(
        level=0, hidden_size=width, num_layers=layers, n_heads=2, attention_pattern="enc_dec_with_lyrics",
        blocks=n_ctx // 64, n_ctx=n_ctx, nb_relevant_lyric_tokens=384, is_encoder_decoder=True,
        lyric_vocab_size=79, music_vocab_size=2048, metadata_dims=[604, 7898], max_nb_genres=1,
        merged_decoder=False, alignment_layer=None, alignment_head=None, timing_dims=64,
        min_duration=0.0, max_duration=600.0,
    )  # fmt: skip
    ups = [_upsampler(level, width, layers, n_ctx) for level in (1, 2)]
    return JukeboxConfig.from_configs([top, *ups], JukeboxVQVAEConfig(), name="bench")


def _upsampler(level: int, width: int, layers: int, n_ctx: int) -> JukeboxPriorConfig:
    return JukeboxPriorConfig(
        level=level, hidden_size=width, num_layers=layers, n_heads=1,
        attention_pattern="raw_column_previous_row_attention", blocks=n_ctx // 64, n_ctx=n_ctx,
        nb_relevant_lyric_tokens=0, is_encoder_decoder=False, lyric_vocab_size=0, music_vocab_size=2048,
        metadata_dims=[120, 4111], max_nb_genres=1, merged_decoder=False, res_conv_width=256,
        res_conv_depth=8, res_dilation_cycle=4, res_dilation_growth_rate=3, conv_res_scale=level == 1,
        alignment_layer=None, alignment_head=None, timing_dims=64, min_duration=0.0, max_duration=600.0,
    )  # fmt: skip


def hf_model_from(config: JukeboxConfig) -> Any:
    """HF's JukeboxModel with the same geometry, every weight filled from a seeded generator."""
    from transformers.models.jukebox.configuration_jukebox import JukeboxConfig as HFConfig
    from transformers.models.jukebox.modeling_jukebox import JukeboxModel as HFModel

    from tests.model.prior_oracle import randomize_

    priors = []
    for prior in config.prior_configs:
        data = copy.deepcopy(prior.to_dict())
        data.pop("model_type", None)
        data["mask"] = True
        priors.append(data)
    vq = config.vqvae_config.to_dict()
    top = config.prior_configs[0]
    hf_config = HFConfig(
        vqvae_config=vq, prior_config_list=priors, nb_priors=len(priors), sampling_rate=SR,
        timing_dims=top.timing_dims, min_duration=top.min_duration, max_duration=top.max_duration,
        max_nb_genres=top.max_nb_genres,
    )  # fmt: skip
    hf = HFModel(hf_config).eval()
    for p, prior in enumerate(hf.priors):
        prior.config.mask = True
        randomize_(prior, seed=p)
    randomize_(hf.vqvae, seed=10)
    return hf


class HFPriorInOurLoop(nn.Module):
    """HF's prior behind our ``sample`` contract (the generator seeds a forked global RNG)."""

    def __init__(self, prior: nn.Module) -> None:
        super().__init__()
        self.inner = prior

    def get_metadata(self, labels, start, total_length, offset=0):
        return self.inner.get_metadata(labels, start, total_length, offset // int(self.inner.raw_to_tokens))

    def sample(self, n_samples, generator=None, on_step=None, **kwargs):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator)) if generator is not None else 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.inner.sample(n_samples, **kwargs)


def timed(fn) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def labels(n: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    top = torch.cat([torch.tensor([[0, 0, 0, 5, 7]]), torch.randint(1, 79, (1, 800), generator=g)], dim=1)
    low = torch.tensor([[0, 0, 0, 5, 7]])
    return [t.repeat(n, 1) for t in (top, low, low)]


def best_of_alternating(ours_fn, hf_fn, repeats: int) -> tuple[float, float]:
    """Best time of each, runs alternating (ours, HF, ours, HF, ...): robust to load that comes and goes."""
    ours_best = hf_best = float("inf")
    for _ in range(repeats):
        ours_best = min(ours_best, timed(ours_fn)[0])
        hf_best = min(hf_best, timed(hf_fn)[0])
    return ours_best, hf_best


def bench_top(ours: JukeboxModel, hf: Any, n: int, n_ctx: int, chunk: int, repeats: int) -> dict[str, float]:
    hop = n_ctx // 8
    length = (n_ctx + hop) * 128  # one full window, then one hop re-primed with 7/8 of a window
    tokens = n * (n_ctx + hop)
    empty = [torch.zeros(n, 0, dtype=torch.long) for _ in range(3)]
    kw = dict(sample_levels=[0], chunk_size=chunk, sample_length=length, max_batch_size=n)
    ours_s, hf_s = best_of_alternating(
        lambda: ours._sample(list(empty), labels(n), generator=torch.Generator().manual_seed(0), **kw),
        lambda: hf._sample(list(empty), labels(n), save_results=False, **kw),
        repeats,
    )
    return {"tokens": tokens, "ours_tok_s": tokens / ours_s, "hf_tok_s": tokens / hf_s, "ours_s": ours_s, "hf_s": hf_s}


def best_of_alternating_all(fns: dict[str, Any], repeats: int) -> dict[str, float]:
    """``best_of_alternating`` for any number of contenders."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], timed(fn)[0])
    return best


def bench_fast_preview(ours: JukeboxModel, hf: Any, batches: list[int], n_ctx: int, chunk: int, repeats: int):
    """Top level (one window + one hop) per batch: ours fp32, ours int8 (fast preview), HF fp32."""
    hop = n_ctx // 8
    length = (n_ctx + hop) * 128
    result = {}
    for n in batches:
        empty = [torch.zeros(n, 0, dtype=torch.long) for _ in range(3)]
        kw = dict(sample_levels=[0], chunk_size=chunk, sample_length=length, max_batch_size=n)

        def ours_fn(fast: bool, n: int = n, empty=empty, kw=kw):
            g = torch.Generator().manual_seed(0)
            return lambda: ours._sample(list(empty), labels(n), generator=g, fast_preview=fast, **kw)

        best = best_of_alternating_all(
            {
                "fp32": ours_fn(False),
                "int8": ours_fn(True),
                "hf": lambda n=n, empty=empty, kw=kw: hf._sample(list(empty), labels(n), save_results=False, **kw),
            },
            repeats,
        )
        tokens = n * (n_ctx + hop)
        result[n] = {name: tokens / s for name, s in best.items()}
    return result


def fast_preview_kl(ours: JukeboxModel, n_tokens: int) -> float:
    """Mean KL(fp32 || int8) in nats of the top prior's next-token distributions, teacher-forced along
    one window sampled in fp32 (the int8 run is fed the fp32 tokens)."""
    import jukestudio.model.transformer as transformer_module
    from jukestudio.model.quantize import fast_preview

    prior = ours.priors[0]
    metadata = prior.get_metadata(labels(1)[0], 0, (n_tokens + 1) * 128)
    draw = transformer_module.draw_tokens
    runs: dict[str, list[torch.Tensor]] = {"fp32": [], "int8": []}
    tokens: list[torch.Tensor] = []

    def recorder(name: str):
        def record(logits, params, level, generator=None):
            runs[name].append(torch.log_softmax(logits.float(), dim=-1))
            if name == "fp32":
                tokens.append(draw(logits, params, level, generator))
                return tokens[-1]
            return tokens[len(runs[name]) - 1]

        return record

    try:
        with torch.inference_mode():
            transformer_module.draw_tokens = recorder("fp32")
            prior.sample(1, metadata=metadata, sample_tokens=n_tokens, generator=torch.Generator().manual_seed(5))
            transformer_module.draw_tokens = recorder("int8")
            with fast_preview(prior, torch.device("cpu")):
                prior.sample(1, metadata=metadata, sample_tokens=n_tokens, generator=torch.Generator().manual_seed(5))
    finally:
        transformer_module.draw_tokens = draw
    p, q = torch.stack(runs["fp32"]), torch.stack(runs["int8"])
    return float((p.exp() * (p - q)).sum(-1).mean())


def bench_upsampler(
    ours: JukeboxModel, hf_loop: JukeboxModel, n: int, n_ctx: int, chunk: int, repeats: int
) -> dict[str, float]:
    total = 2 * n_ctx  # level-1 tokens: windows of n_ctx, n_ctx/2, n_ctx/2 new tokens
    g = torch.Generator().manual_seed(2)
    top = torch.randint(0, 2048, (n, total // 4), generator=g)
    codes = [top, torch.zeros(n, 0, dtype=torch.long), torch.zeros(n, 0, dtype=torch.long)]
    kw = dict(sample_levels=[1], chunk_size=chunk, sample_length=total * 32, lower_batch_size=n)
    ours_s, hf_s = best_of_alternating(
        lambda: ours._sample(list(codes), labels(n), generator=torch.Generator().manual_seed(0), **kw),
        lambda: hf_loop._sample(list(codes), labels(n), generator=torch.Generator().manual_seed(0), **kw),
        repeats,
    )
    tokens = n * total
    return {"tokens": tokens, "ours_tok_s": tokens / ours_s, "hf_tok_s": tokens / hf_s, "ours_s": ours_s, "hf_s": hf_s}


def bench_decode(hf: Any, seconds: float, repeats: int) -> dict[str, float]:
    ours = JukeboxVQVAE(JukeboxVQVAEConfig()).eval()
    ours.load_state_dict(hf.vqvae.state_dict())
    codes = torch.randint(0, 2048, (1, int(seconds * SR) // 8), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        ours_s, hf_s = best_of_alternating(
            lambda: ours.decode([codes], start_level=0, end_level=1),
            lambda: hf.vqvae.decode([codes], start_level=0, end_level=1),
            repeats,
        )
        a = ours.decode([codes], start_level=0, end_level=1)
        b = hf.vqvae.decode([codes], start_level=0, end_level=1)
    return {
        "seconds": seconds,
        "ours_audio_s_per_s": seconds / ours_s,
        "hf_audio_s_per_s": seconds / hf_s,
        "max_abs_diff": float((a - b).abs().max()),
    }


def _note(name: str, figures: dict[str, float]) -> None:
    """Progress on stderr while the benchmark runs (stdout keeps the table and the JSON line)."""
    text = ", ".join(f"{k} {v:.3g}" for k, v in figures.items())
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--n-ctx", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=32)
    parser.add_argument("--decode-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per measure; the best counts")
    parser.add_argument("--fast-preview-batches", default="1,4", help="batches for the int8 measure ('' = skip)")
    parser.add_argument("--kl-tokens", type=int, default=512, help="positions of the int8-vs-fp32 KL measure")
    parser.add_argument("--quick", action="store_true", help="width 128, 4 layers, n_ctx 256 (a smoke run)")
    parser.add_argument("--fast-preview-only", action="store_true", help="only the int8 measure and its KL")
    args = parser.parse_args()
    if args.quick:
        args.width, args.layers, args.n_ctx, args.decode_seconds, args.kl_tokens = 128, 4, 256, 2.0, 64
    logging.disable(logging.WARNING)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)

    config = configs(args.width, args.layers, args.n_ctx)
    hf = hf_model_from(config)
    priors = [JukeboxPrior(c, level=p).eval() for p, c in enumerate(config.prior_configs)]
    for prior, hf_prior in zip(priors, hf.priors, strict=True):
        prior.load_state_dict(hf_prior.state_dict(), strict=True)
    ours = JukeboxModel(config, vqvae=hf.vqvae, priors=priors).eval()
    hf_loop = JukeboxModel(config, vqvae=hf.vqvae, priors=[HFPriorInOurLoop(p) for p in hf.priors]).eval()

    skipped = {"ours_tok_s": float("nan"), "hf_tok_s": float("nan")}
    with torch.inference_mode():
        if args.fast_preview_only:
            top = up = skipped
        else:
            top = bench_top(ours, hf, args.batch, args.n_ctx, args.chunk, args.repeats)
            _note("top level", top)
            up = bench_upsampler(ours, hf_loop, args.batch, args.n_ctx, args.chunk, args.repeats)
            _note("upsampler", up)
        batches = [int(b) for b in args.fast_preview_batches.split(",") if b.strip()]
        fast = bench_fast_preview(ours, hf, batches, args.n_ctx, args.chunk, args.repeats) if batches else {}
        for n, figures in fast.items():
            _note(f"fast preview, batch {n}", figures)
    kl = fast_preview_kl(ours, min(args.kl_tokens, args.n_ctx)) if batches else float("nan")
    if args.fast_preview_only:
        dec = {"ours_audio_s_per_s": float("nan"), "hf_audio_s_per_s": float("nan"), "max_abs_diff": float("nan")}
    else:
        dec = bench_decode(hf, args.decode_seconds, args.repeats)
        _note("decode", dec)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [
        ("top level, ancestral (tok/s)", top["ours_tok_s"], top["hf_tok_s"]),
        ("upsampler level 1 (tok/s)", up["ours_tok_s"], up["hf_tok_s"]),
        ("VQ-VAE decode (audio s/s)", dec["ours_audio_s_per_s"], dec["hf_audio_s_per_s"]),
    ]
    print(
        f"CPU {platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}; "
        f"priors width {args.width}, {args.layers} layers, n_ctx {args.n_ctx}, batch {args.batch}"
    )
    print(f"{'measure':32} {'ours':>10} {'HF 4.40.2':>10} {'ratio':>7}")
    for n, f in fast.items():
        rows.append((f"top, batch {n}, fp32 (tok/s)", f["fp32"], f["hf"]))
        rows.append((f"top, batch {n}, int8 preview (tok/s)", f["int8"], f["hf"]))
    for name, a, b in rows:
        print(f"{name:32} {a:10.1f} {b:10.1f} {a / b:6.2f}x")
    if fast:
        print(f"fast preview: mean KL(fp32 || int8) of next-token distributions {kl:.5f} nats/token")
    load = os.getloadavg()[0]
    print(f"peak RSS {rss_mb:.0f} MB; decode max |ours - HF| = {dec['max_abs_diff']:.2e}; load average {load:.1f}")
    result = {
        "threads": args.threads,
        "width": args.width,
        "layers": args.layers,
        "n_ctx": args.n_ctx,
        "batch": args.batch,
        "repeats": args.repeats,
        "top_ours_tok_s": round(top["ours_tok_s"], 1),
        "top_hf_tok_s": round(top["hf_tok_s"], 1),
        "top_ratio": round(top["ours_tok_s"] / top["hf_tok_s"], 2),
        "upsampler_ours_tok_s": round(up["ours_tok_s"], 1),
        "upsampler_hf_tok_s": round(up["hf_tok_s"], 1),
        "upsampler_ratio": round(up["ours_tok_s"] / up["hf_tok_s"], 2),
        "decode_ours_audio_s_per_s": round(dec["ours_audio_s_per_s"], 2),
        "decode_hf_audio_s_per_s": round(dec["hf_audio_s_per_s"], 2),
        "decode_ratio": round(dec["ours_audio_s_per_s"] / dec["hf_audio_s_per_s"], 2),
        **{
            f"fast_preview_b{n}_{key}": value
            for n, f in fast.items()
            for key, value in (
                ("int8_tok_s", round(f["int8"], 1)),
                ("fp32_tok_s", round(f["fp32"], 1)),
                ("hf_tok_s", round(f["hf"], 1)),
                ("int8_vs_hf", round(f["int8"] / f["hf"], 2)),
            )
        },
        "fast_preview_mean_kl_nats": round(kl, 5),
        "fast_preview_accepted": bool(
            fast and 1 in fast and fast[1]["int8"] / fast[1]["hf"] >= 2.0 and kl <= 0.01
        ),
        "peak_rss_mb": round(rss_mb),
        "load_average": round(load, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
