"""`jukestudio-cli`: entry point. Each sub-command group lives in its own module with a `register`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from jukestudio import __version__
from jukestudio.cli import jobs, models, train
from jukestudio.cli.errors import EXIT_ERROR, describe_failure
from jukestudio.logsetup import setup_logging


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the argument and the problem (exit 2), not the whole usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="jukestudio-cli",
        description="jukestudio without a window: import models, compose, continue, upsample, resume, export.",
    )
    parser.add_argument("--version", action="version", version=f"jukestudio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    models.register(commands)
    jobs.register(commands)
    train.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("cancelled\n")
        return 130
    except Exception as exc:
        # Our errors (bad checkpoint, audio, config, project, job, duration) say what is wrong and where;
        # OS errors (disk full, read-only) say what to do (cli/errors.py). The traceback goes to the log only.
        logging.getLogger("jukestudio.cli").debug("command failed", exc_info=True)
        sys.stderr.write(f"error: {describe_failure(exc)}\n")
        return EXIT_ERROR

if __name__ == "__main__":
    raise SystemExit(main())
