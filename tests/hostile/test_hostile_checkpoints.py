"""Hostile model folders, config.json files and original-format checkpoints (≥ 150 variants, generated).

Each case runs ``import_model`` (the API boundary the window and the CLI use) in a forked child with a
timeout and asserts: a typed error (CheckpointError / ConfigError / StoreError, all ValueError) whose
message names the hostile file or its folder; peak RSS bounded; the input byte-identical afterwards;
nothing left in the model store. A few cases run the real CLI and assert one line, exit 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from jukestudio import limits, paths
from jukestudio.cli.models import EXIT_PROBLEM
from jukestudio.model.weights import import_model  # imported once here, not in every forked child
from tests.conftest import ORIG_TINY
from tests.hostile import craft
from tests.hostile.forked import RSS_BOUND_MB, Tally, parent_rss_mb, run_forked

HF = ORIG_TINY / "tiny" / "hf_model"
HF5B = ORIG_TINY / "tiny5b" / "hf_model"
ORIG = ORIG_TINY / "tiny" / "orig"
TYPED = ("CheckpointError", "ConfigError", "StoreError")


@dataclass
class Case:
    name: str
    build: Callable[[Path], Path]  # writes the hostile input under a folder, returns what to import
    may_pass: bool = False  # a harmless variant (e.g. a flipped bit inside tensor data) may import fine
    patch: dict[str, int] | None = None  # limits lowered in the child, to reach a bound cheaply


# ------------------------------------------------------------------ config.json variants


def _hf_copy(where: Path, config: object | None = None, raw: bytes | None = None, source: Path = HF) -> Path:
    folder = where / "model"
    folder.mkdir()
    for item in source.iterdir():
        if item.name != "config.json":
            (folder / item.name).symlink_to(item)
    if raw is None:
        raw = json.dumps(config).encode()
    (folder / "config.json").write_bytes(raw)
    return folder


def _config(source: Path = HF) -> dict:
    return json.loads((source / "config.json").read_text())


def _edit(path: tuple, value: object, source: Path = HF) -> Callable[[Path], Path]:
    def build(where: Path) -> Path:
        data = _config(source)
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return _hf_copy(where, data, source=source)

    return build


BAD_VALUES = {"text": "wide", "negative": -7, "huge": 10**12, "inf": 1e308, "list": [1, 2], "null": None}
FIELDS = [
    ("vqvae_config", "nb_discrete_codes"),
    ("vqvae_config", "embed_dim"),
    ("vqvae_config", "res_conv_width"),
    ("vqvae_config", "res_conv_depth"),
    ("vqvae_config", "levels"),
    ("vqvae_config", "res_downs_t"),
    ("prior_config_list", 0, "hidden_size"),
    ("prior_config_list", 0, "num_layers"),
    ("prior_config_list", 0, "n_heads"),
    ("prior_config_list", 0, "n_ctx"),
    ("prior_config_list", 0, "music_vocab_size"),
    ("prior_config_list", 0, "metadata_dims"),
    ("prior_config_list", 1, "res_conv_width"),
    ("timing_dims",),
    ("sampling_rate",),
]


def config_cases() -> list[Case]:
    cases = [
        Case(f"config-{field[-1]}-{p}-{kind}", _edit(field, value))
        for p, field in enumerate(FIELDS)
        for kind, value in BAD_VALUES.items()
        if not (kind == "null" and len(field) == 1)  # a top-level null means "the prior's own value"
    ]
    for kind, value in {"list": [1, 2], "string": "jukebox", "number": 3, "null": None, "true": True}.items():
        cases.append(Case(f"config-is-{kind}", lambda w, v=value: _hf_copy(w, v)))
    cases += [
        Case("config-num_layers-50M", _edit(("prior_config_list", 0, "num_layers"), 50_000_000)),
        Case("config-zero-heads", _edit(("prior_config_list", 0, "n_heads"), 0)),
        Case("config-heads-not-dividing", _edit(("prior_config_list", 0, "n_heads"), 7)),
        Case("config-width-16k-layers-512", lambda w: _hf_copy(w, _big(_config()))),
        Case("config-negative-codebook", _edit(("vqvae_config", "nb_discrete_codes"), -2048)),
        Case("config-stride-bomb", _edit(("vqvae_config", "res_strides_t"), [16, 16, 16])),
        Case("config-attention-pattern", _edit(("prior_config_list", 0, "attention_pattern"), "exec")),
        Case("config-no-priors", _edit(("prior_config_list",), [])),
        Case("config-100-priors", _edit(("prior_config_list",), [{}] * 100)),
        Case("config-prior-is-text", _edit(("prior_config_list",), ["x"])),
        Case("config-vqvae-is-list", _edit(("vqvae_config",), [1])),
        Case("config-encoder-is-text", _edit(("prior_config_list", 0, "encoder_config"), "enc", HF5B)),
        Case("config-encoder-heads-0", _edit(("prior_config_list", 0, "encoder_config", "n_heads"), 0, HF5B)),
        Case("config-encoder-layers-1e9", _edit(("prior_config_list", 0, "encoder_config", "num_layers"), 10**9, HF5B)),
        Case(
            "config-deep-nesting",
            lambda w: _hf_copy(w, raw=b'{"vqvae_config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        ),
        Case("config-nested-50", lambda w: _hf_copy(w, {**_config(), "extra": _nest(50)})),
        Case("config-truncated", lambda w: _hf_copy(w, raw=(HF / "config.json").read_bytes()[:700])),
        Case("config-not-utf8", lambda w: _hf_copy(w, raw=b'{"name": "\xff\xfe"}')),
        Case("config-empty", lambda w: _hf_copy(w, raw=b"")),
        Case("config-5MB", lambda w: _hf_copy(w, raw=b'{"pad": "' + b"x" * (5 << 20) + b'"}')),
        Case("config-lone-surrogate", lambda w: _hf_copy(w, raw=b'{"model_type": "\\ud800"}')),
        Case("config-bool-for-int", _edit(("prior_config_list", 0, "num_layers"), True)),
        Case("config-float-for-int", _edit(("prior_config_list", 0, "hidden_size"), 32.5)),
        Case("config-dropout-7", _edit(("prior_config_list", 0, "attn_dropout"), 7.0)),
        Case("config-fifo", _fifo_config),
        Case("config-is-folder", _folder_config),
    ]
    return cases


def _nest(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _big(data: dict) -> dict:
    data["prior_config_list"][0].update(hidden_size=16384, num_layers=512, n_heads=16)
    return data


def _fifo_config(where: Path) -> Path:
    folder = _hf_copy(where, _config())
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")
    return folder


def _folder_config(where: Path) -> Path:
    folder = _hf_copy(where, _config())
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()
    return folder


# ------------------------------------------------------------------ original-format checkpoints


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(where: Path) -> Path:
        path = where / name
        path.write_bytes(data)
        return path

    return build


def _both(name: str, main: bytes, **kw: object) -> list[Case]:
    return [
        Case(f"legacy-{name}", _write("prior_level_2.pth.tar", craft.legacy_file(main)), **kw),
        Case(f"zip-{name}", _write("prior_level_2.pth.tar", craft.zip_file(main)), **kw),
    ]


def checkpoint_cases() -> list[Case]:
    cases: list[Case] = []
    for depth in (201, 1000, 100_000):
        cases += _both(f"hps-nested-dicts-{depth}", craft.checkpoint_pickle(craft.nested_dicts(depth)))
        cases += _both(f"hps-nested-lists-{depth}", craft.checkpoint_pickle(craft.nested_lists(depth)))
    memo_bomb = b"N" + b"r" + (2**31).to_bytes(4, "little") + b"0"  # LONG_BINPUT at index 2**31
    cases += _both("memo-bomb-put", craft.checkpoint_pickle(memo_bomb))
    cases += _both("memo-bomb-get", craft.checkpoint_pickle(b"j" + (2**31 - 5).to_bytes(4, "little")))
    cases += _both("string-claims-2GB", craft.checkpoint_pickle(b"X" + (2**31 - 1).to_bytes(4, "little") + b"abc"))
    cases += _both("bytes8-claims-1TB", craft.checkpoint_pickle(b"\x8e" + (2**40).to_bytes(8, "little") + b"ab"))
    header_bomb = craft.PROTO + b"N" + b"r" + (2**31).to_bytes(4, "little") + b"0."
    cases.append(
        Case("legacy-memo-bomb-in-header", _write("vqvae.pth.tar", craft.legacy_file(b"", headers=header_bomb)))
    )
    many = craft.PROTO + b"]" + b"(" + b"N" * 5000 + b"e" + b"."  # 5000 opcodes, above a lowered bound
    cases += _both("too-many-opcodes", many, patch={"MAX_PICKLE_OPS": 1000})
    cases += _both(
        "too-many-memo", craft.PROTO + b"]" + b"(" + b"N\x94" * 3000 + b"e.", patch={"MAX_PICKLE_MEMO": 1000}
    )
    for module, name in [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("subprocess", "Popen"),
        ("builtins", "__import__"),
        ("torch", "load"),
        ("nt", "system"),
        ("shutil", "rmtree"),
        ("builtins", "getattr"),
    ]:
        main = craft.checkpoint_pickle(craft.global_call(module, name))
        cases += _both(f"calls-{module}.{name}", main)
    for legacy in (True, False):
        fmt = "legacy" if legacy else "zip"
        views = {
            "zero-stride-400GB": dict(size=(100_000_000_000,), stride=(0,)),
            "overlapping-view": dict(size=(4, 4), stride=(1, 1)),
            "negative-stride": dict(size=(4,), stride=(-1,)),
            "negative-size": dict(size=(-4,), stride=(1,)),
            "offset-past-storage": dict(size=(4,), stride=(1,), offset=10**12),
            "view-past-storage": dict(size=(4000,), stride=(1,)),
            "storage-claims-1e12": dict(size=(4,), stride=(1,), numel=10**12, data_elems=4),
            "storage-data-missing": dict(size=(4,), stride=(1,), numel=4, data_elems=0),
            "rank-mismatch": dict(size=(2, 2), stride=(1,)),
        }
        for name, kw in views.items():
            cases.append(Case(f"{fmt}-{name}", _write("vqvae.pth.tar", craft.tensor_checkpoint(legacy, **kw))))
    big = b"\0" * (64 << 20)
    cases.append(
        Case("zip-compressed-64MB-pkl", _write("vqvae.pth.tar", craft.zip_file(big, compression=zipfile.ZIP_DEFLATED)))
    )
    cases.append(
        Case(
            "zip-pkl-over-bound",
            _write("vqvae.pth.tar", craft.zip_file(craft.checkpoint_pickle(b"N" * 3000))),
            patch={"MAX_PICKLE_BYTES": 1024},
        )
    )
    cases.append(Case("zip-two-data-pkl", _two_pkl))
    members = craft.zip_file(craft.checkpoint_pickle(b"N"), {str(i): b"" for i in range(50)})
    cases.append(Case("zip-too-many-members", _write("vqvae.pth.tar", members), patch={"MAX_ZIP_MEMBERS": 10}))
    cases.append(Case("zip-empty", _write("vqvae.pth.tar", _empty_zip())))
    cases.append(
        Case("zip-member-past-end", _write("vqvae.pth.tar", craft.zip_file(craft.checkpoint_pickle(b"N"))[:-200]))
    )
    for name, data in {
        "empty": b"",
        "one-byte": b"\x80",
        "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        "text": b"not weights\n",
        "random": random.Random(1).randbytes(4096),
        "only-magic": craft.legacy_file(b"")[:30],
    }.items():
        cases.append(Case(f"file-{name}", _write("vqvae.pth.tar", data)))
    cases.append(Case("fifo-pth-tar", _fifo_checkpoint))
    cases.append(Case("char-device-pth-tar", _device_checkpoint))
    cases.append(Case("folder-pth-tar", lambda w: _mkdir(w / "sub" / "vqvae.pth.tar")))
    rng = random.Random(16)
    for source in ("vqvae.pth.tar", "prior_level_1.pth.tar"):
        data = (ORIG / source).read_bytes()
        for cut in (1, 17, 64, 200, 1000, len(data) // 2, len(data) - 1):
            cases.append(Case(f"truncated-{source}-{cut}", _write(source, data[:cut])))
        for i in range(8):
            flipped = bytearray(data)
            pos = rng.randrange(0, min(len(data), 4000))  # the pickle region (structure), not tensor bytes
            flipped[pos] ^= 1 << rng.randrange(8)
            cases.append(Case(f"bitflip-{source}-{i}", _write(source, bytes(flipped)), may_pass=True))
    return cases


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _empty_zip() -> bytes:
    import io

    out = io.BytesIO()
    zipfile.ZipFile(out, "w").close()
    return b"PK\x03\x04" + out.getvalue()


def _two_pkl(where: Path) -> Path:
    path = where / "vqvae.pth.tar"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a/data.pkl", craft.checkpoint_pickle(b"N"))
        archive.writestr("b/data.pkl", craft.checkpoint_pickle(b"N"))
    return path


def _fifo_checkpoint(where: Path) -> Path:
    path = where / "prior_level_2.pth.tar"
    os.mkfifo(path)
    return path


def _device_checkpoint(where: Path) -> Path:
    path = where / "vqvae.pth.tar"
    path.symlink_to("/dev/zero")
    return path


CASES = config_cases() + checkpoint_cases()
_SLOW = ("bitflip-prior_level_1", "config-metadata_dims-11-list")  # several seconds each: presets built on meta


def _params() -> list[object]:
    return [pytest.param(c, marks=pytest.mark.slow) if c.name.startswith(_SLOW) else c for c in CASES]


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_symlink() or not path.is_dir():
            out[str(path)] = "special"
    return out


def _case_body(target: Path, patch: dict[str, int] | None) -> Callable[[], object]:
    def body() -> object:
        for name, value in (patch or {}).items():
            setattr(limits, name, value)
        info = import_model([target], name="hostile")
        return info.name

    return body


def test_there_are_at_least_150_variants() -> None:
    assert len(CASES) >= 150, len(CASES)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", _params(), ids=lambda c: c.name)
def test_hostile_model_input_is_refused_cleanly(case: Case, tmp_path: Path) -> None:
    where = tmp_path / "input"
    where.mkdir()
    target = case.build(where)
    before = _digest(where)
    outcome = run_forked(_case_body(target, case.patch), timeout=60)
    store = paths.model_store_dir()
    leftovers = sorted(p.name for p in store.iterdir()) if store.exists() else []
    growth = outcome.peak_rss_mb - parent_rss_mb()
    clean = outcome.kind != "timeout" and growth < RSS_BOUND_MB
    if outcome.kind == "ok":
        clean = clean and case.may_pass and leftovers == ["hostile"]
    else:
        clean = clean and outcome.raised(*TYPED) and (str(where) in outcome.message) and leftovers == []
    Tally.add("checkpoints/configs", clean, outcome.peak_rss_mb, case.name)
    assert outcome.kind != "timeout", f"{case.name}: hung (> 60 s)"
    assert growth < RSS_BOUND_MB, f"{case.name}: peak RSS grew {growth:.0f} MB"
    if outcome.kind == "ok":
        assert case.may_pass, f"{case.name}: imported a hostile input"
    else:
        assert outcome.raised(*TYPED), f"{case.name}: {outcome.exc_type}: {outcome.message}\n{outcome.trace}"
        assert str(where) in outcome.message, f"{case.name}: the message does not name the file: {outcome.message}"
        assert str(where) in outcome.message.splitlines()[0], outcome.message  # the head line names it
        assert leftovers == [], f"{case.name}: store leftovers {leftovers}"
    assert _digest(where) == before, f"{case.name}: the input was modified"
    shutil.rmtree(store / "hostile", ignore_errors=True)


CLI_CASES = ["config-num_layers-50M", "legacy-memo-bomb-put", "fifo-pth-tar"]  # a new interpreter each: few


@pytest.mark.slow
@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_import_of_hostile_input_prints_one_line_and_exits_2(name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == name or c.name == f"legacy-{name}")
    where = tmp_path / "input"
    where.mkdir()
    target = case.build(where)
    run = subprocess.run(
        [sys.executable, "-m", "jukestudio.cli.main", "models", "import", str(target)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    # `models import` reports refused weights as "import failed: ..." with its own exit status (cli/models.py)
    lines = [line for line in run.stderr.splitlines() if line.startswith(("error:", "import failed:"))]
    clean = run.returncode in (EXIT_PROBLEM, 2) and "Traceback" not in run.stderr and len(lines) == 1
    Tally.add("checkpoints/configs (CLI)", clean and str(where) in lines[0])
    assert run.returncode in (EXIT_PROBLEM, 2), run.stderr
    assert "Traceback" not in run.stderr
    assert len(lines) == 1 and str(where) in lines[0], run.stderr
