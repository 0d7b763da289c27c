"""The one error type for weights that cannot be used, with the details a user needs to fix it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

_MAX_LISTED = 12  # per category; a 5B prior can miss a thousand keys, the first dozen say enough


class CheckpointError(ValueError):
    """A weights file or model folder that jukestudio cannot use. The message names the file."""

    def __init__(
        self,
        path: str | Path | None,
        problem: str,
        *,
        missing: Iterable[str] = (),
        unexpected: Iterable[str] = (),
        mismatched: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]]] | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.problem = problem
        self.missing = sorted(missing)
        self.unexpected = sorted(unexpected)
        self.mismatched = dict(sorted((mismatched or {}).items()))
        super().__init__(self._format())

    def _format(self) -> str:
        head = f"{self.path}: {self.problem}" if self.path is not None else self.problem
        lines = [head]
        if self.missing:
            lines.append(_listing(f"{len(self.missing)} missing key(s)", self.missing))
        if self.unexpected:
            lines.append(_listing(f"{len(self.unexpected)} unexpected key(s)", self.unexpected))
        if self.mismatched:
            shown = [f"{key}: file {tuple(got)} vs model {tuple(want)}" for key, (got, want) in self.mismatched.items()]
            lines.append(_listing(f"{len(shown)} key(s) with the wrong shape", shown))
        return "\n".join(lines)


class UnsafeCheckpointError(CheckpointError):
    """The file's pickle tries to run code; it was refused and nothing of it was executed."""


def _listing(title: str, items: list[str]) -> str:
    shown = [f"    {item}" for item in items[:_MAX_LISTED]]
    if len(items) > _MAX_LISTED:
        shown.append(f"    ... and {len(items) - _MAX_LISTED} more")
    return f"  {title}:\n" + "\n".join(shown)
