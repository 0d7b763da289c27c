"""Build jukestudio's standalone bundle (PyInstaller) and, on request, its Windows installer (NSIS).

Usage, from the repository root, inside the build environment (a venv with jukestudio installed and
``pip install ".[packaging]"``)::

    python packaging/build.py                      # bundle for this platform -> dist/jukestudio/
    python packaging/build.py --installer          # ... then the installer -> dist/jukestudio-<version>-setup.exe
    python packaging/build.py installer --bundle-dir DIR [--out-dir DIR]   # installer from a bundle folder

The bundle is a folder with two programs, ``jukestudio`` (window) and ``jukestudio-cli`` (console),
plus ``LICENSES.txt`` (our MIT license followed by the Jukebox Noncommercial Use License); on Linux
also ``install.sh``, ``jukestudio.desktop`` and ``jukestudio.svg`` (from packaging/linux/) for a
per-user install. The script prints where it put each thing. Then run
``dist/jukestudio/jukestudio-cli --bundle-selfcheck``: it exercises every bundled dependency.

CUDA on Windows: the bundle contains *the torch that is installed in the build environment*; nothing is
chosen at run time. For NVIDIA users, build in a venv where the CUDA wheel of torch was installed from
the PyTorch wheel index before jukestudio itself, e.g.
``pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128`` (pick the CUDA
variant the PyTorch "get started" selector lists for that torch version). ``--require-cuda`` makes the
build fail if the environment's torch is a CPU-only build. See docs/packaging.md.

The installer step needs ``makensis`` (NSIS 3) on PATH: it is part of NSIS on Windows and the ``nsis``
package on Debian/Ubuntu, so an installer can also be made on Linux from a Windows bundle folder.
Only the standard library is imported here, so ``installer`` also runs from a bare ``python3``
(packaging/check_installer.sh does, on a staged dummy bundle).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("jukestudio") is None:  # a bare interpreter: use the checkout's package
    sys.path.insert(0, str(REPO))

from jukestudio.atomic import atomic_write_bytes  # noqa: E402  (needs the path above)

SPEC = REPO / "packaging" / "jukestudio.spec"
NSI = REPO / "installer.nsi"
APP_NAME = "jukestudio"
LICENSES_NAME = "LICENSES.txt"
LINUX_FILES = ("install.sh", "jukestudio.desktop", "jukestudio.svg")
# The two licenses, in the order the installer's license page and the bundle's LICENSES.txt show them.
LICENSE_PARTS = (
    ("jukestudio (the program)", REPO / "LICENSE"),
    (
        "Jukebox artist/genre tables in jukestudio/resources/vocab, and the Jukebox model weights you import",
        REPO / "resources" / "vocab" / "LICENSE",
    ),
)


def project_version() -> str:
    """The package version, from pyproject.toml (the source of the installed package's metadata)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: a plain match on the [project] table's version line
        project = text.split("[project]", 1)[1].split("\n[", 1)[0]
        match = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
        if not match:
            raise SystemExit("pyproject.toml: no version in the [project] table") from None
        return match.group(1)
    return tomllib.loads(text)["project"]["version"]


def numeric_version(version: str) -> str:
    """Windows file versions are four numbers: "0.1.0" -> "0.1.0.0", "1.2rc1" -> "1.2.0.0"."""
    release = re.match(r"\d+(?:\.\d+)*", version)
    parts = release.group(0).split(".") if release else []
    return ".".join((parts + ["0"] * 4)[:4])


def combined_license_text() -> str:
    """Our license, then the Jukebox Noncommercial Use License, each under a heading."""
    sections = []
    for title, path in LICENSE_PARTS:
        body = path.read_text(encoding="utf-8").strip()
        sections.append(f"{title}\n{'=' * len(title)}\n\n{body}\n")
    rule = "\n" + "-" * 78 + "\n\n"
    return rule.join(sections)


def write_licenses(folder: Path) -> Path:
    """Write LICENSES.txt into ``folder``: UTF-8 with a BOM and CRLF, what NSIS and Notepad read right."""
    target = folder / LICENSES_NAME
    text = combined_license_text().replace("\r\n", "\n").replace("\n", "\r\n")
    atomic_write_bytes(target, b"\xef\xbb\xbf" + text.encode("utf-8"))
    return target


def _nsis_path(relative: Path) -> str:
    # `$` starts an NSIS variable; `$$` is a literal dollar sign.
    return "$INSTDIR\\" + str(relative).replace("/", "\\").replace("$", "$$")


def uninstall_commands(bundle_dir: Path) -> str:
    """NSIS commands deleting exactly the bundle's files, then its folders if they became empty.

    The uninstaller removes what was installed and nothing else: never ``RMDir /r``, so a user who
    installs into a folder holding their own files (projects, model store) keeps them.
    """
    files, folders = [], []
    for path in sorted(bundle_dir.rglob("*")):
        relative = path.relative_to(bundle_dir)
        (folders if path.is_dir() else files).append(relative)
    lines = ["; Generated by packaging/build.py from the bundle folder; do not edit."]
    lines += [f'Delete "{_nsis_path(p)}"' for p in files]
    # Deepest first, so a parent is only tried once its children are gone. Plain RMDir only removes
    # an empty folder.
    lines += [f'RMDir "{_nsis_path(p)}"' for p in sorted(folders, key=lambda p: len(p.parts), reverse=True)]
    return "\n".join(lines) + "\n"


def makensis_command(bundle_dir: Path, out_file: Path, uninstall_list: Path, makensis: str = "makensis") -> list[str]:
    version = project_version()
    defines = {
        "BUNDLE_DIR": str(bundle_dir),
        "VERSION": version,
        "VERSION_NUMERIC": numeric_version(version),
        "UNINSTALL_LIST": str(uninstall_list),
        "OUTFILE": str(out_file),
    }
    return [makensis, "-V2", "-WX", *(f"-D{key}={value}" for key, value in defines.items()), str(NSI)]


def build_installer(bundle_dir: Path, out_dir: Path, makensis: str = "makensis") -> Path:
    """Compile installer.nsi against ``bundle_dir``; returns the setup .exe."""
    bundle_dir, out_dir = bundle_dir.resolve(), out_dir.resolve()
    for program in (f"{APP_NAME}.exe", f"{APP_NAME}-cli.exe"):
        if not (bundle_dir / program).is_file():
            raise SystemExit(f"{bundle_dir}: no {program}; the installer needs a Windows bundle folder")
    tool = shutil.which(makensis)
    if tool is None:
        raise SystemExit(f"{makensis} not found: install NSIS 3 (Windows) or the 'nsis' package (Debian/Ubuntu)")
    write_licenses(bundle_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    uninstall_list = out_dir / "uninstall_files.nsh"
    # A BOM tells makensis the include is UTF-8 (file names may not be ASCII).
    atomic_write_bytes(uninstall_list, b"\xef\xbb\xbf" + uninstall_commands(bundle_dir).encode("utf-8"))
    out_file = out_dir / f"{APP_NAME}-{project_version()}-setup.exe"
    subprocess.run(makensis_command(bundle_dir, out_file, uninstall_list, tool), check=True)
    return out_file


def torch_build() -> str:
    """The torch wheel in this environment, e.g. "2.13.0+cpu" or "2.13.0+cu128" (no import needed)."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        raise SystemExit("torch is not installed in this environment; install it first (docs/packaging.md)") from None


def is_cuda_build(version: str) -> bool:
    # Windows CUDA wheels carry a "+cuXYZ" local label; CPU wheels "+cpu". (Linux wheels from PyPI
    # have no label and bundle CUDA libraries as separate nvidia-* packages.)
    local = version.partition("+")[2]
    if local:
        return local.startswith("cu")
    return any(name.startswith("nvidia-cuda-runtime") for name in _installed_distributions())


def _installed_distributions() -> set[str]:
    return {(dist.metadata["Name"] or "").lower() for dist in metadata.distributions()}


def build_bundle(dist_dir: Path, work_dir: Path, *, require_cuda: bool = False, clean: bool = False) -> Path:
    torch_version = torch_build()
    cuda = is_cuda_build(torch_version)
    print(f"torch in the build environment: {torch_version} ({'CUDA' if cuda else 'CPU only'})")
    if require_cuda and not cuda:
        raise SystemExit("--require-cuda: this environment has a CPU-only torch; install the CUDA wheel first")
    if sys.platform == "win32" and not cuda:
        print("warning: building a Windows bundle with CPU-only torch (see docs/packaging.md for CUDA)")
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    command += ["--distpath", str(dist_dir), "--workpath", str(work_dir)]
    if clean:
        command.append("--clean")
    started = time.monotonic()
    # PyInstaller imports every torch submodule to find hidden imports; their deprecation notices
    # would bury the build's own warnings.
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    subprocess.run([*command, str(SPEC)], check=True, cwd=REPO, env=env)
    bundle_dir = dist_dir / APP_NAME
    write_licenses(bundle_dir)
    if sys.platform.startswith("linux"):
        add_linux_files(bundle_dir)
    print(f"PyInstaller took {time.monotonic() - started:.0f} s")
    return bundle_dir


def add_linux_files(bundle_dir: Path) -> None:
    """Ship the menu entry, icon and per-user install script inside a Linux bundle folder."""
    for name in LINUX_FILES:
        source = REPO / "packaging" / "linux" / name
        atomic_write_bytes(bundle_dir / name, source.read_bytes())
        (bundle_dir / name).chmod(source.stat().st_mode & 0o777)


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="where the bundle goes (default: dist/)")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "pyinstaller", help="PyInstaller's work folder")
    parser.add_argument("--clean", action="store_true", help="clear PyInstaller's cache first")
    parser.add_argument("--installer", action="store_true", help="also build the NSIS installer (Windows bundle)")
    parser.add_argument("--require-cuda", action="store_true", help="fail unless torch here is a CUDA build")
    parser.add_argument("--makensis", default="makensis", help="the makensis program (default: from PATH)")
    commands = parser.add_subparsers(dest="command")
    installer = commands.add_parser("installer", help="only compile installer.nsi against a bundle folder")
    installer.add_argument("--bundle-dir", type=Path, required=True)
    installer.add_argument("--out-dir", type=Path, default=REPO / "dist")
    args = parser.parse_args(argv)

    if args.command == "installer":
        setup = build_installer(args.bundle_dir, args.out_dir, args.makensis)
        print(f"installer: {setup} ({setup.stat().st_size / 1e6:.1f} MB)")
        return 0

    bundle_dir = build_bundle(
        args.dist.resolve(), args.work.resolve(), require_cuda=args.require_cuda, clean=args.clean
    )
    suffix = ".exe" if sys.platform == "win32" else ""
    print(f"bundle: {bundle_dir} ({folder_size(bundle_dir) / 1e6:.0f} MB)")
    print(f"  window:       {bundle_dir / (APP_NAME + suffix)}")
    print(f"  command line: {bundle_dir / (APP_NAME + '-cli' + suffix)}")
    if args.installer:
        setup = build_installer(bundle_dir, args.dist, args.makensis)
        print(f"installer: {setup} ({setup.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
