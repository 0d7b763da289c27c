"""Downloading a Jukebox repo from a (stand-in) hub: conversion, checks, resume, errors, license, disk."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.hub import catalogue, install
from jukestudio.hub.download import DownloadError
from jukestudio.model.weights.loader import load_model
from jukestudio.model.weights.store import import_model, list_models
from tests.hub.conftest import REPO_ID
from tests.hub.fake_hub import FakeHub

SHARD_1 = "pytorch_model-00001-of-00002.bin"
SHARD_2 = "pytorch_model-00002-of-00002.bin"


def _accepted_plan(hub: FakeHub, **kwargs) -> install.Plan:
    plan = install.plan(REPO_ID, endpoint=hub.url, **kwargs)
    catalogue.accept(REPO_ID, plan.license_name)
    return plan


@torch.no_grad()
def _top_prior_codes(name: str) -> torch.Tensor:
    """Sampled codes of the top prior, decoded by the VQ-VAE, from a fixed seed."""
    model = load_model(name, components=["vqvae", "prior_0"])
    prior = model.priors[0]
    cfg = prior.config
    head = torch.tensor([[0, 0, 0, 4, 3] + [-1] * (cfg.max_nb_genres - 1)])
    labels = torch.cat([head, torch.arange(1, 31).unsqueeze(0) % cfg.lyric_vocab_size], 1) if cfg.has_lyrics else head
    metadata = prior.get_metadata(labels, 0, 4 * prior.sample_length)
    codes = prior.sample(1, metadata=metadata, sample_tokens=24, generator=torch.Generator().manual_seed(7))
    audio = model.vqvae.decode([codes], start_level=2)
    return codes, audio


def test_download_and_conversion_give_the_model_an_import_from_disk_gives(hub: FakeHub, tiny_repo: Path) -> None:
    plan = _accepted_plan(hub)
    assert [f.name for f in plan.files][-3:] == [SHARD_1, SHARD_2, "pytorch_model.bin.index.json"]
    assert "README.md" not in [f.name for f in plan.files]
    reports: list[Progress] = []
    info = install.run(plan, reports.append, CancelToken())
    assert info.name == "jukebox" and info.complete and info.store_dtype == "fp32"
    byte_reports = [p for p in reports if p.tokens_total]
    assert byte_reports[-1].tokens_done == plan.download_bytes == sum(f.size for f in plan.files)
    assert all(a.tokens_done <= b.tokens_done for a, b in itertools.pairwise(byte_reports))

    import_model([tiny_repo], name="from-disk")
    downloaded, from_disk = load_model("jukebox").state_dict(), load_model("from-disk").state_dict()
    assert downloaded.keys() == from_disk.keys()
    assert all(torch.equal(downloaded[k], from_disk[k]) for k in downloaded)
    codes_a, audio_a = _top_prior_codes("jukebox")
    codes_b, audio_b = _top_prior_codes("from-disk")
    assert torch.equal(codes_a, codes_b) and torch.equal(audio_a, audio_b)

    record = json.loads((plan.folder / install.RECORD).read_text())
    assert record["state"] == "converted" and install.unfinished() == []
    assert install.delete_download(plan) > plan.download_bytes - 1
    assert not plan.folder.exists()
    assert [m.name for m in list_models()] == ["from-disk", "jukebox"]


def test_fp16_store_halves_the_transformer_and_keeps_the_rest_fp32(hub: FakeHub) -> None:
    info32 = install.run(_accepted_plan(hub, name="full"), lambda p: None, CancelToken())
    info16 = install.run(_accepted_plan(hub, store_dtype="fp16", name="half"), lambda p: None, CancelToken())
    assert info16.store_dtype == "fp16" and info16.size_bytes < info32.size_bytes
    with safe_open(str(info16.path / "prior_0.safetensors"), "pt") as handle:
        dtypes = {name: handle.get_slice(name).get_dtype() for name in handle.keys()}  # noqa: SIM118
    half = {n for n, d in dtypes.items() if d == "F16"}
    assert half and all(".transformer._attn_mods." in n and n.endswith(".weight") for n in half)
    assert all(dtypes[n] == "F32" for n in dtypes if "layer_norm" in n or "embed" in n or n.endswith(".bias"))
    with safe_open(str(info16.path / "vqvae.safetensors"), "pt") as handle:
        assert {handle.get_slice(n).get_dtype() for n in handle.keys()} == {"F32"}  # noqa: SIM118
    model = load_model("half", components=["prior_0"])
    assert {p.dtype for p in model.priors[0].parameters()} == {torch.float32}  # cast back on the way in
    assert (info16.path / "manifest.json").read_text().count('"store_dtype": "fp16"') == 1


def test_a_corrupted_byte_is_detected_named_and_only_that_file_fetched_again(hub: FakeHub) -> None:
    hub.state.corrupt[SHARD_2] = 1000
    plan = _accepted_plan(hub)
    with pytest.raises(DownloadError) as caught:
        install.run(plan, lambda p: None, CancelToken())
    message = str(caught.value)
    assert SHARD_2 in message and "sha256" in message and "deleted" in message and "\n" not in message
    assert not (plan.folder / SHARD_2).exists() and not (plan.folder / f"{SHARD_2}.part").exists()
    assert (plan.folder / SHARD_1).is_file()  # checked and kept
    assert list_models() == []  # nothing was imported

    hub.state.corrupt.clear()
    before = len(hub.state.sent_for(SHARD_1))
    install.run(plan, lambda p: None, CancelToken())
    assert len(hub.state.sent_for(SHARD_1)) == before  # not fetched again
    assert len(hub.state.sent_for(SHARD_2)) == 2


def test_cancel_keeps_the_part_and_the_next_run_continues_with_a_range(hub: FakeHub) -> None:
    hub.state.throttle = 2e6
    plan = _accepted_plan(hub)
    token = CancelToken()

    def report(p: Progress) -> None:
        if p.tokens_done > plan.download_bytes // 5 and SHARD_1 in p.message:
            token.cancel()

    with pytest.raises(Cancelled):
        install.run(plan, report, token)
    part = plan.folder / f"{SHARD_1}.part"
    kept = part.stat().st_size
    assert 0 < kept < plan.files[-3].size
    assert install.unfinished()[0]["repo_id"] == REPO_ID
    assert install.plan(REPO_ID, endpoint=hub.url).missing_bytes < plan.download_bytes - kept + 1

    hub.state.throttle = None
    install.run(plan, lambda p: None, CancelToken())
    second = hub.state.sent_for(SHARD_1)[-1]
    assert second.status == 206 and second.range_start == kept
    assert second.sent == plan.files[-3].size - kept


def test_license_must_be_accepted_first(hub: FakeHub) -> None:
    plan = install.plan(REPO_ID, endpoint=hub.url)
    with pytest.raises(DownloadError, match=r"license .* has not been accepted"):
        install.run(plan, lambda p: None, CancelToken())
    assert not any("/resolve/" in e.path for e in hub.state.log)
    catalogue.accept(REPO_ID, plan.license_name)
    assert catalogue.is_accepted(REPO_ID, plan.license_name)
    assert not catalogue.is_accepted("openai/jukebox-5b-lyrics", catalogue.LICENSE_NAME)  # per model
    assert "Noncommercial" in catalogue.license_text()


def test_not_enough_disk_space_is_refused_with_the_figures(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _accepted_plan(hub)
    usage = shutil.disk_usage(Path.cwd())
    monkeypatch.setattr(install.shutil, "disk_usage", lambda path: usage._replace(free=100_000_000))
    with pytest.raises(DownloadError) as caught:
        install.run(plan, lambda p: None, CancelToken())
    message = str(caught.value)
    assert "not enough disk space" in message and "100.0 MB free" in message and "to download" in message
    assert not any("/resolve/" in e.path for e in hub.state.log)


def test_errors_are_one_line(hub: FakeHub, tmp_path: Path) -> None:
    def fails(repo_id: str, endpoint: str, revision: str | None = None) -> str:
        with pytest.raises(DownloadError) as caught:
            install.plan(repo_id, revision, endpoint=endpoint)
        assert "\n" not in str(caught.value)
        return str(caught.value)

    assert "was not found" in fails("nobody/nothing", hub.url) and "404" in fails("nobody/nothing", hub.url)
    assert "not found" in fails(REPO_ID, hub.url, revision="no-such-branch")
    assert "cannot reach http://127.0.0.1:9" in fails(REPO_ID, "http://127.0.0.1:9")
    assert "not a valid repo id" in fails("not a repo", hub.url)
    hub.state.gated = True
    assert "refused (403)" in fails(REPO_ID, hub.url) and "gated" in fails(REPO_ID, hub.url)
    hub.state.gated = False
    hub.state.token = "secret"
    assert "refused (401)" in fails(REPO_ID, hub.url) and "HF_TOKEN" in fails(REPO_ID, hub.url)


def test_offline_mode_is_honoured(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="offline mode is on"):
        install.plan(REPO_ID, endpoint=hub.url)
    assert hub.state.log == []


def test_a_token_from_hf_token_is_sent(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.state.token = "secret"
    monkeypatch.setenv("HF_TOKEN", "secret")
    # huggingface_hub reads HF_TOKEN when it builds each request's headers
    install.run(_accepted_plan(hub), lambda p: None, CancelToken())
    assert all(e.status in (200, 206) for e in hub.state.log)


def test_a_repo_that_is_not_jukebox_is_refused_before_the_weights_move(tmp_path: Path, tiny_repo: Path) -> None:
    other = tmp_path / "bert"
    shutil.copytree(tiny_repo, other)
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with FakeHub({"someone/bert": other}) as server:
        plan = install.plan("someone/bert", endpoint=server.url)
        catalogue.accept("someone/bert", plan.license_name)
        with pytest.raises(DownloadError, match=r"not a Jukebox model .*'bert'"):
            install.run(plan, lambda p: None, CancelToken())
        assert not any(e.path.endswith(".bin") for e in server.state.log)


def test_a_full_disk_mid_download_is_one_line_and_the_part_is_kept(hub: FakeHub, monkeypatch) -> None:
    import builtins
    import errno

    from jukestudio.hub import download

    class _FillsUp:
        def __init__(self, handle) -> None:
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            if self.handle.tell() + len(data) > 300_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

    def small_disk(path, mode="r", *args, **kwargs):
        handle = builtins.open(path, mode, *args, **kwargs)  # noqa: SIM115 (closed by the caller's with)
        return _FillsUp(handle) if str(path).endswith(f"{SHARD_1}.part") else handle

    monkeypatch.setattr(download, "open", small_disk, raising=False)
    plan = _accepted_plan(hub)
    with pytest.raises(DownloadError) as caught:
        install.run(plan, lambda p: None, CancelToken())
    assert str(caught.value).startswith(f"the disk is full while writing {SHARD_1}") and "\n" not in str(caught.value)
    kept = (plan.folder / f"{SHARD_1}.part").stat().st_size
    assert 0 < kept <= 300_000 and list_models() == []
    monkeypatch.delattr(download, "open")
    install.run(plan, lambda p: None, CancelToken())  # space freed: it resumes and finishes
    assert hub.state.sent_for(SHARD_1)[-1].range_start == kept


def test_progress_reports_bytes_percent_speed_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    from jukestudio.hub import download

    now = [100.0]
    monkeypatch.setattr(download.time, "monotonic", lambda: now[0])
    reports: list[Progress] = []
    meter = download.Meter("dl", 10_000_000, reports.append, n_files=3)
    meter.file_name = "shard.bin"
    meter.skip(2_000_000)  # resumed bytes count as done but not toward the speed
    for _ in range(4):
        now[0] += 1.0
        meter.add(1_000_000)
    last = reports[-1]
    assert (last.tokens_done, last.tokens_total, last.fraction) == (6_000_000, 10_000_000, 0.6)
    assert last.tokens_per_s == pytest.approx(1e6) and last.eta_s == pytest.approx(4.0)
    assert last.message == "shard.bin: 6.0 MB of 10.0 MB, 1.0 MB/s, 4 s left"
