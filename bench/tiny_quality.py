"""Acceptance figures of a trained model (``jukestudio-tiny`` by default): reconstruction, prior loss,
generated audio, conditioning, speed. Prints a report and writes it as JSON.

    python scripts/make_tiny_dataset.py /tmp/tiny-data          # the held-out clips (split=valid)
    python bench/tiny_quality.py --data /tmp/tiny-data [--model jukestudio-tiny | --run RUN_DIR]
                                 [--takes 8] [--seconds 10] [--threads 2] [--out figures.json]

* VQ-VAE: every held-out clip encoded and decoded through each level alone: spectral convergence
  and SNR per level (VQ order: level 0 = hop 8, the finest).
* Priors: teacher-forced bits per token on held-out codes per level, against the unigram baseline
  (the entropy of those same codes' own token histogram: a baseline that has seen the answer).
* Generated audio: ``--takes`` 10 s previews (top level, decoded) per condition, with the app's
  temperatures; median spectral flatness, DC-removed RMS, onset rate, spectral centroid; whether two
  takes of one compose differ; then one take upsampled to full quality and measured again.
* Conditioning: two styles with one instrument (onset rate) and two instruments with one style
  (spectral centroid, magnitude- and power-weighted): the gap between the condition means against
  the spread (std) within each. The held-out data's own figures per condition are printed alongside.
* Label use: the top prior's teacher-forced bits per token on the first window of each held-out clip
  with its true style / instrument, with "unknown", and with each wrong one: how much it reads them.
* Preview ceiling: the held-out clips through the preview level alone, measured per style and per
  instrument — what a top prior that followed its labels perfectly could show in the conditioning
  figures (the preview level keeps only part of the rhythm and little of the timbre).
* Speed: wall time of 3 takes x ``--seconds`` preview, and of the full upsampling of one take.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from jukestudio.model.modeling import JukeboxModel
from jukestudio.model.tokenizer import JukeboxTokenizer
from jukestudio.train.audio_metrics import (
    dc_removed_rms,
    onset_rate,
    snr_db,
    spectral_centroid,
    spectral_convergence,
    spectral_flatness,
)
from jukestudio.train.dataset import load_clips

SR = 44100
STYLE_PAIR = (("johann_sebastian_bach", "classical"), ("johann_sebastian_bach", "electronic"))
INSTRUMENT_PAIR = (("johann_sebastian_bach", "folk"), ("jean_michel_jarre", "folk"))


def load(args: argparse.Namespace) -> JukeboxModel:
    if args.run:
        from jukestudio.train.pipeline import finished_states, run_config

        config = run_config(args.run)
        model = JukeboxModel(config)
        for component, state in finished_states(args.run).items():
            module = model.vqvae if component == "vqvae" else model.priors[int(component[-1])]
            module.load_state_dict(state)
        return model.eval()
    from jukestudio.model.weights.loader import load_model

    return load_model(args.model).eval()


@torch.inference_mode()
def reconstruction(model: JukeboxModel, clips) -> tuple[dict, list[np.ndarray]]:
    """Figures per VQ level, and each clip as the preview level alone decodes it (for the ceiling)."""
    per_level: dict[int, list[tuple[float, float]]] = {level: [] for level in range(model.vqvae.levels)}
    top = model.vqvae.hop_lengths[-1]
    previews = []
    for clip in clips:
        usable = len(clip.audio) // top * top
        audio = torch.from_numpy(clip.audio[:usable]).view(1, -1, 1)
        codes = model.vqvae.encode(audio)
        for level in range(model.vqvae.levels):
            out = model.vqvae.decode([codes[level]], start_level=level, end_level=level + 1)[0, :, 0].numpy()
            ref = clip.audio[:usable]
            per_level[level].append((spectral_convergence(ref, out), snr_db(ref, out)))
        previews.append(out)  # the last level: the preview
    figures = {
        f"vq_level_{level}_hop_{model.vqvae.hop_lengths[level]}": {
            "spectral_convergence": float(np.mean([v[0] for v in values])),
            "snr_db": float(np.mean([v[1] for v in values])),
        }
        for level, values in per_level.items()
    }
    return figures, previews


@torch.inference_mode()
def prior_losses(model: JukeboxModel, clips, max_windows: int = 6) -> dict:
    tokenizer = JukeboxTokenizer.for_config(model.config)
    top = model.vqvae.hop_lengths[-1]
    result = {}
    encoded = []
    for clip in clips:
        usable = len(clip.audio) // top * top
        codes = model.vqvae.encode(torch.from_numpy(clip.audio[:usable]).view(1, -1, 1))
        rows = tokenizer(clip.artist, [clip.genre], "").input_ids
        encoded.append((codes, rows, usable))
    for p, prior in enumerate(model.priors):
        vq_level = len(model.priors) - 1 - p
        losses, tokens_all = [], []
        for codes, rows, usable in encoded:
            level_codes = codes[vq_level]
            tokens_all.append(level_codes.reshape(-1))
            n = level_codes.shape[1] // prior.n_ctx
            for w in range(min(n, max_windows)):
                start = w * prior.n_ctx
                window = level_codes[:, start : start + prior.n_ctx]
                conds = prior.get_music_tokens_conds([c for c in reversed(codes)], start, start + prior.n_ctx)
                metadata = prior.get_metadata(rows[p], start, usable, 0)
                loss, _ = prior.forward_tokens(window, conds, metadata)
                losses.append(float(loss))
        counts = torch.bincount(torch.cat(tokens_all), minlength=prior.config.music_vocab_size).double()
        prob = counts[counts > 0] / counts.sum()
        unigram = float(-(prob * prob.log2()).sum())
        name = ("preview (top)", "middle", "full quality (bottom)")[p] if len(model.priors) == 3 else str(p)
        result[f"prior_{p}"] = {"level": name, "bits_per_token": float(np.mean(losses)), "unigram_bits": unigram}
    return result


@torch.inference_mode()
def label_use(model: JukeboxModel, clips) -> dict:
    prior, top = model.priors[0], model.vqvae.hop_lengths[-1]
    styles = sorted({c.genre for c in clips})
    instruments = sorted({c.artist for c in clips})
    losses: dict[str, list[float]] = {}
    for clip in clips:
        usable = len(clip.audio) // top * top
        window = model.vqvae.encode(torch.from_numpy(clip.audio[:usable]).view(1, -1, 1))[-1][:, : prior.n_ctx]

        def bits(artist: str, genre: str, window=window, usable=usable) -> float:
            metadata = prior.get_metadata(labels_for(model, artist, genre)[0], 0, usable, 0)
            return float(prior.forward_tokens(window, None, metadata)[0])

        for genre in [*styles, "unknown"]:
            kind = "true" if genre == clip.genre else "unknown" if genre == "unknown" else "wrong"
            losses.setdefault(f"style_{kind}", []).append(bits(clip.artist, genre))
        for artist in [*instruments, "unknown"]:
            if artist != clip.artist:
                kind = "unknown" if artist == "unknown" else "wrong"
                losses.setdefault(f"instrument_{kind}", []).append(bits(artist, clip.genre))
    return {key: float(np.mean(values)) for key, values in losses.items()}


def preview_ceiling(clips, previews: list[np.ndarray]) -> dict:
    """``previews``: each clip decoded from its preview-level codes alone (``reconstruction``)."""
    by_style: dict[str, list[dict]] = {}
    by_instrument: dict[str, list[dict]] = {}
    for clip, preview in zip(clips, previews, strict=True):
        figures = measure(preview)
        by_style.setdefault(clip.genre, []).append(figures)
        by_instrument.setdefault(clip.artist, []).append(figures)
    return {
        "styles": {k: summarise(v)["onset_rate"] for k, v in sorted(by_style.items())},
        "instruments_centroid": {k: summarise(v)["centroid_hz"] for k, v in sorted(by_instrument.items())},
        "instruments_power_centroid": {k: summarise(v)["power_centroid_hz"] for k, v in sorted(by_instrument.items())},
    }


def measure(audio: np.ndarray) -> dict:
    return {
        "flatness": spectral_flatness(audio),
        "rms": dc_removed_rms(audio),
        "onset_rate": onset_rate(audio, SR),
        "centroid_hz": spectral_centroid(audio, SR),
        "power_centroid_hz": spectral_centroid(audio, SR, power=True),
    }


def labels_for(model: JukeboxModel, artist: str, genre: str) -> list[torch.Tensor]:
    tokenizer = JukeboxTokenizer.for_config(model.config)
    return tokenizer(artist, [genre], "")["input_ids"]


def compose(model: JukeboxModel, artist: str, genre: str, takes: int, seconds: float, seed: int):
    """``takes`` top-level previews: (codes, audio list, seconds taken)."""
    began = time.perf_counter()
    codes = model.ancestral_sample(
        labels_for(model, artist, genre),
        n_samples=takes,
        sample_levels=[0],
        sample_length_in_seconds=seconds,
        total_length_in_seconds=max(seconds, 60.0),
        generator=torch.Generator().manual_seed(seed),
    )
    audio = model.decode_level(codes[0], 0)[:, :, 0].numpy()
    return codes, list(audio), time.perf_counter() - began


def upsample(model: JukeboxModel, codes, artist: str, genre: str, seconds: float, seed: int):
    began = time.perf_counter()
    one = [c[:1] for c in codes]
    full = model.upsample(
        one,
        labels_for(model, artist, genre),
        total_length_in_seconds=max(seconds, 60.0),
        generator=torch.Generator().manual_seed(seed),
    )
    audio = model.decode_level(full[2], 2)[0, :, 0].numpy()
    return audio, time.perf_counter() - began


def summarise(takes: list[dict]) -> dict:
    return {
        key: {"median": statistics.median(t[key] for t in takes), "std": statistics.pstdev(t[key] for t in takes)}
        for key in takes[0]
    }


def separation(a: list[dict], b: list[dict], key: str) -> dict:
    va, vb = [t[key] for t in a], [t[key] for t in b]
    gap = abs(statistics.mean(va) - statistics.mean(vb))
    spread = max(statistics.pstdev(va), statistics.pstdev(vb))
    return {
        "property": key,
        "mean_a": statistics.mean(va),
        "mean_b": statistics.mean(vb),
        "gap": gap,
        "within_spread": spread,
        "separated": gap > spread,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data folder with held-out clips (split=valid)")
    parser.add_argument("--model", default="jukestudio-tiny")
    parser.add_argument("--run", type=Path, help="a training run folder instead of a store model")
    parser.add_argument("--takes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["recon", "priors", "labels", "conditioning", "upsample"]
    )
    parser.add_argument("--out", type=Path, default=Path("tiny_quality.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args)
    clips = load_clips(args.data, splits=("valid",)).clips
    report: dict = {"model": str(args.run or args.model), "threads": args.threads, "held_out_clips": len(clips)}

    if "recon" not in args.skip:
        report["vqvae"], previews = reconstruction(model, clips)
        print("VQ-VAE reconstruction:", json.dumps(report["vqvae"], indent=1))
        report["preview_ceiling"] = preview_ceiling(clips, previews)
        print("held-out data through the preview level:", json.dumps(report["preview_ceiling"], indent=1))
    if "priors" not in args.skip:
        report["priors"] = prior_losses(model, clips)
        print("prior loss:", json.dumps(report["priors"], indent=1))
    if "labels" not in args.skip:
        report["label_use"] = label_use(model, clips)
        print("top prior bits/token by label:", json.dumps(report["label_use"], indent=1))

    # speed: 3 takes of a 10 s preview, as the window's default compose
    codes, audio, took = compose(model, *STYLE_PAIR[0], 3, args.seconds, args.seed)
    report["speed"] = {f"preview_3_takes_{args.seconds:g}s": took}
    previews = [measure(a) for a in audio]
    report["preview"] = {"takes": previews, "summary": summarise(previews)}
    differ = float((codes[0][0] != codes[0][1]).float().mean())
    report["preview"]["two_takes_code_difference"] = differ
    print(f"3 x {args.seconds:g} s preview: {took:.1f} s; take 0: {previews[0]}; codes differ at {differ:.0%}")

    if "upsample" not in args.skip:
        full, up_took = upsample(model, codes, *STYLE_PAIR[0], args.seconds, args.seed)
        report["speed"][f"full_upsampling_1_take_{args.seconds:g}s"] = up_took
        report["full_quality"] = measure(full)
        print(f"full-quality upsampling: {up_took:.1f} s; {report['full_quality']}")
        import soundfile as sf

        sf.write(args.out.with_suffix(".full.wav"), full, SR)
        sf.write(args.out.with_suffix(".preview.wav"), audio[0], SR)

    if "conditioning" not in args.skip:
        groups = {}
        for artist, genre in dict.fromkeys(STYLE_PAIR + INSTRUMENT_PAIR):
            _, takes_audio, _ = compose(model, artist, genre, args.takes, args.seconds, args.seed + 1)
            groups[f"{artist}/{genre}"] = [measure(a) for a in takes_audio]
            print(f"{artist}/{genre}:", json.dumps(summarise(groups[f"{artist}/{genre}"])))
        data_groups = {
            key: summarise([measure(c.audio) for c in clips if f"{c.artist}/{c.genre}" == key]) for key in groups
        }
        report["conditioning"] = {
            "groups": {k: summarise(v) for k, v in groups.items()},
            "held_out_data_groups": data_groups,
            "styles_onset_rate": separation(
                groups["/".join(STYLE_PAIR[0])], groups["/".join(STYLE_PAIR[1])], "onset_rate"
            ),
            "instruments_centroid": separation(
                groups["/".join(INSTRUMENT_PAIR[0])], groups["/".join(INSTRUMENT_PAIR[1])], "centroid_hz"
            ),
            "instruments_power_centroid": separation(
                groups["/".join(INSTRUMENT_PAIR[0])], groups["/".join(INSTRUMENT_PAIR[1])], "power_centroid_hz"
            ),
        }
        print("conditioning:", json.dumps({k: v for k, v in report["conditioning"].items() if k != "groups"}, indent=1))
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
