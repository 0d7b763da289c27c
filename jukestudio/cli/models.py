"""`jukestudio-cli models ...`: import weights into the model store, list and verify entries.

Exit codes: 0 fine, 1 a problem with the weights or the store (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from jukestudio.model.config import PRESETS, ConfigError

if TYPE_CHECKING:
    from jukestudio.model.weights.catalog import ModelInfo

# The weights modules import torch and the model: loaded in the handlers, so `--help` stays quick.

EXIT_OK, EXIT_PROBLEM = 0, 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `models` command group."""
    models = commands.add_parser("models", help="import, list and verify models in the model store")
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    imp = sub.add_parser(
        "import",
        help="convert an HF model folder or the original OpenAI .pth.tar files into the store",
        description="Convert weights once into the store. PATH is an HF Jukebox folder (config.json + "
        "model.safetensors / pytorch_model.bin), or original files such as vqvae.pth.tar and "
        "prior_level_{0,1,2}.pth.tar (or a folder holding them). Files are read without running code.",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument("--name", help="name in the store (default: the matched preset or the folder name)")
    imp.add_argument("--preset", choices=sorted(n for n in PRESETS if n != "demo"), help="require this architecture")
    imp.add_argument("--overwrite", action="store_true", help="replace an existing entry of that name")
    imp.set_defaults(handler=_import)

    lst = sub.add_parser("list", help="list the models in the store")
    lst.set_defaults(handler=_list)

    ver = sub.add_parser("verify", help="recompute checksums and check a stored model's weights")
    ver.add_argument("name")
    ver.set_defaults(handler=_verify)


def _import(args: argparse.Namespace) -> int:
    from jukestudio.model.weights.errors import CheckpointError
    from jukestudio.model.weights.store import StoreError, import_model

    def progress(fraction: float, message: str) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{message}: {fraction:4.0%}")
            sys.stderr.flush()

    try:
        info = import_model(args.paths, name=args.name, progress=progress, expect=args.preset, overwrite=args.overwrite)
    except (CheckpointError, StoreError, ConfigError) as exc:
        sys.stderr.write(f"\nimport failed: {exc}\n" if sys.stderr.isatty() else f"import failed: {exc}\n")
        return EXIT_PROBLEM
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"imported {info.name}: {_describe(info)}")
    print(f"  stored in {info.path}")
    return EXIT_OK


def _describe(info: ModelInfo) -> str:
    if info.problem:
        return f"BROKEN ({info.problem.splitlines()[0]})"
    parts = "all parts" if info.complete else f"only {', '.join(info.components) or 'nothing'}"
    flags = [
        info.preset or "custom",
        parts,
        f"{info.size_bytes / 1e9:.2f} GB" if info.size_bytes > 1e8 else f"{info.size_bytes / 1e6:.1f} MB",
    ]
    if info.untrained:
        flags.append("UNTRAINED (random weights, produces noise)")
    return ", ".join(flags)


def _list(args: argparse.Namespace) -> int:
    from jukestudio.model.weights.catalog import list_models

    models = list_models()
    if not models:
        print("no models in the store yet: `jukestudio-cli models import PATH...`")
        return EXIT_OK
    width = max(len(m.name) for m in models)
    for info in models:
        print(f"{info.name:<{width}}  {_describe(info)}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from jukestudio.model.weights.store import StoreError, verify_model

    try:
        problems = verify_model(args.name)
    except StoreError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_PROBLEM
    if problems:
        sys.stderr.write(f"{args.name}: {len(problems)} problem(s)\n")
        for problem in problems:
            sys.stderr.write(f"  {problem}\n")
        return EXIT_PROBLEM
    print(f"{args.name}: OK (checksums and weights match)")
    return EXIT_OK
