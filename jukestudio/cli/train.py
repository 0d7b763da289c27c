"""`jukestudio-cli train ...`: train a model from a folder of labelled audio, then install it.

    jukestudio-cli train all DATA_DIR --out RUN_DIR [--install NAME]
    jukestudio-cli train vqvae DATA_DIR --out RUN_DIR
    jukestudio-cli train prior DATA_DIR --out RUN_DIR --level preview|middle|full
    jukestudio-cli train install RUN_DIR --name NAME

DATA_DIR holds audio files and ``labels.csv`` (file,artist,genre[,split]); see docs/tiny-model.md.
Every stage checkpoints atomically; running the same command again after a kill continues where
it stopped. Exit codes: 0 fine, 1 a problem with the data or the run folder, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# torch and the training code are imported in the handlers, so `--help` stays quick.

LEVELS = {"preview": 0, "middle": 1, "full": 2, "0": 0, "1": 1, "2": 2}
EXIT_OK, EXIT_PROBLEM = 0, 1


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model on a folder of labelled audio")
    sub = train.add_subparsers(dest="train_command", metavar="STAGE", required=True)
    for name, text in (
        ("all", "the VQ-VAE, then the three priors (skips finished stages)"),
        ("vqvae", "the VQ-VAE only"),
        ("prior", "one prior on the finished VQ-VAE's codes"),
    ):
        parser = sub.add_parser(name, help=text, description=f"Train {text}. " + (__doc__ or "").split("\n\n")[2])
        parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="audio files + labels.csv")
        parser.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run folder (resumable)")
        parser.add_argument("--arch", default="tiny", choices=["tiny"], help="architecture and schedule")
        parser.add_argument("--seed", type=int, default=1913)
        parser.add_argument("--scale", type=float, default=1.0, help="multiply every stage's steps (e.g. 0.1)")
        parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
        if name == "prior":
            parser.add_argument("--level", required=True, choices=list(LEVELS), help="preview, middle or full")
        if name == "all":
            parser.add_argument("--install", metavar="NAME", help="install the result into the model store as NAME")
        parser.set_defaults(handler=_train, stage=name)

    inst = sub.add_parser("install", help="put a finished run into the model store")
    inst.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    inst.add_argument("--name", required=True, help="model name in the store")
    inst.set_defaults(handler=_install)


def _report(progress) -> None:
    eta = "?" if progress.eta_s is None else f"{progress.eta_s / 60:.1f} min"
    line = f"{progress.stage}: step {progress.step}/{progress.steps}  loss {progress.loss:.4f}  ETA {eta}"
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line.ljust(78))
        if progress.step == progress.steps:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _train(args: argparse.Namespace) -> int:
    import torch

    from jukestudio.train import pipeline
    from jukestudio.train.dataset import DataError, load_clips
    from jukestudio.train.presets import PLANS, architecture

    torch.set_num_threads(max(1, args.threads))
    config = architecture(args.arch)
    plan = PLANS[args.arch](seed=args.seed, scale=args.scale)
    try:
        clips = load_clips(args.data_dir, splits=("train",))  # bad data: nothing is created
        pipeline.start_run(args.out, config, args.data_dir, plan)
        if args.stage in ("all", "vqvae"):
            pipeline.train_vqvae(args.out, clips, plan, _report)
        if args.stage == "all":
            for level in range(len(config.prior_configs)):
                pipeline.train_prior(args.out, clips, plan, level, _report)
        if args.stage == "prior":
            pipeline.train_prior(args.out, clips, plan, LEVELS[args.level], _report)
    except (DataError, pipeline.RunError) as exc:
        sys.stderr.write(f"train: {exc}\n")
        return EXIT_PROBLEM
    sys.stderr.write(f"run folder: {args.out} (loss curves in each stage's loss.csv / loss.png)\n")
    if args.stage == "all" and args.install:
        return _install(argparse.Namespace(run_dir=args.out, name=args.install))
    return EXIT_OK


def _install(args: argparse.Namespace) -> int:
    from jukestudio.model.weights.errors import CheckpointError
    from jukestudio.model.weights.store import StoreError
    from jukestudio.train import pipeline

    try:
        info = pipeline.install(args.run_dir, args.name)
    except (pipeline.RunError, StoreError, CheckpointError) as exc:
        sys.stderr.write(f"install failed: {exc}\n")
        return EXIT_PROBLEM
    print(f"installed {info.name} ({', '.join(info.components)}) in {info.path}")
    return EXIT_OK
