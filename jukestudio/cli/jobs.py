"""`jukestudio-cli compose|continue|upsample|resume|export PROJECT_DIR ...`: sampling jobs without a window.

The same project folders and job folders as the GUI. Progress goes to stderr as a text bar with the
measured speed and ETA. Ctrl+C cancels cleanly at the next sampled token (finished windows are
kept; `resume` continues); a second Ctrl+C stops at once (the last saved window is still there).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from jukestudio import limits
from jukestudio.bundled_model import BUNDLED_NAME
from jukestudio.cli import arguments as typed
from jukestudio.cli import checks
from jukestudio.cli.progress_line import ProgressLine
from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.engine.state import RESUMABLE, UNFINISHED, read_jobs
from jukestudio.levels import LEVEL_KEYS, level_label, parse_level, parse_levels
from jukestudio.os_errors import describe_os_error

EXIT_CANCELLED = 130


def register(commands: argparse._SubParsersAction) -> None:
    """Add the sampling job commands."""
    compose = commands.add_parser(
        "compose", help="sample new takes (from nothing or from a prompt)", description=_doc("compose")
    )
    _project_arg(compose)
    compose.add_argument(
        "--takes", type=typed.take_count, help="how many takes side by side (default: project setting)"
    )
    compose.add_argument(
        "--seconds",
        type=typed.seconds,
        help="seconds to sample (default: project setting); with --prompt they follow the prompt, so a take "
        "lasts the prompt plus these seconds",
    )
    compose.add_argument("--prompt", type=Path, help="audio file to continue (encoded at every level)")
    compose.add_argument("--upsample", action="store_true", help="also sample Middle and Full quality")
    _project_settings_args(compose)
    _sampling_args(compose)
    _run_args(compose)
    _compile_arg(compose)
    _fast_preview_arg(compose)
    compose.set_defaults(handler=_compose)

    cont = commands.add_parser("continue", help="extend a take into variations", description=_doc("continue"))
    _project_arg(cont)
    cont.add_argument("take", type=typed.take_id, help="id of the take to continue")
    cont.add_argument("--variations", type=typed.take_count, help="how many variations (default: project's takes)")
    cont.add_argument("--seconds", type=typed.seconds, help="seconds to add (default: project's take length)")
    _strict_arg(cont)
    _sampling_args(cont)
    _run_args(cont)
    _compile_arg(cont)
    _fast_preview_arg(cont)
    cont.set_defaults(handler=_continue)

    up = commands.add_parser("upsample", help="upsample takes to Full quality", description=_doc("upsample"))
    _project_arg(up)
    up.add_argument("takes", nargs="+", type=typed.take_id, help="ids of the takes (same length) to upsample together")
    up.add_argument(
        "--region", nargs=2, type=typed.time_point, metavar=("START_S", "END_S"), help="only this time region"
    )
    up.add_argument(
        "--levels",
        default="middle,full",
        help="qualities to sample: middle, full or middle,full (default); Full quality is made from the Middle",
    )
    _strict_arg(up)
    _sampling_args(up)
    _run_args(up)
    _compile_arg(up)
    up.set_defaults(handler=_upsample)

    resume = commands.add_parser("resume", help="finish jobs a closed or killed run left", description=_doc("resume"))
    _project_arg(resume)
    resume.add_argument(
        "job", nargs="?", help="job id (default: every queued or running job, and cancelled ones with saved windows)"
    )
    _run_args(resume, seed=False)
    resume.set_defaults(handler=_resume)

    export = commands.add_parser("export", help="write a take as a WAV file", description=_doc("export"))
    _project_arg(export)
    export.add_argument("take", type=typed.take_id, help="id of the take")
    export.add_argument("--level", help="quality to decode: preview, middle or full (default: the best finished one)")
    export.add_argument("-o", "--output", type=Path, help="WAV file (default: PROJECT_DIR/exports/<take>.wav)")
    export.add_argument("--normalise", action="store_true", help="scale the peak to -1 dBFS")
    export.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    export.set_defaults(handler=_export)


def _doc(command: str) -> str:
    return {
        "compose": "Sample new takes into the project (Preview quality; with --upsample also Middle and Full). "
        "Creates the project when --model is given and the folder has none; on an existing project the project "
        "flags (--model, --artist, --genre, --lyrics, --lyrics-file, --total-seconds) change its settings.",
        "continue": "Extend a take by some seconds into several variations (new child takes).",
        "upsample": "Sample the Middle and Full quality of chosen takes (the upsamplers), optionally a region.",
        "resume": "Continue unfinished jobs exactly where they stopped (same codes as an uninterrupted run).",
        "export": "Decode a take and write it as a WAV file with a JSON sidecar.",
    }[command]


def _project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", type=Path, metavar="PROJECT_DIR", help="the project folder")


def _project_settings_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "project settings (a new project starts with them; on an existing one they change its settings)"
    )
    group.add_argument(
        "--model",
        help=f"model name in the store, or a model folder (a new project: {BUNDLED_NAME}, shipped with jukestudio)",
    )
    group.add_argument("--artist", type=typed.text(what="--artist"), help="artist to condition on (default: unknown)")
    group.add_argument(
        "--genre", type=typed.text(what="--genre"), action="append", dest="genres", help="genre (repeat for several)"
    )
    group.add_argument("--lyrics", type=typed.text(limits.MAX_LYRICS_CHARS, "--lyrics"), help="lyrics text")
    group.add_argument("--lyrics-file", type=Path, help="read the lyrics from a UTF-8 text file")
    group.add_argument("--total-seconds", type=typed.seconds, help="declared length of the whole song")
    _strict_arg(parser)


def _strict_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse to sample when the model does not know the artist or a genre, or drops or rewrites lyric "
        "characters (these are printed as notes otherwise)",
    )


def _run_args(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    if seed:
        parser.add_argument("--seed", type=typed.seed, help="random seed (same seed ⇒ same codes)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    parser.add_argument("--threads", type=typed.threads, help="CPU threads for PyTorch")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _sampling_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampling filters (default: the project's settings)")
    group.add_argument("--top-k", type=int, metavar="K", help="draw only from the K most likely tokens (0 = off)")
    group.add_argument("--top-p", type=float, metavar="P", help="draw only from the most likely tokens reaching P")


def _job_settings(settings: Any, args: argparse.Namespace) -> Any:
    """The project's settings with this command's filters; recorded in the job and its takes (the
    project's own settings are left as they are)."""
    changes = {k: v for k, v in (("top_k", args.top_k), ("top_p", args.top_p)) if v is not None}
    if getattr(args, "fast_preview", False):
        changes["fast_preview"] = True
    try:
        return settings.copy(**changes)
    except ValueError as exc:
        raise checks.UsageError(str(exc)) from None


def _compile_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compile",
        action="store_true",
        help="on CUDA, capture the per-token step once per window shape as a CUDA graph and replay it "
        "(ignored with a warning on CPU)",
    )


def _fast_preview_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fast-preview",
        action="store_true",
        default=None,
        help="on CPU, sample the top level with int8 weights: faster, near-identical (default: project "
        "setting; upsampling stays full precision)",
    )


# ---------------------------------------------------------------------- commands
# Every command checks its arguments, paths, ids and the project first (no torch), then the device,
# and only then creates anything or loads a model.


def _run_checks(args: argparse.Namespace) -> None:
    checks.device_syntax(args.device)
    checks.count(getattr(args, "threads", None), "--threads", most=1024)
    if getattr(args, "seed", None) is not None and not 0 <= args.seed < 2**63:
        raise checks.UsageError(f"--seed must be a whole number ≥ 0, got {args.seed}")


def _compose(args: argparse.Namespace) -> int:
    _run_checks(args)
    checks.count(args.takes, "--takes")
    checks.positive(args.seconds, "--seconds")
    checks.positive(args.total_seconds, "--total-seconds")
    checks.existing_file(args.prompt, "--prompt")
    project, settings, changes = _project_for_compose(args)
    job_settings = _job_settings(settings, args)  # filters checked before anything is created
    prompt = None
    if args.prompt is not None:  # a path is checked before the model: a bad file fails fast, creates nothing
        from jukestudio.audio.io import load_prompt

        # only the span a prompt can use is decoded: a 30-minute file costs what its first minute costs
        prompt = load_prompt(args.prompt, max_duration_s=min(limits.MAX_PROMPT_S, settings.total_length_s))
    config = checks.model_config(settings.model)
    checks.conditioning(config, settings, args.strict)
    levels = (0, 1, 2) if args.upsample else (0,)
    checks.check_durations(config, settings, args.seconds, checks.prompt_tokens(args.prompt, config), levels)
    checks.check_device(args.device)

    if project is None:
        project = _create_project(args.project, settings)
    elif changes:
        _update_settings(project, changes)
    from jukestudio.engine import jobs

    model = _load_model(settings.model, args)
    state = jobs.create_compose(
        project,
        model,
        n_takes=args.takes,
        seconds=args.seconds,
        prompt=prompt,
        prompt_name=args.prompt.name if args.prompt is not None else "prompt",
        levels=levels,
        seed=args.seed,
        device=args.device,
        compile=args.compile,
        settings=job_settings,
    )
    return _run(project, {settings.model: model}, [state.folder], args)


def _project_for_compose(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(the open project or None, the settings to sample with, the settings the flags change)."""
    from jukestudio.project import ProjectSettings
    from jukestudio.project.store import PROJECT_FILE

    changes = checks.settings_changes(args)
    if (args.project / PROJECT_FILE).exists():
        project = _open(args.project)
        current = project.settings
        changes = {k: v for k, v in changes.items() if getattr(current, k) != v}
        return project, _settings_with(current, changes), changes
    if args.project.exists() and (not args.project.is_dir() or any(args.project.iterdir())):
        raise checks.UsageError(f"{args.project}: not a project and not empty; give a new or empty folder")
    changes.setdefault("model", BUNDLED_NAME)  # a new project composes with the shipped model by default
    fresh = {"n_takes": args.takes, "take_length_s": args.seconds}
    return None, _settings_with(ProjectSettings(), {**changes, **{k: v for k, v in fresh.items() if v}}), changes


def _settings_with(settings: Any, changes: dict[str, Any]) -> Any:
    try:
        return settings.copy(**changes)
    except ValueError as exc:
        flags = [f for key, f in checks.FLAG_OF_SETTING.items() if key in str(exc)]
        raise checks.UsageError(f"{exc} (fix it with {flags[0]})" if flags else str(exc)) from None


def _create_project(folder: Path, settings: Any) -> Any:
    from jukestudio.project import Project

    project = Project.create(folder, settings)
    sys.stderr.write(f"created project {folder}\n")
    return project


def _update_settings(project: Any, changes: dict[str, Any]) -> None:
    """Flags given on an existing project change its settings: one undoable step (the window's
    ReplaceSettings command), saved, and reported with the old values so it can be changed back."""
    before = project.settings
    project.update_settings(**changes)
    project.save()
    for key, value in changes.items():
        sys.stderr.write(
            f"project setting {key} changed: {_short(getattr(before, key))} -> {_short(value)} "
            f"(set it back with {checks.FLAG_OF_SETTING[key]})\n"
        )


def _short(value: Any, most: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= most else text[: most - 1] + "…"


def _continue(args: argparse.Namespace) -> int:
    _run_checks(args)
    checks.count(args.variations, "--variations")
    checks.positive(args.seconds, "--seconds")
    project = _open(args.project)
    take = project.take(args.take)
    if take.level_status(0) == "empty":
        raise checks.UsageError(f"take {take.id} has no Preview quality codes to continue")
    job_settings = _job_settings(project.settings, args)
    config = checks.model_config(project.settings.model, "the project's model (change it with compose --model)")
    checks.conditioning(config, project.settings, args.strict)
    checks.check_device(args.device)
    from jukestudio.engine import jobs

    model = _load_model(project.settings.model, args)
    state = jobs.create_continue(
        project, model, args.take, n_variations=args.variations, seconds=args.seconds, seed=args.seed,
        device=args.device, compile=args.compile, settings=job_settings,
    )  # fmt: skip
    return _run(project, {project.settings.model: model}, [state.folder], args)


def _upsample(args: argparse.Namespace) -> int:
    _run_checks(args)
    try:
        levels = parse_levels(args.levels)
    except ValueError as exc:
        raise checks.UsageError(f"--levels {args.levels}: {exc}") from None
    if 0 in levels:
        raise checks.UsageError("--levels: the Preview quality is sampled by compose and continue; choose middle, full")
    if args.region is not None and not args.region[0] < args.region[1]:
        raise checks.UsageError(
            f"--region {args.region[0]:g} {args.region[1]:g}: the start must come before the end "
            f"(--region {args.region[1]:g} {args.region[0]:g}?)"
        )
    if args.region is not None and args.region[0] < 0:
        raise checks.UsageError(f"--region {args.region[0]:g} {args.region[1]:g}: the start must be ≥ 0 s")
    project = _open(args.project)
    chosen = [project.take(t) for t in args.takes]
    for take in chosen:
        if take.level_status(0) == "empty":
            raise checks.UsageError(f"take {take.id} has no Preview quality codes to upsample")
        if args.region is not None and args.region[0] >= take.duration_s > 0:
            raise checks.UsageError(
                f"--region {args.region[0]:g} {args.region[1]:g}: starts after the end of take {take.id} "
                f"({take.duration_s:g} s)"
            )
    if 1 not in levels:  # Full quality is sampled from the Middle: it must be there, whole
        lacking = [t.id for t in chosen if t.level_status(1) != "done" or args.region is not None]
        if lacking:
            raise checks.UsageError(
                f"Full quality is made from the Middle quality, which {'take ' + lacking[0]} lacks"
                f"{' for a region' if args.region is not None else ''}: upsample the middle level first "
                f"(--levels middle,full, or --levels middle)"
            )
    job_settings = _job_settings(project.settings, args)
    config = checks.model_config(project.settings.model, "the project's model (change it with compose --model)")
    checks.conditioning(config, project.settings, args.strict)
    checks.check_device(args.device)
    from jukestudio.engine import jobs

    model = _load_model(project.settings.model, args)
    state = jobs.create_upsample(
        project, model, args.takes, region_s=tuple(args.region) if args.region else None, levels=levels,
        seed=args.seed, device=args.device, compile=args.compile, settings=job_settings,
    )  # fmt: skip
    return _run(project, {project.settings.model: model}, [state.folder], args)


def _resume(args: argparse.Namespace) -> int:
    _run_checks(args)
    project = _open(args.project)
    records, problems = read_jobs(project.folder)
    by_id = {r.id: r for r in records}
    if args.job:
        if args.job not in by_id:
            why = next((p for p in problems if args.job in p), None)
            known = ", ".join(r.id for r in records[-5:]) or "none"
            raise checks.UsageError(why or f"no job {args.job!r} in {project.folder} (its latest jobs: {known})")
        record = by_id[args.job]
        if record.status not in RESUMABLE:
            sys.stderr.write(f"job {args.job} is {record.status}; nothing to resume\n")
            return 0
        chosen = [record]
    else:
        chosen = [r for r in records if r.offered_for_resume]
        if not chosen:
            sys.stderr.write("no unfinished jobs in this project\n")
            return 0
    checks.check_device(args.device)
    runnable = []
    for record in chosen:
        device = args.device or record.info.get("settings", {}).get("device")
        if args.device is None and not checks.device_available(device):
            _mark_device_gone(project, record, device)
            continue
        runnable.append(record)
    if not runnable:
        return 2
    models = {}
    for record in runnable:
        name = record.info.get("model") or project.settings.model
        if name not in models:
            checks.model_config(name, f"job {record.id}'s model")
            components = ("vqvae",) if record.kind == "preview" else None
            models[name] = _load_model(name, args, components=components)
    code = _run(project, models, [r.folder for r in runnable], args)
    return code or (2 if len(runnable) < len(chosen) else 0)


def _mark_device_gone(project: Any, record: Any, device: str | None) -> None:
    """A job saved for a device this machine lacks: marked failed with the reason and the way out."""
    from jukestudio.engine.state import JobState

    reason = (
        f"its device {device} is not available on this machine; resume it on another with: "
        f"jukestudio-cli resume {project.folder} {record.id} --device cpu"
    )
    state = JobState.load(record.folder)
    state.set_status("failed", reason)
    state.save(tensors=False)
    sys.stderr.write(f"error: job {record.id}: {reason}\n")


def _export(args: argparse.Namespace) -> int:
    checks.device_syntax(args.device)
    project = _open(args.project)
    take = project.take(args.take)
    if args.level is not None:
        try:
            level = parse_level(args.level)
        except ValueError as exc:
            raise checks.UsageError(f"--level {args.level}: {exc}") from None
        if take.level_status(level) == "empty":
            have = [LEVEL_KEYS[p] for p in range(len(LEVEL_KEYS)) if take.level_status(p) != "empty"]
            raise checks.UsageError(
                f"take {take.id} has no {level_label(level)} yet; choose --level {' or '.join(have) or 'another'}"
                + (" or upsample it first" if level else "")
            )
    else:
        level = take.best_level
        if level is None:
            raise checks.UsageError(f"take {take.id} has no finished level to export")
    out = args.output or project.folder / "exports" / f"{take.id}.wav"
    checks.writable_output(out, "--output")
    checks.model_config(project.settings.model, "the project's model (change it with compose --model)")
    checks.check_device(args.device)
    from jukestudio.audio.export import export_wav
    from jukestudio.engine.decode import preview_take
    from jukestudio.project.export import exported_level_info

    model = _load_model(project.settings.model, args, components=("vqvae",))
    audio = preview_take(project, model, take.id, level)
    sidecar = project.export_metadata(take.id)
    sidecar.update(exported_level_info(project, take.id, level))
    report = export_wav(out, audio, normalise=args.normalise, sidecar=sidecar)
    sys.stderr.write(f"wrote {out} ({level_label(level)}{_coverage_note(take, level, sidecar)})\n")
    if args.normalise:
        sys.stderr.write(f"  gain {report.gain_db:+.1f} dB, peak now {report.peak_after_gain_dbfs:.1f} dBFS\n")
    return 0


def _coverage_note(take: Any, level: int, sidecar: dict[str, Any]) -> str:
    region = sidecar.get("region_s")
    note = f", only {region[0]:.2f}–{region[1]:.2f} s of the take" if region else ""
    better = [p for p in range(level + 1, len(LEVEL_KEYS)) if take.level_status(p) == "partial"]
    if better:
        note += f"; {level_label(better[-1])} exists only in part: export it with --level {LEVEL_KEYS[better[-1]]}"
    elif level < len(LEVEL_KEYS) - 1 and take.level_status(len(LEVEL_KEYS) - 1) == "empty":
        note += "; not upsampled to Full quality yet"
    return note


# ---------------------------------------------------------------------- helpers


def _open(folder: Path) -> Any:
    from jukestudio.project import Project

    return Project.open(folder)


def _load_model(name: str, args: argparse.Namespace, components: tuple[str, ...] | None = None) -> Any:
    import torch

    from jukestudio.model.weights.loader import load_model

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    sys.stderr.write(f"loading {name} ...\n")
    return load_model(name, components)


def _run(project: Any, models: dict[str, Any], folders: list[Path], args: argparse.Namespace) -> int:
    from jukestudio.engine.job_lock import JobBusyError
    from jukestudio.engine.runner import run_job
    from jukestudio.engine.state import read_job_info

    token = CancelToken()
    bar = ProgressBar(sys.stderr, quiet=getattr(args, "quiet", False))
    with _cancel_on_sigint(token):
        for folder in folders:
            info = read_job_info(folder)
            model = models.get(info.get("model")) or next(iter(models.values()))
            try:
                result = run_job(folder, model=model, report=bar, cancel=token, device=args.device, project=project)
            except Cancelled:
                bar.close()
                sys.stderr.write(
                    f"cancelled; finished windows are saved. Resume with: jukestudio-cli resume {project.folder} "
                    f"{folder.name}\n"
                )
                return EXIT_CANCELLED
            except JobBusyError as exc:  # another process runs it: its job.json is not ours to change
                bar.close()
                raise checks.UsageError(str(exc)) from exc
            except (ValueError, RuntimeError, OSError) as exc:
                bar.close()
                _mark_failed(folder, exc)
                if isinstance(exc, OSError) and exc.errno is not None:  # full disk, read-only, …: say which
                    resume = f"run `jukestudio-cli resume {project.folder} {folder.name}`"
                    raise checks.UsageError(f"job {folder.name}: {describe_os_error(exc, resume)}") from exc
                raise checks.UsageError(f"job {folder.name} failed: {exc}") from exc
            bar.close()
            sys.stdout.write(f"{result.job_id} done: takes {' '.join(result.take_ids)}\n")
    return 0


def _mark_failed(folder: Path, exc: BaseException) -> None:
    """A job that could not run is not left queued: failed, with the reason (resumable by id)."""
    from jukestudio.engine.state import JobState

    try:
        state = JobState.load(folder)
    except (ValueError, OSError):
        return
    if state.status in UNFINISHED:
        state.set_status("failed", f"{type(exc).__name__}: {exc}")
        with suppress(OSError):  # a full or read-only disk: the job stays as it is on disk
            state.save(tensors=False)


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


class ProgressBar(ProgressLine):
    """The job bar: quality level, window, percent, tokens/s, ETA."""

    def urgent(self, p: Progress) -> bool:
        return bool(p.message)

    def line(self, p: Progress) -> str:
        eta = _clock(p.eta_s) if p.eta_s is not None else "--:--"
        line = (
            f"[{level_label(p.level) if 0 <= p.level < len(LEVEL_KEYS) else f'level {p.level}'} "
            f"window {min(p.window + 1, p.n_windows)}/{p.n_windows}] "
            f"{self.bar(p.fraction)} {p.tokens_per_s:7.1f} tok/s ETA {eta}"
        )
        if p.message and p.message not in ("starting", "resuming", "done"):
            line += f"  {p.message}"
        return line


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
