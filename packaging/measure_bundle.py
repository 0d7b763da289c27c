"""Print a built bundle's size and start times (the figures docs/packaging.md records).

    python packaging/measure_bundle.py [dist/jukestudio] [--runs 5]

Start time is the wall time of ``jukestudio-cli --version`` (program start, Python, the CLI's imports)
and of ``jukestudio-cli --bundle-selfcheck`` (torch, Qt offscreen, audio libraries, all jukestudio
modules), as the minimum and median of several runs: the minimum is the least disturbed by other
load on the machine. The first run after building also pays for the disk cache being cold.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def folder_stats(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files), len(files)


def timed_runs(command: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, timeout=600)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=REPO / "dist" / "jukestudio")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    suffix = ".exe" if sys.platform == "win32" else ""
    cli = args.bundle / f"jukestudio-cli{suffix}"
    if not cli.is_file():
        raise SystemExit(f"{args.bundle}: no jukestudio-cli{suffix}; build the bundle first (packaging/build.py)")
    size, count = folder_stats(args.bundle)
    out = sys.stdout
    out.write(f"bundle: {args.bundle}\n  size: {size / 1e6:.0f} MB in {count} files\n")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "JUKESTUDIO_HOME": home}  # the self-check must not touch real user folders
        for label, extra in (("--version", ["--version"]), ("--bundle-selfcheck", ["--bundle-selfcheck"])):
            times = timed_runs([str(cli), *extra], args.runs, env)
            out.write(
                f"  jukestudio-cli {label}: min {min(times):.2f} s, median {statistics.median(times):.2f} s,"
                f" first {times[0]:.2f} s ({args.runs} runs)\n"
            )
    if hasattr(os, "getloadavg"):
        out.write(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
