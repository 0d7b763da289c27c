#!/usr/bin/env bash
# The one command on the GPU machine (no network), from the repository root:
#     bash bench/gpu/run_on_gpu.sh
# Installs the prepared wheels (bench/gpu/wheels, from fetch_wheels.sh) into a venv that sees the
# machine's CUDA torch, then runs bench/gpu_check.py; results go to $OUT (default ./out/gpu-check).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
wheels="${WHEELS:-$root/bench/gpu/wheels}"
out="${OUT:-$root/out/gpu-check}"
mkdir -p "$out"
venv="${VENV:-/tmp/jukestudio-gpu-venv}"
python3 -m venv --system-site-packages "$venv"  # the system's CUDA torch stays visible
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$wheels" -r "$root/bench/gpu/requirements.txt"
"$venv/bin/python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'; print(torch.__version__, torch.cuda.get_device_name())"
cd "$root"
PYTHONPATH="$root" "$venv/bin/python" bench/gpu_check.py --device cuda --out "$out" "$@" 2> >(tee "$out/gpu_check.log" >&2) | tee "$out/gpu_check.txt"
