"""Turn a finished training run into the model shipped in the package (``resources/models/jukestudio-tiny``).

    python scripts/make_tiny_dataset.py /tmp/tiny-data
    jukestudio-cli train all /tmp/tiny-data --out /tmp/tiny-run
    python scripts/ship_tiny_model.py /tmp/tiny-run

Writes a complete store entry (config, manifest with checksums, safetensors per part) plus
``training.json``: what the model was trained on, how, for how long, and its final losses.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "resources" / "models" / "jukestudio-tiny"
MAX_BYTES = 40 * 1000 * 1000


def final_losses(run_dir: Path) -> dict[str, float]:
    out = {}
    for stage in ("vqvae", "prior_0", "prior_1", "prior_2"):
        with open(run_dir / stage / "loss.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        out[stage] = float(rows[-1]["loss"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["JUKESTUDIO_HOME"] = home
        from jukestudio.bundled_model import BUNDLED_NAME
        from jukestudio.train.pipeline import RUN, install

        info = install(args.run_dir, BUNDLED_NAME)
        run = json.loads((args.run_dir / RUN).read_text())
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        training = {
            "name": BUNDLED_NAME,
            "what": "an instrumental Jukebox (real classes and file formats, small sizes): hops 8/32/128 at "
            "44.1 kHz mono, 256 codes per level, a no-lyrics top prior (like 5b) and two upsamplers",
            "data": {
                "rebuild": "python scripts/make_tiny_dataset.py DATA_DIR (seed 1913, 24 clips of 8 s per pair, "
                "the last 2 of each pair held out)",
                "kind": "procedural numpy synthesis, no samples or soundfonts",
                "genres (styles)": {
                    "classical": "slow four-voice chorale, one chord per beat, 60-76 bpm",
                    "folk": "eighth-note dance melody over bass and soft kick, 100-120 bpm",
                    "electronic": "sixteenth-note arpeggios over a held bass, kick on the beats, 120-140 bpm",
                },
                "artists (instruments; names from the v2 artist table)": {
                    "johann_sebastian_bach": "organ: four harmonics, sustained; keys from C2",
                    "eric_clapton": "plucked string: eight decaying harmonics; keys from C3",
                    "jean_michel_jarre": "bright synthesizer lead: band-limited sawtooth with vibrato; keys from C4",
                },
                "unknown": "artist or genre 'unknown' (15% label dropout in training) samples any of them",
            },
            "how": {
                "command": "jukestudio-cli train all DATA_DIR --out RUN_DIR (the tiny recipe, seed 1913); "
                "here: train vqvae --threads 2, then train prior --level preview --threads 1 beside "
                "train prior --level middle, then full (--threads 1)",
                "plan": run.get("plan"),
                "wall_seconds": run.get("wall_s"),
                "note": run.get("note", ""),
                "machine": "2 CPU cores (x86-64, AVX-512), torch 2.13 CPU; the top prior and the "
                "upsamplers trained side by side",
                "final_losses": final_losses(args.run_dir),
                "code_commit": commit.strip(),
            },
        }
        if TARGET.exists():
            shutil.rmtree(TARGET)
        shutil.copytree(info.path, TARGET)
        TARGET.chmod(0o755)  # the store makes private folders; the repository copy is for everyone
    (TARGET / "training.json").write_text(json.dumps(training, indent=2) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in TARGET.iterdir())
    print(f"wrote {TARGET} ({size / 1e6:.1f} MB)")
    if size > MAX_BYTES:
        raise SystemExit(f"the shipped model is {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit")


if __name__ == "__main__":
    main()
