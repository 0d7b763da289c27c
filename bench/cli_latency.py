"""How fast the CLI answers when it needs no model: `--help`, `models list`, argument and path errors.

    python bench/cli_latency.py [--runs 5]

Each case is a fresh ``python -m jukestudio.cli.main ...`` process (interpreter start and every
import included), timed wall-clock; the table shows the median and worst of ``--runs`` runs, the
exit code, and whether the process imported torch (it must not: target ≤ 1 s per answer). For
scale, the time of a bare ``python -c "import torch"`` is printed too. Uses a temporary
JUKESTUDIO_HOME with an empty model store and one small project.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0

# Runs the CLI in-process after the interpreter starts, then says whether torch got imported.
_CHILD = r"""
import sys
from jukestudio.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\n@@torch=%d\n" % ("torch" in sys.modules))
raise SystemExit(code)
"""


def cases(home: Path) -> dict[str, list[str]]:
    project = home / "song"
    prompt = home / "missing.wav"
    return {
        "--help": ["--help"],
        "models list (empty store)": ["models", "list"],
        "export of a bogus take id": ["export", str(project), "no-such-take"],
        "compose --prompt missing file": ["compose", str(project), "--prompt", str(prompt)],
        "compose --model unknown": ["compose", str(home / "new"), "--model", "no-such-model"],
        "upsample reversed --region": ["upsample", str(project), "t1", "--region", "1", "0.5"],
        "upsample --levels unknown name": ["upsample", str(project), "t1", "--levels", "bogus"],
        "resume unknown job": ["resume", str(project), "no-such-job"],
    }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int, bool]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, *argv], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    return elapsed, proc.returncode, "@@torch=1" in proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "JUKESTUDIO_HOME": str(home), "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-c", "import sys; from jukestudio.project import Project; Project.create(sys.argv[1])",
             str(home / "song")],
            env=env, check=True,
        )  # fmt: skip
        rows = []
        for name, argv in cases(home).items():
            runs = [run_once(argv, env) for _ in range(args.runs)]
            times = [t for t, _, _ in runs]
            rows.append(
                {
                    "case": name,
                    "median_s": round(statistics.median(times), 3),
                    "max_s": round(max(times), 3),
                    "exit": runs[-1][1],
                    "torch_imported": any(t for _, _, t in runs),
                }
            )
        torch_times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import torch"], check=True)
            torch_times.append(time.perf_counter() - start)
    width = max(len(r["case"]) for r in rows)
    print(f"{'case':<{width}}  median_s  max_s  exit  torch  target ≤ {TARGET_S:g} s")
    for r in rows:
        ok = "ok" if r["max_s"] <= TARGET_S and not r["torch_imported"] else "SLOW"
        print(
            f"{r['case']:<{width}}  {r['median_s']:8.3f}  {r['max_s']:5.3f}  {r['exit']:4d}  "
            f"{'yes' if r['torch_imported'] else 'no':>5}  {ok}"
        )
    print(f"(for scale: `python -c 'import torch'` median {statistics.median(torch_times):.3f} s)")
    print(json.dumps({"runs": args.runs, "cases": rows, "import_torch_median_s": statistics.median(torch_times)}))


if __name__ == "__main__":
    main()
