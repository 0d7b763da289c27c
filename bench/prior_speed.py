"""Micro-benchmark: batch-1 top-level sampling tokens/s, ours vs HF transformers 4.40.2 (CPU).

    python bench/prior_speed.py [--threads 2] [--tokens 512] [--layers 12] [--width 512] [--batch 1]

A 1b_lyrics-style top prior (lyrics prefix + music) with random weights; both models get the same
weights and sample greedily from the same point, so the token sequences must agree as well.
"""

from __future__ import annotations

import argparse
import time

import torch

from jukestudio.model.config import JukeboxPriorConfig
from jukestudio.model.prior import JukeboxPrior


def make_config(width: int, layers: int, n_ctx: int, n_lyrics: int) -> JukeboxPriorConfig:
    return JukeboxPriorConfig(
        level=0,
        hidden_size=width,
        num_layers=layers,
        n_heads=2,
        attention_pattern="enc_dec_with_lyrics",
        blocks=64,
        n_ctx=n_ctx,
        nb_relevant_lyric_tokens=n_lyrics,
        is_encoder_decoder=True,
        lyric_vocab_size=79,
        music_vocab_size=2048,
        metadata_dims=[604, 7898],
        max_nb_genres=1,
        merged_decoder=False,
        alignment_layer=None,
        alignment_head=None,
        min_duration=1.0,
        max_duration=600.0,
    )


def timed(fn, repeats: int) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--lyrics", type=int, default=384)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--context", type=int, default=0, help="music tokens of context, primed in chunks of 32")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-hf", action="store_true")
    parser.add_argument("--dtype", default="float32", help="our inference dtype: float32 | bfloat16 | float16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = make_config(args.width, args.layers, args.n_ctx, args.lyrics)
    ours = JukeboxPrior(config).eval()
    ours.init_weights(torch.Generator().manual_seed(0))
    n = args.batch
    labels = torch.cat([torch.tensor([[0, 0, 0, 5, 7]] * n), torch.randint(1, 79, (n, 600))], dim=1)
    metadata = ours.get_metadata(labels, 0, 60 * 44100)
    context = torch.randint(0, 2048, (n, args.context), generator=torch.Generator().manual_seed(1))
    kwargs = dict(
        music_tokens=context, metadata=metadata, top_k=1, chunk_size=32, sample_tokens=args.context + args.tokens
    )

    if args.dtype != "float32":
        ours.set_inference_dtype(getattr(torch, args.dtype))
    ours_s, ours_tokens = timed(lambda: ours.sample(n, **kwargs), args.repeats)
    if args.dtype != "float32":
        ours.set_inference_dtype(None)
    print(
        f"ours ({args.dtype}): {n * args.tokens / ours_s:8.1f} tok/s "
        f"({ours_s:.2f} s for {args.tokens} steps, batch {n})"
    )
    if args.no_hf:
        return
    import transformers

    from tests.model.prior_oracle import hf_prior_config

    transformers.utils.logging.disable_progress_bar()
    from transformers.models.jukebox.modeling_jukebox import JukeboxPrior as HFJukeboxPrior

    hf = HFJukeboxPrior(hf_prior_config(config)).eval()
    hf.load_state_dict(ours.state_dict())
    with torch.no_grad():
        hf_s, hf_tokens = timed(lambda: hf.sample(n, **kwargs), args.repeats)
    print(f"HF 4.40.2:      {n * args.tokens / hf_s:8.1f} tok/s  ({hf_s:.2f} s)")
    print(f"speed-up: {hf_s / ours_s:.2f}x; same greedy tokens: {torch.equal(ours_tokens, hf_tokens)}")


if __name__ == "__main__":
    main()
