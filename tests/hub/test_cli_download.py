"""`jukestudio-cli models download`: license prompt, progress, cache deletion, and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jukestudio.cli.main import main
from jukestudio.hub import catalogue, install
from jukestudio.model.weights.store import list_models
from tests.hub.conftest import REPO_ID
from tests.hub.fake_hub import FakeHub

SHARD_1 = "pytorch_model-00001-of-00002.bin"


@pytest.fixture
def endpoint(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)  # jukestudio passes HF_ENDPOINT as it is when a download starts
    return hub


def test_download_refuses_without_the_license_then_converts_and_deletes_the_cache(endpoint: FakeHub, capsys) -> None:
    assert main(["models", "download", REPO_ID]) == 1
    captured = capsys.readouterr()
    assert "accept the license of tiny/jukebox first (--accept-license)" in captured.err
    assert not any("/resolve/" in e.path for e in endpoint.state.log)

    assert main(["models", "download", REPO_ID, "--accept-license", "--dtype", "fp16"]) == 0
    captured = capsys.readouterr()
    assert "This model is licensed under: other" in captured.out
    assert "downloaded jukebox: custom, all parts" in captured.out
    assert "deleted the download cache" in captured.out  # the default answer when nobody can be asked
    assert "100.0%" in captured.err and "[file 9/9]" in captured.err
    assert [(m.name, m.store_dtype) for m in list_models()] == [("jukebox", "fp16")]
    assert not any((Path(os.environ["JUKESTUDIO_HOME"]) / "cache" / "downloads").glob("*/*"))
    # accepted once, remembered: a second download (another name) needs no flag
    assert main(["models", "download", REPO_ID, "--name", "again", "--keep-cache", "--quiet"]) == 0
    assert "kept the downloaded files" in capsys.readouterr().out


def test_download_errors_are_one_line_with_exit_code_1(endpoint: FakeHub, capsys) -> None:
    assert main(["models", "download", "nobody/nothing"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("download failed: the repo nobody/nothing was not found") and err.count("\n") == 1


def test_catalogue_lists_the_known_models(capsys) -> None:
    assert main(["models", "catalogue"]) == 0
    out = capsys.readouterr().out
    assert "openai/jukebox-1b-lyrics" in out and "11.64 GB" in out and "OpenAI Noncommercial Use License" in out


@pytest.mark.slow
def test_a_killed_download_resumes_where_it_stopped(hub: FakeHub, tmp_path: Path) -> None:
    """SIGKILL mid-shard; the next run asks only for the rest (the server's log of Range requests)."""
    catalogue.accept(REPO_ID, "other")
    hub.state.throttle = 400_000  # bytes/s: the first shard takes seconds
    env = dict(os.environ, HF_ENDPOINT=hub.url, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "jukestudio.cli.main", "models", "download", REPO_ID, "--keep-cache"]
    with open(tmp_path / "first.log", "wb") as log:
        first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not any(e.sent > 1_300_000 for e in hub.state.sent_for(SHARD_1)):  # past the first 1 MiB chunk
            assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    plan = install.plan(REPO_ID, endpoint=hub.url)
    part = plan.folder / f"{SHARD_1}.part"
    kept = part.stat().st_size
    size = next(f.size for f in plan.files if f.name == SHARD_1)
    assert 0 < kept < size and not (plan.folder / SHARD_1).exists()
    small_gets = len([e for e in hub.state.log if e.path.endswith(".json") and "/resolve/" in e.path])

    hub.state.throttle = None
    second = subprocess.run([*command, "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    resumed = hub.state.sent_for(SHARD_1)[-1]
    assert len(hub.state.sent_for(SHARD_1)) == 2
    assert resumed.status == 206 and resumed.range_start == kept and resumed.sent == size - kept
    # the small files finished before the kill were checked on disk, not fetched again (only the index)
    again = [e for e in hub.state.log if e.path.endswith(".json") and "/resolve/" in e.path][small_gets:]
    assert [Path(e.path).name for e in again] == ["pytorch_model.bin.index.json"]
    assert [m.name for m in list_models()] == ["jukebox"]
