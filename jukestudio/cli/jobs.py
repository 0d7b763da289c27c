"""`jukestudio-cli compose|continue|upsample|resume|export PROJECT_DIR ...`: sampling jobs without a window.

The same project folders and job folders as the GUI. Progress goes to stderr as a text bar with the
measured speed and ETA. Ctrl+C cancels cleanly at the next sampled token (finished windows are
kept; `resume` continues); a second Ctrl+C stops at once (the last saved window is still there).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from jukestudio.bundled_model import BUNDLED_NAME
from jukestudio.engine.progress import Cancelled, CancelToken, Progress

EXIT_CANCELLED = 130


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sampling job commands."""
    compose = commands.add_parser(
        "compose", help="sample new takes (from nothing or from a prompt)", description=_doc("compose")
    )
    _project_arg(compose)
    compose.add_argument("--takes", type=int, help="how many takes side by side (default: project setting)")
    compose.add_argument("--seconds", type=float, help="take length in seconds (default: project setting)")
    compose.add_argument("--prompt", type=Path, help="audio file to continue (encoded at every level)")
    compose.add_argument("--upsample", action="store_true", help="also run both upsamplers (full quality)")
    _new_project_args(compose)
    _run_args(compose)
    _compile_arg(compose)
    compose.set_defaults(handler=_compose)

    cont = commands.add_parser("continue", help="extend a take into variations", description=_doc("continue"))
    _project_arg(cont)
    cont.add_argument("take", help="id of the take to continue")
    cont.add_argument("--variations", type=int, help="how many variations (default: project's takes)")
    cont.add_argument("--seconds", type=float, help="seconds to add (default: project's take length)")
    _run_args(cont)
    _compile_arg(cont)
    cont.set_defaults(handler=_continue)

    up = commands.add_parser("upsample", help="upsample takes to full quality", description=_doc("upsample"))
    _project_arg(up)
    up.add_argument("takes", nargs="+", help="ids of the takes (same length) to upsample together")
    up.add_argument("--region", nargs=2, type=float, metavar=("START_S", "END_S"), help="only this time region")
    up.add_argument("--levels", default="1,2", help="prior levels to sample (default 1,2 = both upsamplers)")
    _run_args(up)
    _compile_arg(up)
    up.set_defaults(handler=_upsample)

    resume = commands.add_parser("resume", help="finish jobs a closed or killed run left", description=_doc("resume"))
    _project_arg(resume)
    resume.add_argument("job", nargs="?", help="job id (default: every queued or running job)")
    _run_args(resume, seed=False)
    resume.set_defaults(handler=_resume)

    export = commands.add_parser("export", help="write a take as a WAV file", description=_doc("export"))
    _project_arg(export)
    export.add_argument("take", help="id of the take")
    export.add_argument("--level", type=int, help="prior level to decode (default: the best finished one)")
    export.add_argument("-o", "--output", type=Path, help="WAV file (default: PROJECT_DIR/exports/<take>.wav)")
    export.add_argument("--normalise", action="store_true", help="scale the peak to -1 dBFS")
    export.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    export.set_defaults(handler=_export)


def _doc(command: str) -> str:
    return {
        "compose": "Sample new takes into the project. Creates the project when --model is given and the folder "
        "has none.",
        "continue": "Extend a take by some seconds into several variations (new child takes).",
        "upsample": "Run the upsamplers on chosen takes (levels 1 and 0 of the original), optionally a region.",
        "resume": "Continue unfinished jobs exactly where they stopped (same codes as an uninterrupted run).",
        "export": "Decode a take and write it as a WAV file with a JSON sidecar.",
    }[command]


def _project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT_DIR", help="the project folder")


def _new_project_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("new project (when PROJECT_DIR has none)")
    group.add_argument(
        "--model",
        default=BUNDLED_NAME,
        help=f"model name in the store, or a model folder (default: {BUNDLED_NAME}, shipped with jukestudio)",
    )
    group.add_argument("--artist", default="unknown")
    group.add_argument("--genre", action="append", dest="genres", help="genre (repeat for several)")
    group.add_argument("--lyrics", default="", help="lyrics text")
    group.add_argument("--lyrics-file", type=Path, help="read the lyrics from a UTF-8 text file")
    group.add_argument("--total-seconds", type=float, help="declared length of the whole song")


def _run_args(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    if seed:
        parser.add_argument("--seed", type=int, help="random seed (same seed ⇒ same codes)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    parser.add_argument("--threads", type=int, help="CPU threads for PyTorch")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _compile_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compile",
        action="store_true",
        help="on CUDA, run the per-token step through torch.compile with CUDA graphs (slow first window; "
        "ignored with a warning on CPU)",
    )


# ---------------------------------------------------------------------- commands


def _compose(args: argparse.Namespace) -> int:
    from jukestudio.engine import takes

    project = _open_or_create(args)
    model = _load_model(project.settings.model, args)
    prompt = None
    if args.prompt is not None:
        import torch

        from jukestudio.audio.io import load_prompt

        audio = torch.from_numpy(load_prompt(args.prompt)).reshape(1, -1, 1)
        prompt = model.encode_prompt(audio.to(_device_of(model.vqvae)))
    state = takes.create_compose(
        project,
        model.config,
        n_takes=args.takes,
        seconds=args.seconds,
        prompt_codes=prompt,
        levels=(0, 1, 2) if args.upsample else (0,),
        seed=args.seed,
        device=args.device,
        compile=args.compile,
    )
    return _run(project, model, [state.folder], args)


def _continue(args: argparse.Namespace) -> int:
    from jukestudio.engine import takes

    project = _open(args.project)
    model = _load_model(project.settings.model, args)
    state = takes.create_continue(
        project, model.config, args.take, n_variations=args.variations, seconds=args.seconds, seed=args.seed,
        device=args.device, compile=args.compile,
    )  # fmt: skip
    return _run(project, model, [state.folder], args)


def _upsample(args: argparse.Namespace) -> int:
    from jukestudio.engine import takes

    project = _open(args.project)
    model = _load_model(project.settings.model, args)
    levels = tuple(int(x) for x in args.levels.split(","))
    state = takes.create_upsample(
        project, model.config, args.takes, region_s=tuple(args.region) if args.region else None, levels=levels,
        seed=args.seed, device=args.device, compile=args.compile,
    )  # fmt: skip
    return _run(project, model, [state.folder], args)


def _resume(args: argparse.Namespace) -> int:
    from jukestudio.engine.state import RESUMABLE, jobs_dir, read_job_info, unfinished_jobs

    project = _open(args.project)
    if args.job:
        folder = jobs_dir(project.folder) / args.job
        status = read_job_info(folder)["status"]
        if status not in RESUMABLE:
            sys.stderr.write(f"job {args.job} is {status}; nothing to resume\n")
            return 0
        ids = [args.job]
    else:
        ids = unfinished_jobs(project.folder)
        if not ids:
            sys.stderr.write("no unfinished jobs in this project\n")
            return 0
    model = _load_model(project.settings.model, args)
    return _run(project, model, [jobs_dir(project.folder) / i for i in ids], args)


def _export(args: argparse.Namespace) -> int:
    from jukestudio.audio.export import export_wav
    from jukestudio.engine.takes import preview_take

    project = _open(args.project)
    take = project.take(args.take)
    level = args.level if args.level is not None else take.best_level
    if level is None:
        sys.stderr.write(f"take {take.id} has no finished level to export\n")
        return 1
    model = _load_model(project.settings.model, args, components=("vqvae",))
    audio = preview_take(project, model, take.id, level)
    out = args.output or project.folder / "exports" / f"{take.id}.wav"
    sidecar = project.export_metadata(take.id)
    sidecar["prior_level"] = level
    export_wav(out, audio, normalise=args.normalise, sidecar=sidecar)
    sys.stderr.write(f"wrote {out}\n")
    return 0


# ---------------------------------------------------------------------- helpers


def _open(folder: Path) -> Any:
    from jukestudio.project import Project

    return Project.open(folder)


def _open_or_create(args: argparse.Namespace) -> Any:
    from jukestudio.project import Project, ProjectSettings
    from jukestudio.project.store import PROJECT_FILE

    if (args.project / PROJECT_FILE).exists():
        return Project.open(args.project)
    if not args.model:
        raise SystemExit(f"{args.project}: not a project yet; give --model (and --artist, --genre, --lyrics)")
    lyrics = args.lyrics_file.read_text(encoding="utf-8") if args.lyrics_file else args.lyrics
    settings = ProjectSettings(model=args.model, artist=args.artist, genres=list(args.genres or []), lyrics=lyrics)
    if args.total_seconds:
        settings.total_length_s = args.total_seconds
    if args.takes:
        settings.n_takes = args.takes
    if args.seconds:
        settings.take_length_s = args.seconds
    return Project.create(args.project, settings)


def _load_model(name: str, args: argparse.Namespace, components: tuple[str, ...] | None = None) -> Any:
    import torch

    from jukestudio.model.weights.loader import load_model

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    sys.stderr.write(f"loading {name} ...\n")
    return load_model(name, components)


def _device_of(module: Any) -> Any:
    import torch

    return next(iter(module.parameters()), torch.zeros(0)).device


def _run(project: Any, model: Any, folders: list[Path], args: argparse.Namespace) -> int:
    from jukestudio.engine.jobs import run_job

    token = CancelToken()
    bar = ProgressBar(sys.stderr, quiet=getattr(args, "quiet", False))
    with _cancel_on_sigint(token):
        for folder in folders:
            try:
                result = run_job(folder, model=model, report=bar, cancel=token, device=args.device, project=project)
            except Cancelled:
                bar.close()
                sys.stderr.write(
                    f"cancelled; finished windows are saved. Resume with: jukestudio-cli resume {project.folder} "
                    f"{folder.name}\n"
                )
                return EXIT_CANCELLED
            bar.close()
            sys.stdout.write(f"{result.job_id} done: takes {' '.join(result.take_ids)}\n")
    return 0


@contextmanager
def _cancel_on_sigint(token: CancelToken) -> Iterator[None]:
    """First Ctrl+C sets the token (a clean cancel); a second one interrupts at once."""
    if not _is_main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        sys.stderr.write("\ncancelling at the next step (Ctrl+C again to stop at once) ...\n")
        token.cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class ProgressBar:
    """A one-line text bar on a stream: level, window, percent, tokens/s, ETA (at most 10 updates/s)."""

    def __init__(self, stream: TextIO, width: int = 30, quiet: bool = False) -> None:
        self.stream, self.width, self.quiet = stream, width, quiet
        self._last = 0.0
        self._length = 0
        self._open = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if self.quiet or (now - self._last < 0.1 and not p.is_final and not p.message):
            return
        self._last = now
        filled = round(p.fraction * self.width)
        eta = _clock(p.eta_s) if p.eta_s is not None else "--:--"
        line = (
            f"\r[level {p.level} window {min(p.window + 1, p.n_windows)}/{p.n_windows}] "
            f"{'#' * filled}{'.' * (self.width - filled)} {p.fraction * 100:5.1f}% "
            f"{p.tokens_per_s:7.1f} tok/s ETA {eta}"
        )
        if p.message and p.message not in ("starting", "resuming", "done"):
            line += f"  {p.message}"
        self.stream.write(line.ljust(self._length))  # blank what a longer previous line left
        self.stream.flush()
        self._length = len(line)
        self._open = True

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
            self._length = 0


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
