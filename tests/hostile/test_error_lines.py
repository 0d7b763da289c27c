"""The CLI's one-line error mapping and the config validator's presets (unit level, no model built)."""

from __future__ import annotations

import errno

import pytest

from jukestudio.cli.errors import describe_failure
from jukestudio.engine.job_lock import JobBusyError
from jukestudio.model.config import PRESETS, ConfigError, preset
from jukestudio.model.config_validate import check_config


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/p/jobs/j/.state.safetensors.x1.safetensors"),
         "the disk is full: cannot write /p/jobs/j/state.safetensors"),
        (OSError(errno.EROFS, "Read-only file system", "/p/jobs/j/.lock.ab.tmp"), "/p/jobs/j/lock (in /p/jobs/j): "),
        (OSError(errno.EACCES, "Permission denied", "/p/x.wav"), "/p/x.wav: permission denied"),
        (JobBusyError(__import__("pathlib").Path("/p/jobs/j"), 4242), "this job is being run by process 4242"),
        (MemoryError(), "out of memory"),
        (RecursionError("deep"), "nests too deeply"),
        (KeyError("surprise"), "unexpected KeyError"),
    ],
)  # fmt: skip
def test_every_failure_is_one_line(exc: BaseException, expected: str) -> None:
    line = describe_failure(exc)
    assert expected in line and "\n" not in line and ".tmp" not in line


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_released_presets_pass_validation(name: str) -> None:
    check_config(preset(name))


def test_zero_heads_and_absurd_depth_are_refused_naming_the_field() -> None:
    config = preset("demo")
    config.prior_configs[0].n_heads = 0
    with pytest.raises(ConfigError, match=r"prior_config_list\[0\]\.n_heads"):
        check_config(config)
    config = preset("demo")
    config.prior_configs[1].num_layers = 50_000_000
    with pytest.raises(ConfigError, match=r"prior_config_list\[1\]\.num_layers"):
        check_config(config)
