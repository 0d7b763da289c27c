"""Peak memory of converting one large fp32 ``.bin`` shard into the model store.

Builds an HF folder holding the real 1b_lyrics top prior's tensors (names and shapes from the model,
3.77 GB of fp32) as one ``pytorch_model-00001-of-00001.bin`` in torch's zip-pickle format (written
by ``torch.save`` in a child process), then converts it with ``import_model`` in a fresh child and
prints that child's peak resident memory above its baseline after imports. Target: <= 1 GB.

    PYTHONPATH=$PWD python bench/convert_memory.py [--dtype fp32|fp16] [--workdir DIR] [--keep]

Needs about 2 x 3.8 GB of free disk in the work folder; everything is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAKE_SHARD = r"""
import json, sys, torch
from pathlib import Path
from jukestudio.model.config import preset
from jukestudio.model.weights.modules import meta_component
folder = Path(sys.argv[1])
config = preset("1b_lyrics")
(folder / "config.json").write_text(config.to_json_string(), encoding="utf-8")
shapes = {f"priors.0.{n}": tuple(t.shape) for n, t in meta_component(config, "prior_0").state_dict().items()}
largest = max(torch.Size(s).numel() for s in shapes.values())
backing = folder / "backing.raw"  # sparse: tensors map it instead of taking RAM
with open(backing, "wb") as f:
    f.truncate(largest * 4)
state = {n: torch.from_file(str(backing), shared=False, size=torch.Size(s).numel()).view(s) for n, s in shapes.items()}
shard = "pytorch_model-00001-of-00001.bin"
torch.save(state, folder / shard)
backing.unlink()
index = {"metadata": {"total_size": sum(torch.Size(s).numel() * 4 for s in shapes.values())},
         "weight_map": {n: shard for n in shapes}}
(folder / "pytorch_model.bin.index.json").write_text(json.dumps(index), encoding="utf-8")
print(len(shapes), (folder / shard).stat().st_size)
"""

CONVERT = r"""
import json, os, resource, sys, time
from pathlib import Path

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

import torch  # noqa: F401  (part of the baseline: every jukestudio process has it)
from jukestudio.model.weights.store import import_model
baseline = rss_mb()
t0 = time.monotonic()
info = import_model([Path(sys.argv[1])], name="bench", store_dtype=sys.argv[2])
seconds = time.monotonic() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
print(json.dumps({"baseline_mb": baseline, "peak_mb": peak, "seconds": seconds, "stored_bytes": info.size_bytes}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("fp32", "fp16"), default="fp32")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build the shard (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        sys.exit("this benchmark reads /proc and ru_maxrss as Linux reports them")
    work = Path(tempfile.mkdtemp(prefix="convert-memory-", dir=args.workdir))
    folder = work / "hf"
    folder.mkdir()
    env = dict(os.environ, JUKESTUDIO_HOME=str(work / "home"))
    try:
        t0 = time.monotonic()
        made = subprocess.run(
            [sys.executable, "-c", MAKE_SHARD, str(folder)], env=env, check=True, capture_output=True, text=True
        )
        n_tensors, shard_bytes = map(int, made.stdout.split())
        made_s = time.monotonic() - t0
        print(f"shard: {n_tensors} tensors, {shard_bytes / 1e9:.2f} GB fp32 zip pickle (made in {made_s:.0f} s)")
        command = [sys.executable, "-c", CONVERT, str(folder), args.dtype]
        done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        above = result["peak_mb"] - result["baseline_mb"]
        print(
            f"converted to {args.dtype} in {result['seconds']:.1f} s "
            f"({shard_bytes / 1e6 / result['seconds']:.0f} MB/s), stored {result['stored_bytes'] / 1e9:.2f} GB"
        )
        print(
            f"peak RSS {result['peak_mb']:.0f} MB, baseline {result['baseline_mb']:.0f} MB: "
            f"{above:.0f} MB above baseline (target <= 1024 MB) -> {'OK' if above <= 1024 else 'TOO HIGH'}"
        )
    except subprocess.CalledProcessError as exc:
        sys.exit(f"failed: {exc.stderr[-2000:]}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
