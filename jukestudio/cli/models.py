"""`jukestudio-cli models ...`: download or import weights into the model store, list and verify entries.

Exit codes: 0 fine, 1 a problem with the weights or the store (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from jukestudio.cli.progress_line import ProgressLine
from jukestudio.model.config import PRESETS, ConfigError

if TYPE_CHECKING:
    from jukestudio.model.weights.catalog import ModelInfo

# The weights modules import torch and the model: loaded in the handlers, so `--help` stays quick.

EXIT_OK, EXIT_PROBLEM = 0, 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `models` command group."""
    models = commands.add_parser("models", help="download, import, list and verify models in the model store")
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

    dl = sub.add_parser(
        "download",
        help="download a Jukebox model from the Hugging Face Hub and convert it into the store",
        description="Download REPO_ID (e.g. openai/jukebox-1b-lyrics) with progress, check every file against the "
        "Hub's sha256 and convert it into the store. Run the same command again after a cancel, a crash or a "
        "kill: it resumes where it stopped. Honours HF_ENDPOINT (a mirror), HF_TOKEN, HF_HOME and HF_HUB_OFFLINE.",
    )
    dl.add_argument("repo_id", metavar="REPO_ID", help="OWNER/NAME on the Hub, e.g. openai/jukebox-1b-lyrics")
    dl.add_argument("--revision", help="branch, tag or commit (default: main)")
    dl.add_argument("--name", help="name in the store (default: the repo's name)")
    dl.add_argument(
        "--dtype",
        choices=("fp32", "fp16"),
        default="fp32",
        help="how to store the weights: fp32 (exact, default) or fp16 (transformer matrices in half precision, "
        "the rest fp32: about half the disk; what the GPU runs anyway)",
    )
    dl.add_argument("--accept-license", action="store_true", help="accept the model's license (it is shown)")
    dl.add_argument("--keep-cache", action="store_true", help="keep the downloaded files after converting")
    dl.add_argument("--overwrite", action="store_true", help="replace an existing store entry of that name")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(handler=_download)

    cat = sub.add_parser("catalogue", help="list the known Jukebox models on the Hub with their sizes")
    cat.set_defaults(handler=_catalogue)

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


def _catalogue(args: argparse.Namespace) -> int:
    from jukestudio.hub.catalogue import KNOWN
    from jukestudio.hub.download import human_bytes

    for e in KNOWN:
        print(f"{e.repo_id}  {e.title}: {e.note}")
        print(
            f"    download {human_bytes(e.download_bytes)}, on disk {human_bytes(e.store_bytes_fp32)} (fp32) or "
            f"{human_bytes(e.store_bytes_fp16)} (fp16), GPU {e.gpu_memory}, license: {e.license_name}"
        )
    print("any other Jukebox repo: jukestudio-cli models download OWNER/NAME")
    return EXIT_OK


def _ask_yes(question: str, default: bool) -> bool:
    if not sys.stdin.isatty():
        return default
    answer = input(f"{question} [{'Y/n' if default else 'y/N'}] ").strip().lower()
    return default if not answer else answer in ("y", "yes")


def _download(args: argparse.Namespace) -> int:
    from jukestudio.cli.jobs import _cancel_on_sigint
    from jukestudio.engine.progress import Cancelled, CancelToken
    from jukestudio.hub import catalogue, install
    from jukestudio.hub.download import DownloadError, human_bytes
    from jukestudio.model.weights.errors import CheckpointError
    from jukestudio.model.weights.store import StoreError

    try:
        plan = install.plan(args.repo_id, args.revision, store_dtype=args.dtype, name=args.name)
        known = catalogue.known(args.repo_id)
        print(
            f"{plan.repo.repo_id} @ {plan.repo.commit[:12]}: {len(plan.files)} files, "
            f"{human_bytes(plan.download_bytes)} to download"
            + (f" ({human_bytes(plan.missing_bytes)} left)" if plan.missing_bytes < plan.download_bytes else "")
            + f", about {human_bytes(plan.store_bytes)} in the store as {plan.name} ({plan.store_dtype})"
            + (f", GPU {known.gpu_memory}" if known else "")
        )
        if not catalogue.is_accepted(plan.repo.repo_id, plan.license_name):
            if known is not None:
                print(catalogue.license_text().rstrip())
            print(f"\nThis model is licensed under: {plan.license_name}.")
            accepted = args.accept_license or (
                sys.stdin.isatty() and input("Do you accept this license? Type 'yes': ").strip().lower() == "yes"
            )
            if not accepted:
                sys.stderr.write(
                    f"download not started: accept the license of {plan.repo.repo_id} first (--accept-license)\n"
                )
                return EXIT_PROBLEM
            catalogue.accept(plan.repo.repo_id, plan.license_name)
        install.check_disk(plan)
        token = CancelToken()
        bar = DownloadBar(sys.stderr, quiet=args.quiet)
        with _cancel_on_sigint(token):
            try:
                info = install.run(plan, bar, token, overwrite=args.overwrite)
            finally:
                bar.close()
    except Cancelled:
        sys.stderr.write(f"cancelled; run the same command again to resume ({args.repo_id})\n")
        return 130
    except (DownloadError, CheckpointError, StoreError) as exc:
        sys.stderr.write(f"download failed: {str(exc).splitlines()[0]}\n")
        return EXIT_PROBLEM
    print(f"downloaded {info.name}: {_describe(info)}")
    print(f"  stored in {info.path}")
    if not args.keep_cache and _ask_yes(
        f"Delete the downloaded files ({human_bytes(plan.download_bytes)} in {plan.folder})? The store keeps it.",
        True,
    ):
        freed = install.delete_download(plan)
        print(f"deleted the download cache ({human_bytes(freed)})")
    else:
        print(f"kept the downloaded files in {plan.folder}")
    return EXIT_OK


class DownloadBar(ProgressLine):
    """The download bar: file, percent, bytes, speed, ETA."""

    def line(self, p: Any) -> str:
        from jukestudio.hub.download import human_bytes, human_duration

        head = f"[file {min(p.window + 1, p.n_windows)}/{p.n_windows}] " if p.tokens_total else ""
        line = f"{head}{self.bar(p.fraction)}"
        if p.tokens_total:
            line += f" {human_bytes(p.tokens_done)} / {human_bytes(p.tokens_total)}"
            if p.tokens_per_s > 0:
                line += f"  {human_bytes(p.tokens_per_s)}/s"
            if p.eta_s is not None:
                line += f"  ETA {human_duration(p.eta_s)}"
        else:
            line += f"  {p.message}"
        return line
