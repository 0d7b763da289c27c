"""Rebuild the data set ``jukestudio-tiny`` was trained on (see ``jukestudio/train/synthetic.py``).

    python scripts/make_tiny_dataset.py OUT_DIR [--clips-per-pair 24] [--seconds 8] [--seed 1913]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jukestudio.train.synthetic import build


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild the jukestudio-tiny data set.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--clips-per-pair", type=int, default=24, help="clips per (style, instrument) pair")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=1913)
    parser.add_argument("--valid", type=int, default=2, help="held-out clips per pair (split=valid)")
    args = parser.parse_args(argv)
    count = build(args.out_dir, args.clips_per_pair, args.seconds, args.seed, args.valid)
    print(f"wrote {count} clips and labels.csv to {args.out_dir}")



if __name__ == "__main__":
    main()
