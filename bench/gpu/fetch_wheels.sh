#!/usr/bin/env bash
# Fetch, on a machine with network, exactly the wheels bench/gpu_check.py needs on the GPU machine
# (Python 3.12, CUDA torch already installed, no network): requirements.txt and their dependencies,
# for CPython 3.12 on x86_64 Linux. Usage: bench/gpu/fetch_wheels.sh [DEST]  (default bench/gpu/wheels)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$here/wheels}"
pip="${PIP:-python3 -m pip}"
mkdir -p "$dest"
$pip download --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    --platform any -r "$here/requirements.txt" -d "$dest"
if ls "$dest" | grep -qiE '^(torch|nvidia|triton|pyside6|shiboken6)'; then
    echo "fetch_wheels.sh: torch/Qt wheels were pulled in; they must not travel" >&2
    exit 1
fi
echo "$(ls "$dest" | wc -l) wheels in $dest"
