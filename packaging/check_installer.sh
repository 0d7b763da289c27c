#!/usr/bin/env bash
# CI check of installer.nsi: compile it with makensis (Debian package `nsis`) against a small staged
# folder standing in for the PyInstaller bundle, through the same code path as a real build
# (packaging/build.py installer). Proves the script is valid; takes seconds. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v makensis >/dev/null; then
    echo "check_installer.sh: makensis not found (apt-get install nsis)" >&2
    exit 1
fi
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/bundle"
mkdir -p "$stage/_internal/jukestudio/resources/vocab" "$stage/_internal/PySide6/plugins/platforms"
printf 'MZ stand-in for the window program\n' >"$stage/jukestudio.exe"
printf 'MZ stand-in for the command line\n' >"$stage/jukestudio-cli.exe"
printf 'stand-in\n' >"$stage/_internal/python311.dll"
printf 'stand-in\n' >"$stage/_internal/PySide6/plugins/platforms/qoffscreen.dll"
printf 'a name NSIS must escape\n' >"$stage/_internal/odd\$name.txt"
cp resources/vocab/LICENSE resources/vocab/v3_genre_ids.txt "$stage/_internal/jukestudio/resources/vocab/"

"$python" packaging/build.py installer --bundle-dir "$stage" --out-dir "$work/out"
setup=$(ls "$work"/out/jukestudio-*-setup.exe)
# A Windows program starts with "MZ"; an empty or truncated file means makensis failed quietly.
if [ "$(head -c 2 "$setup")" != "MZ" ]; then
    echo "check_installer.sh: $setup is not a Windows program" >&2
    exit 1
fi
echo "installer.nsi compiles: $(basename "$setup") ($(stat -c %s "$setup") bytes)"
