"""`jukestudio-cli`: entry point. Each sub-command group lives in its own module with a `register`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from jukestudio import __version__
from jukestudio.cli import jobs, models, train
from jukestudio.logsetup import setup_logging
from jukestudio.project.errors import ProjectError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    except (ValueError, OSError, ProjectError) as exc:
        # Our errors (bad checkpoint, audio, config, project, duration) all say what is wrong and where;
        # the traceback goes to the log file only.
        logging.getLogger("jukestudio.cli").debug("command failed", exc_info=True)
        sys.stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
