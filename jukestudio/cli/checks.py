"""The CLI's checks before anything is created or loaded: arguments, paths, project state, model config.

Each failure is a :class:`UsageError` whose one-line message names the flag that fixes it. Only
:func:`check_device` and :func:`check_durations` import torch (the device needs it; the window plan
lives in the engine), and they run after every torch-free check has passed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jukestudio.model.config import JukeboxConfig
    from jukestudio.model.tokenizer import TokenizeReport
    from jukestudio.project import ProjectSettings

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps|auto)$")


class UsageError(ValueError):
    """Bad arguments or project state; nothing was created or changed."""


def positive(value: float | None, flag: str) -> None:
    if value is not None and not value > 0:
        raise UsageError(f"{flag} must be more than 0, got {value:g}")


def count(value: int | None, flag: str, most: int = 256) -> None:
    if value is not None and not 1 <= value <= most:
        raise UsageError(f"{flag} must be a whole number from 1 to {most}, got {value}")


def existing_file(path: Path | None, flag: str) -> None:
    if path is not None and not path.is_file():
        why = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(f"{flag} {path}: {why}; give an existing file")


def writable_output(path: Path, flag: str) -> None:
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a folder; give a file name such as {path / 'take.wav'}")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: {parent} is not a folder")


def device_syntax(text: str | None) -> None:
    if text is not None and not _DEVICE.match(text):
        raise UsageError(f"--device {text}: choose cpu, cuda, cuda:N or mps (or leave it out: CUDA when available)")


def check_device(text: str | None, fix: str = "use --device cpu") -> None:
    """The asked-for device exists here (imports torch); a one-line error otherwise."""
    if text in (None, "auto", "cpu"):
        return
    import torch

    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {text}: PyTorch sees no CUDA GPU on this machine; {fix}")
        index = int(text.split(":")[1]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {text}: this machine has {torch.cuda.device_count()} CUDA GPU(s); {fix}")
    elif text == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device mps: Apple's Metal GPU is not available here; {fix}")


def device_available(text: str | None) -> bool:
    try:
        check_device(text)
    except UsageError:
        return False
    return True


def model_config(name: str, flag: str = "--model") -> JukeboxConfig:
    """The model's config from JSON only (store entry, HF folder or demo); the error names ``flag``."""
    from jukestudio.bundled_model import BUNDLED_NAME
    from jukestudio.model.weights.catalog import model_config as read_config

    try:
        if name == BUNDLED_NAME:  # shipped with jukestudio: installed into the store on first use
            from jukestudio.model.weights.bundled import ensure_bundled_model

            ensure_bundled_model()
        return read_config(name)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"{flag} {name}: {first} (`jukestudio-cli models list` shows the store)") from None


def conditioning(config: JukeboxConfig, settings: ProjectSettings, strict: bool) -> TokenizeReport:
    """The tokenizer's findings, printed before anything runs; ``--strict`` makes them errors."""
    from jukestudio.engine.conditioning import analyse
    from jukestudio.model.tokenizer import TooManyGenresError

    try:
        report = analyse(config, settings)
    except TooManyGenresError as exc:
        raise UsageError(f"--genre: {exc}") from None
    findings = report.messages()
    if strict and findings:
        raise UsageError(f"--strict: {findings[0]}" + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
    for finding in findings:
        sys.stderr.write(f"note: {finding}\n")
    return report


_DURATION_FIXES = (
    ("declared song length", "set the song length with --total-seconds"),
    ("after the end of the declared song", "use a shorter --seconds or a longer --total-seconds"),
    ("the last window would end", "use a shorter --seconds"),
    ("less than one top-level token", "use a longer --seconds"),
)


def check_durations(
    config: JukeboxConfig, settings: ProjectSettings, seconds: float | None, start_tokens: int, levels: tuple[int, ...]
) -> None:
    """The timing labels fit the model (the engine's own check, run before the project is touched)."""
    from jukestudio.engine.jobs import compose_settings
    from jukestudio.model import sample_loop

    try:
        plan = compose_settings(
            config,
            seconds if seconds is not None else settings.take_length_s,
            total_seconds=settings.total_length_s,
            start_tokens=start_tokens,
            levels=levels,
        )
        sample_loop.check_durations(
            sample_loop.level_geometries(config), plan.levels, plan.total_length, plan.offset, plan.sample_length,
            config.sampling_rate,
        )  # fmt: skip
    except ValueError as exc:
        fix = next((f for key, f in _DURATION_FIXES if key in str(exc)), "check --seconds and --total-seconds")
        raise UsageError(f"{exc}; {fix}") from None


def prompt_tokens(path: Path | None, config: JukeboxConfig) -> int:
    """Top-level tokens a prompt file will give (from its header; the audio is read later)."""
    if path is None:
        return 0
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise UsageError(f"--prompt {path}: not a readable audio file ({exc})") from None
    hop = config.vqvae_config.hop_lengths[-1]
    return int(info.frames / info.samplerate * config.sampling_rate) // hop


def settings_changes(args: Any) -> dict[str, Any]:
    """The project settings given as flags (only those given)."""
    changes: dict[str, Any] = {}
    if args.model is not None:
        changes["model"] = args.model
    if args.artist is not None:
        changes["artist"] = args.artist
    if args.genres is not None:
        changes["genres"] = list(args.genres)
    if args.lyrics is not None and args.lyrics_file is not None:
        raise UsageError("give the lyrics either with --lyrics or with --lyrics-file, not both")
    if args.lyrics_file is not None:
        existing_file(args.lyrics_file, "--lyrics-file")
        from jukestudio.cli.arguments import read_lyrics_file

        try:  # bounded, and a byte that is not UTF-8 is named with its offset
            changes["lyrics"] = read_lyrics_file(args.lyrics_file)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif args.lyrics is not None:
        changes["lyrics"] = args.lyrics
    if args.total_seconds is not None:
        changes["total_length_s"] = float(args.total_seconds)
    return changes


FLAG_OF_SETTING = {
    "model": "--model",
    "artist": "--artist",
    "genres": "--genre",
    "lyrics": "--lyrics",
    "total_length_s": "--total-seconds",
    "n_takes": "--takes",
    "take_length_s": "--seconds",
}
