"""A fork server for crash tests: imports torch and the CLI once, then runs each `jukestudio-cli`
command in a forked child (a real process that can be SIGKILLed) at a fraction of a fresh start's cost.

Protocol, one JSON object per line on stdin / stdout:
  {"run": [cli args...], "env": {...}, "log": "file"} -> {"pid": child pid}  (stdout+stderr go to "log")
  {"wait": pid}                                        -> {"rc": exit code, or -signal when killed}
The parent may kill a child itself; `wait` then reports -9.
"""

from __future__ import annotations

import json
import os
import sys


def _child(args: list[str], env: dict[str, str], log: str) -> None:
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.environ.update(env)
        from jukestudio.cli.main import main

        rc = main(args)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def _preload(model: str) -> None:
    """Only a speed-up: load ``model`` once here, so each child gets it copy-on-write from its fork
    instead of loading it again. Where the loader has moved, the children simply load it themselves."""
    try:
        import jukestudio.engine.jobs  # noqa: F401  (the rest of what a job imports)
        from jukestudio.model.weights import loader
    except ImportError:
        return
    original = loader.load_model
    loaded = original(model).eval()

    def load_model(name: str, components: tuple[str, ...] | None = None) -> object:
        return loaded if name == model else original(name, components)

    loader.load_model = load_model


def serve() -> None:
    import torch

    torch.set_num_threads(1)  # before any op: a forked child must not inherit an OpenMP pool
    from jukestudio.cli.main import main  # noqa: F401  (imported once, shared by every child)

    if len(sys.argv) > 1:
        _preload(sys.argv[1])
    for line in sys.stdin:
        request = json.loads(line)
        if "run" in request:
            pid = os.fork()
            if pid == 0:
                _child(request["run"], request.get("env", {}), request["log"])
            reply = {"pid": pid}
        else:
            _, status = os.waitpid(int(request["wait"]), 0)
            reply = {"rc": os.waitstatus_to_exitcode(status)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
