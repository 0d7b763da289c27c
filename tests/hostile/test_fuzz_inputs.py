"""Fuzzed lyrics, settings and command-line arguments (≥ 2,000 cases, property-based with hypothesis).

In-process for the bulk (validation is pure): every input is either accepted with values inside the
bounds of jukestudio.limits, or refused with a typed error / one ``error:`` line naming the field or
argument. A few cases run the real CLI in a subprocess (bytes in argv and in a lyrics file).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukestudio import limits
from jukestudio.cli.main import build_parser
from jukestudio.engine.job_validate import JobFileError, check_job_info
from jukestudio.levels import parse_levels
from jukestudio.project.errors import ProjectCorruptError
from jukestudio.project.settings import ProjectSettings
from tests.hostile.forked import Tally

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# Text with what shells and files can produce: lone surrogates (undecodable bytes), controls, astral.
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4),
    st.builds(lambda a, b: a + "\udcff" + b, st.text(max_size=10), st.text(max_size=10)),
    st.just("\x00\x1b[31m\u202e"),
    st.just("x" * (limits.MAX_TEXT_CHARS + 1)),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1e308, -1e308, 2**63, 1e-320, 3600.0001]),
)
values = st.one_of(
    numbers, texts, st.none(), st.booleans(), st.lists(numbers, max_size=4), st.dictionaries(texts, numbers, max_size=2)
)
FIELDS = [f for f in ProjectSettings.__dataclass_fields__]


def _settings_ok(s: ProjectSettings) -> bool:
    text = [s.model, s.artist, s.lyrics, *s.genres]
    return (
        all(isinstance(t, str) for t in text)
        and all(t.encode("utf-8") is not None for t in text)
        and 0 < s.total_length_s <= limits.MAX_SONG_S
        and 0 < s.take_length_s <= limits.MAX_SONG_S
        and 1 <= s.n_takes <= limits.MAX_TAKES
        and all(math.isfinite(t) and 0 < t <= 100 for t in s.temperatures)
    )


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS), values, min_size=1, max_size=4))
def test_fuzzed_settings_are_accepted_within_bounds_or_refused_naming_the_field(changes: dict) -> None:
    data = {**ProjectSettings().to_dict(), **changes}
    try:
        parsed = ProjectSettings.from_dict(data, "song/project.json settings")
    except ProjectCorruptError as exc:
        message = str(exc)
        assert message.startswith("song/project.json settings: ")
        assert any(field in message for field in changes), message
        Tally.add("fuzz: settings", True)
        return
    assert _settings_ok(parsed)
    json.dumps(parsed.to_dict(), ensure_ascii=False).encode("utf-8")  # what the project file writer does
    Tally.add("fuzz: settings", True)


ARGUMENTS = {
    "--seconds": numbers,
    "--takes": st.one_of(st.integers(), texts),
    "--seed": st.one_of(st.integers(min_value=-(2**70), max_value=2**70), texts),
    "--threads": st.integers(min_value=-5, max_value=10**7),
    "--total-seconds": numbers,
    "--lyrics": texts,
    "--artist": texts,
    "--genre": texts,
}


def _parse(argv: list[str]) -> tuple[int, str, object]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            return 0, "", build_parser().parse_args(argv)
        except SystemExit as exc:
            return int(exc.code or 0), err.getvalue(), None


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(ARGUMENTS)), st.just(None), min_size=1, max_size=3), st.data())
def test_fuzzed_compose_arguments_parse_within_bounds_or_fail_with_one_line(names: dict, data: st.DataObject) -> None:
    argv = ["compose", "song"]
    for name in names:
        value = data.draw(ARGUMENTS[name], label=name)
        argv += [f"{name}={value}"]
    code, err, args = _parse(argv)
    if code:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
        assert any(name in lines[0] for name in names), err
        Tally.add("fuzz: CLI arguments", True)
        return
    assert args is not None
    if args.seconds is not None:
        assert 0 < args.seconds <= limits.MAX_SONG_S
    if args.takes is not None:
        assert 1 <= args.takes <= limits.MAX_TAKES
    for text in [args.lyrics, args.artist, *(args.genres or [])]:
        if text is not None:  # a flag not given leaves the project's setting as it is
            text.encode("utf-8")
    Tally.add("fuzz: CLI arguments", True)


@FUZZ
@given(
    st.sampled_from(["continue", "export", "upsample"]),
    st.one_of(texts, st.sampled_from(["../x", "..", "/etc", "a/b", "t1\x00", ".hidden", "-"])),
    st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["1,2", "0,0", "3", "1,,2", "-1", "9" * 30])),
)
def test_fuzzed_take_ids_and_levels_parse_or_fail_with_one_line(command: str, take: str, levels: str | None) -> None:
    argv = [command, "song", f"--={take}"] if take.startswith("-") else [command, "song", take]
    if argv[2].startswith("--="):
        argv = [command, "song", "--", take]
    if levels is not None and command == "upsample":
        argv.insert(2, f"--levels={levels}")
    code, err, args = _parse(argv)
    if code:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    else:
        taken = args.takes[0] if command == "upsample" else args.take
        assert "/" not in taken and ".." not in taken and "\x00" not in taken
        if command == "upsample":  # level names are parsed after the arguments: known names or a ValueError
            try:
                chosen = parse_levels(args.levels)
            except ValueError as exc:
                assert "choose" in str(exc)
            else:
                assert set(chosen) <= {0, 1, 2} and len(set(chosen)) == len(chosen)
    Tally.add("fuzz: CLI arguments", True)


JOB = {
    "id": "20260101-000000-compose-abc123", "kind": "compose", "status": "queued", "created": "", "updated": "",
    "take_ids": ["t1"], "message": "", "model": "demo", "n_levels": 3, "n_samples": 1, "sampling_rate": 44100,
    "settings": {"levels": [0], "sample_length": 44100, "total_length": 441000, "offset": 0, "temperatures": None,
                 "top_k": 0, "top_p": 0.0, "chunk_size": 32, "chunk_sizes": None, "max_batch_size": 16,
                 "lower_batch_size": 16, "seed": 0, "device": None, "precision": "auto", "compile": False},
}  # fmt: skip
JOB_FIELDS = [k for k in JOB if k != "settings"] + [f"settings.{k}" for k in JOB["settings"]]


@FUZZ
@given(st.dictionaries(st.sampled_from(JOB_FIELDS), values, min_size=1, max_size=3))
def test_fuzzed_job_files_are_accepted_or_refused_naming_file_and_field(changes: dict) -> None:
    info = json.loads(json.dumps(JOB))
    for key, value in changes.items():
        if key.startswith("settings."):
            info["settings"][key.split(".", 1)[1]] = value
        else:
            info[key] = value
    path = Path("song/jobs/x/job.json")
    try:
        checked = check_job_info(info, path)
    except JobFileError as exc:
        assert str(exc).startswith(f"{path}: ")
        assert any(k.split(".")[-1] in str(exc) for k in changes), str(exc)
        Tally.add("fuzz: job.json fields", True)
        return
    levels = checked["settings"]["levels"]
    assert all(isinstance(x, int) and 0 <= x < checked["n_levels"] for x in levels)
    assert all(isinstance(t, str) and "/" not in t and ".." not in t for t in checked["take_ids"])
    Tally.add("fuzz: job.json fields", True)


@FUZZ
@given(st.one_of(st.text(max_size=200), texts))
def test_fuzzed_lyrics_that_pass_validation_tokenize(lyrics: str) -> None:
    try:
        s = ProjectSettings(lyrics=lyrics).validate()
    except ValueError as exc:
        assert "lyrics" in str(exc)
        Tally.add("fuzz: lyrics", True)
        return
    from jukestudio.model.config import preset
    from jukestudio.model.tokenizer import JukeboxTokenizer

    ids = JukeboxTokenizer.for_config(_DEMO)(artist=s.artist, genres=s.genres, lyrics=s.lyrics)["input_ids"]
    assert len(ids) == len(preset("demo").prior_configs)
    Tally.add("fuzz: lyrics", True)


def _demo_config() -> object:
    from jukestudio.model.config import preset

    return preset("demo")


_DEMO = _demo_config()


def _cli(argv: list[bytes | str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jukestudio.cli.main", *argv], capture_output=True, timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        [b"compose", b"song", b"--model", b"demo", b"--lyrics", b"caf\xe9 au lait"],
        [b"compose", b"song", b"--model", b"demo", b"--artist", b"\xff\xfe"],
        [b"compose", b"song", b"--model", b"demo", b"--total-seconds", b"1e308"],
        [b"compose", b"song", b"--seconds", b"nan"],
        [b"continue", b"song", b"../../etc"],
        [b"upsample", b"song", b"t1", b"--levels", b"1,7"],
        [b"compose", b"song", b"--model", b"demo", b"--lyrics-file", b"latin1.txt"],
    ],
    ids=["lyrics-latin1-bytes", "artist-bytes", "total-1e308", "seconds-nan", "take-traversal", "levels-7",
         "lyrics-file-latin1"],
)  # fmt: skip
def test_cli_refuses_bad_arguments_with_one_line(argv: list[bytes], tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes(b"d\xe9j\xe0 vu\n")
    run = _cli(argv, tmp_path)
    err = run.stderr.decode("utf-8", "replace")
    clean = run.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    Tally.add("fuzz: CLI subprocess", clean)
    assert run.returncode == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert not (tmp_path / "song").exists(), "a refused command left a project behind"
