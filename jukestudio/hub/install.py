"""Download a Jukebox repo and convert it into the model store: one job, resumable after a kill.

``plan(repo_id)`` asks the Hub what there is (nothing is fetched) and works out the sizes;
``check_disk(plan)`` refuses with the figures when download + converted store do not fit;
``run(plan, report, cancel)`` fetches (small files first, so a repo that is not a Jukebox model is
refused before gigabytes move), checks every file, converts into the store and returns its entry.
The caller asks whether to ``delete_download(plan)`` afterwards (the store is what runs).

The license must have been accepted (``catalogue.accept``) before ``run`` starts.
A ``download.json`` beside the files records what is being fetched, so a restarted app can list
``unfinished()`` downloads and resume them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jukestudio import paths
from jukestudio.atomic import atomic_write_json
from jukestudio.engine.progress import Cancelled, CancelToken, Progress
from jukestudio.hub import catalogue
from jukestudio.hub.download import (
    DownloadError,
    Meter,
    RemoteFile,
    RemoteRepo,
    download_folder,
    fetch_file,
    fetch_repo,
    human_bytes,
)

log = logging.getLogger(__name__)

RECORD = "download.json"
_WEIGHTS = re.compile(r"^(pytorch_model|model)(-\d+-of-\d+)?\.(bin|safetensors)(\.index\.json)?$")
_FP16_SHARE = 0.53  # fp16 store / fp32 weights: nearly all of Jukebox's bytes are transformer matrices
_MARGIN = 256 << 20  # keep some room: a disk filled to the last byte breaks other programs


@dataclass(frozen=True)
class Plan:
    repo: RemoteRepo
    files: tuple[RemoteFile, ...]  # what will be fetched: config, tokenizer files, weights
    name: str  # the store entry it becomes
    store_dtype: str  # "fp32" | "fp16"
    license_name: str
    download_bytes: int  # all files
    missing_bytes: int  # not yet on disk (a resumed download needs less)
    store_bytes: int  # the converted entry (estimate)

    @property
    def folder(self) -> Path:
        return download_folder(self.repo)


def _chosen_files(repo: RemoteRepo) -> tuple[RemoteFile, ...]:
    """Config and tokenizer json files plus one set of weights (safetensors if the repo has them)."""
    weights = [f for f in repo.files if _WEIGHTS.match(f.name)]
    preferred = [f for f in weights if ".safetensors" in f.name] or [f for f in weights if ".bin" in f.name]
    small = [f for f in repo.files if f.name.endswith(".json") and "/" not in f.name and f not in weights]
    return tuple(sorted(small, key=lambda f: f.name) + sorted(preferred, key=lambda f: f.name))


def default_name(repo_id: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", repo_id.rpartition("/")[2]).strip(".-") or "model"
    return cleaned[:64]


def plan(
    repo_id: str,
    revision: str | None = None,
    *,
    store_dtype: str = "fp32",
    name: str | None = None,
    endpoint: str | None = None,
) -> Plan:
    """What downloading ``repo_id`` means: files, sizes, the store entry. Fetches only the listing."""
    from jukestudio.model.weights.store import STORE_DTYPES, check_name

    if store_dtype not in STORE_DTYPES:
        raise DownloadError(f"unknown store dtype {store_dtype!r}: use {' or '.join(STORE_DTYPES)}")
    repo = fetch_repo(repo_id, revision, endpoint=endpoint)
    files = _chosen_files(repo)
    if not any(f.name == "config.json" for f in files) or not any(_WEIGHTS.match(f.name) for f in files):
        raise DownloadError(
            f"{repo_id} is not a Jukebox model: it has no config.json with pytorch_model*.bin or model*.safetensors"
        )
    folder = download_folder(repo)
    on_disk = 0
    for f in files:
        if (folder / f.name).is_file():
            on_disk += f.size
        elif (folder / f"{f.name}.part").is_file():
            on_disk += min((folder / f"{f.name}.part").stat().st_size, f.size)
    total = sum(f.size for f in files)
    weights = sum(f.size for f in files if _WEIGHTS.match(f.name) and not f.name.endswith(".json"))
    entry = catalogue.known(repo_id)
    if entry is not None:
        store_bytes = entry.store_bytes_fp16 if store_dtype == "fp16" else entry.store_bytes_fp32
        store_bytes = int(store_bytes * weights / entry.download_bytes) if weights else store_bytes
    else:
        store_bytes = int(weights * (_FP16_SHARE if store_dtype == "fp16" else 1.0))
    license_name = entry.license_name if entry else (repo.license or "the license stated on the repo's page")
    return Plan(
        repo,
        files,
        check_name(name or default_name(repo_id)),
        store_dtype,
        license_name,
        total,
        total - on_disk,
        store_bytes,
    )


def check_disk(plan: Plan) -> None:
    """Refuse, with the figures, when the rest of the download and the converted store do not fit."""
    folder = plan.folder
    folder.mkdir(parents=True, exist_ok=True)
    store = paths.model_store_dir()
    needs = {folder: plan.missing_bytes + _MARGIN, store: plan.store_bytes + _MARGIN}
    if os.stat(folder).st_dev == os.stat(store).st_dev:
        needs = {folder: plan.missing_bytes + plan.store_bytes + _MARGIN}
    for where, needed in needs.items():
        free = shutil.disk_usage(where).free
        if free < needed:
            raise DownloadError(
                f"not enough disk space: {plan.repo.repo_id} needs {human_bytes(needed)} "
                f"({human_bytes(plan.missing_bytes)} to download + {human_bytes(plan.store_bytes)} converted + "
                f"{human_bytes(_MARGIN)} headroom) "
                f"but {where} has {human_bytes(free)} free: free some space or set JUKESTUDIO_HOME to a larger disk"
            )


def _write_record(plan: Plan, state: str) -> None:
    atomic_write_json(
        plan.folder / RECORD,
        {
            "repo_id": plan.repo.repo_id,
            "revision": plan.repo.revision,
            "commit": plan.repo.commit,
            "endpoint": plan.repo.endpoint,
            "name": plan.name,
            "store_dtype": plan.store_dtype,
            "state": state,  # "downloading" | "converted"
        },
    )


def unfinished() -> list[dict[str, str]]:
    """Downloads a closed or killed app left (their records), to offer resuming them."""
    root = paths.cache_dir() / "downloads"
    found = []
    for record in sorted(root.glob(f"*/*/{RECORD}")):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("state") == "downloading":
            found.append({str(k): str(v) for k, v in data.items()})
    return found


def _check_config(plan: Plan) -> None:
    try:
        config = json.loads((plan.folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DownloadError(f"{plan.repo.repo_id}: its config.json is unreadable ({exc})") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind != "jukebox":
        raise DownloadError(
            f"{plan.repo.repo_id} is not a Jukebox model (its config.json says model_type {kind!r}): "
            "choose a Jukebox repo such as openai/jukebox-1b-lyrics"
        )


def run(
    plan: Plan,
    report: Callable[[Progress], None],
    cancel: CancelToken,
    *,
    job_id: str = "download",
    overwrite: bool = False,
):
    """Fetch, check and convert; returns the new store entry's ``ModelInfo``.

    Raises DownloadError (one line), Cancelled (what was fetched stays for the next run), or the
    store's CheckpointError / StoreError for weights that cannot be converted.
    """
    from jukestudio.model.weights.store import import_model

    if not catalogue.is_accepted(plan.repo.repo_id, plan.license_name):
        raise DownloadError(
            f"the license of {plan.repo.repo_id} ({plan.license_name}) has not been accepted: "
            "read it and accept it first (--accept-license)"
        )
    check_disk(plan)
    _write_record(plan, "downloading")
    meter = Meter(job_id, plan.download_bytes, report, len(plan.files))
    for index, remote in enumerate(plan.files):
        meter.file_index = index
        fetch_file(plan.repo, remote, plan.folder, meter, cancel)
        if remote.name == "config.json":
            _check_config(plan)
    meter.emit(f"downloaded {human_bytes(plan.download_bytes)}; converting into the store")

    def converting(fraction: float, message: str) -> None:
        cancel.raise_if_cancelled()
        report(Progress(job_id, 0, 0, 1, 0, 0, 0.0, None, float(fraction), f"converting: {message}"))

    try:
        info = import_model(
            [plan.folder], name=plan.name, progress=converting, store_dtype=plan.store_dtype, overwrite=overwrite
        )
    except OSError as exc:
        if getattr(exc, "errno", None) == 28:  # ENOSPC
            raise DownloadError(
                f"the disk is full while converting {plan.repo.repo_id}: free some space and run again "
                "(the download is kept)"
            ) from None
        raise
    _write_record(plan, "converted")
    log.info("downloaded %s@%s into the store as %s", plan.repo.repo_id, plan.repo.commit, info.name)
    return info


def delete_download(plan: Plan) -> int:
    """Remove the downloaded files (the store keeps the converted model); returns the bytes freed."""
    folder = plan.folder
    freed = sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0
    shutil.rmtree(folder, ignore_errors=True)
    parent = folder.parent
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
    return freed


__all__ = ["Cancelled", "DownloadError", "Plan", "check_disk", "delete_download", "plan", "run", "unfinished"]
