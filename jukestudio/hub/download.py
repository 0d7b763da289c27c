"""Resumable, verified downloads of a Hub repo's files through ``huggingface_hub``.

The client gives us the file listing with each LFS file's sha256 (``HfApi.model_info(files_metadata=
True)``), the URLs (``hf_hub_url``), auth headers (``build_hf_headers``: ``HF_TOKEN`` / the saved
token), its configured HTTP session (``get_session``) and its error types (``hf_raise_for_status``).
It honours ``HF_ENDPOINT``, ``HF_HOME``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` itself. What it does
not do — and what this module adds — is resume after a crash or kill (its ``.incomplete`` file is
started again from zero by the next call) and check content (it checks sizes only). So each file is
written to ``<name>.part`` in a folder named by the repo and the resolved commit, continued with an
HTTP ``Range`` request after any restart, checked (LFS: sha256; small files: the git blob id) and only
then renamed to its real name. A file that fails the check is deleted and named in the error.

Errors are :class:`DownloadError` with a one-line message saying what happened and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukestudio import paths
from jukestudio.engine.progress import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

_CHUNK = 256 << 10  # bytes per read: written (and resumable) and cancel checked this often
_RETRIES = 3  # a dropped connection is continued (Range) this many times within one call
_TIMEOUT_S = 30.0


class DownloadError(Exception):
    """A download that cannot go on; the message is one line saying why and what to do."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None  # LFS files: the sha256 the hub publishes
    blob_id: str | None  # small files: the git blob id (sha1 of "blob <size>\0" + content)


@dataclass(frozen=True)
class RemoteRepo:
    repo_id: str
    revision: str  # as asked ("main" by default)
    commit: str  # what it resolved to: every file is fetched from this commit
    files: tuple[RemoteFile, ...]
    license: str | None  # the model card's license field, if any
    endpoint: str | None = None


# ----------------------------------------------------------------------------------------------
# Errors


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _is_connection_error(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(
        names & {"ConnectionError", "ConnectError", "TransportError", "Timeout", "TimeoutException", "ProtocolError"}
    ) or isinstance(exc, (ConnectionError, TimeoutError))


def _endpoint(endpoint: str | None) -> str:
    """The given endpoint, else HF_ENDPOINT as it is now (the client reads it once, at import), else the client's."""
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def explain(exc: BaseException, repo_id: str, what: str, endpoint: str | None = None) -> DownloadError:
    """One line for a failed request about ``what`` (the repo, or one of its files)."""
    status = _status(exc)
    where = _endpoint(endpoint)
    if type(exc).__name__ == "OfflineModeIsEnabled":
        return DownloadError(f"offline mode is on (HF_HUB_OFFLINE): unset it to download {repo_id}")
    if status == 401 and type(exc).__name__ == "RepositoryNotFoundError":
        # the Hub answers 401 (not 404) for a repo that does not exist when no token is sent
        return DownloadError(
            f"{what} was not found on {where}, or it is private or gated (401): check the repo id; "
            "for a private or gated repo set HF_TOKEN (or `huggingface-cli login`)"
        )
    if status in (401, 403) or type(exc).__name__ == "GatedRepoError":
        return DownloadError(
            f"access to {repo_id} was refused ({status or 'gated'}): the repo is gated or private — accept its terms "
            "on the Hub and set HF_TOKEN (or `huggingface-cli login`) to a token with access"
        )
    if status == 404 or type(exc).__name__ in ("RepositoryNotFoundError", "RevisionNotFoundError"):
        return DownloadError(f"{what} was not found on {where} (404): check the repo id and --revision")
    if _is_connection_error(exc):
        return DownloadError(
            f"cannot reach {where} ({type(exc).__name__}): check the network (or HF_ENDPOINT); "
            "run again to resume — finished parts are kept"
        )
    if status is not None:
        return DownloadError(f"{where} answered {status} for {what}: try again later")
    return DownloadError(f"{what}: {type(exc).__name__}: {exc}".splitlines()[0])


# ----------------------------------------------------------------------------------------------
# Listing


def fetch_repo(repo_id: str, revision: str | None = None, *, endpoint: str | None = None) -> RemoteRepo:
    """The repo's files (sizes, sha256) at ``revision`` and the commit it resolves to."""
    from huggingface_hub import HfApi, constants

    offline = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    if constants.HF_HUB_OFFLINE or offline:
        raise DownloadError(f"offline mode is on (HF_HUB_OFFLINE=1): unset it to download {repo_id}")
    endpoint = _endpoint(endpoint)
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as exc:  # the client raises its own HTTP, connection and validation errors
        if isinstance(exc, ValueError) and type(exc).__name__ == "HFValidationError":
            raise DownloadError(
                f"{repo_id!r} is not a valid repo id: use OWNER/NAME, e.g. openai/jukebox-1b-lyrics"
            ) from None
        raise explain(exc, repo_id, f"the repo {repo_id}" + (f" at {revision}" if revision else ""), endpoint) from exc
    files = tuple(
        RemoteFile(
            s.rfilename,
            int(s.lfs.size if s.lfs is not None else (s.size or 0)),
            s.lfs.sha256 if s.lfs is not None else None,
            getattr(s, "blob_id", None),
        )
        for s in (info.siblings or [])
    )
    card = getattr(info, "card_data", None)
    license_id = getattr(card, "license", None) if card is not None else None
    if not info.sha:
        raise DownloadError(f"{_endpoint(endpoint)} did not say which commit {repo_id} is at: cannot download safely")
    return RemoteRepo(repo_id, revision or "main", info.sha, files, license_id, endpoint)


def download_folder(repo: RemoteRepo) -> Path:
    """Where a repo's files are kept until converted: stable across restarts (named by the commit)."""
    owner, _, name = repo.repo_id.partition("/")
    return paths.cache_dir() / "downloads" / f"{owner}--{name}" / repo.commit


# ----------------------------------------------------------------------------------------------
# Transfer


class Meter:
    """Bytes done, speed (recent average) and ETA of a multi-file transfer, as engine Progress."""

    def __init__(self, job_id: str, total: int, report: Callable[[Progress], None], n_files: int) -> None:
        self.job_id, self.total, self.report, self.n_files = job_id, max(total, 1), report, n_files
        self.done = 0
        self.file_index = 0
        self.file_name = ""
        self._samples: list[tuple[float, int]] = [(time.monotonic(), 0)]
        self._last_report = 0.0
        self.transferred = 0  # bytes that came over the network in this call (not resumed ones)

    def skip(self, nbytes: int) -> None:
        """Bytes already on disk (a finished file, or a partial one being resumed)."""
        self.done += nbytes
        self._samples = [(time.monotonic(), self.done)]

    def add(self, nbytes: int) -> None:
        self.done += nbytes
        self.transferred += nbytes
        now = time.monotonic()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 5.0:
            self._samples.pop(0)
        if now - self._last_report >= 0.25:
            self.emit()

    @property
    def speed(self) -> float:
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def emit(self, message: str | None = None) -> None:
        self._last_report = time.monotonic()
        speed = self.speed
        eta = (self.total - self.done) / speed if speed > 0 else None
        text = message or (
            f"{self.file_name}: {human_bytes(self.done)} of {human_bytes(self.total)}"
            + (f", {human_bytes(speed)}/s" if speed > 0 else "")
            + (f", {human_duration(eta)} left" if eta is not None else "")
        )
        self.report(
            Progress(
                self.job_id,
                0,
                self.file_index,
                self.n_files,
                self.done,
                self.total,
                speed,
                eta,
                min(self.done / self.total, 1.0),
                text,
            )
        )


def human_bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GB" else f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


@contextlib.contextmanager
def _get(url: str, headers: dict[str, str]) -> Iterator[tuple[Any, Iterator[bytes]]]:
    """A streamed GET through the client's own session (requests before huggingface_hub 1.0, httpx after)."""
    from huggingface_hub.utils import get_session

    session = get_session()
    if callable(getattr(session, "stream", None)):  # httpx.Client (requests.Session.stream is a flag)
        with session.stream("GET", url, headers=headers, follow_redirects=True, timeout=_TIMEOUT_S) as response:
            if response.status_code >= 400:
                response.read()
            yield response, response.iter_bytes(_CHUNK)
    else:  # requests.Session
        with session.get(url, headers=headers, stream=True, timeout=_TIMEOUT_S) as response:
            yield response, response.iter_content(_CHUNK)


def _check(path: Path, remote: RemoteFile, meter: Meter | None = None, cancel: CancelToken | None = None) -> None:
    """sha256 (LFS) or git blob id (small files) of a complete file; a mismatch deletes it."""
    if remote.sha256:
        digest, expected, kind = hashlib.sha256(), remote.sha256, "sha256"
    elif remote.blob_id:
        digest, expected, kind = hashlib.sha1(f"blob {remote.size}\0".encode()), remote.blob_id, "git blob id"
    else:
        return
    if meter is not None:
        meter.emit(f"checking {remote.name} ({human_bytes(remote.size)})")
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * _CHUNK):
            digest.update(chunk)
            if cancel is not None:
                cancel.raise_if_cancelled()  # hashing 10 GB takes a while; the file stays for next time
    if digest.hexdigest() != expected:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{remote.name} is corrupt: its {kind} {digest.hexdigest()[:16]}… does not match the published "
            f"{expected[:16]}…; the file was deleted — run again to fetch it anew"
        )


def fetch_file(
    repo: RemoteRepo,
    remote: RemoteFile,
    folder: Path,
    meter: Meter,
    cancel: CancelToken,
    token: str | None = None,
) -> Path:
    """Bring one file into ``folder`` (resuming its ``.part``), check it, and give it its real name."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    final = folder / remote.name
    part = folder / f"{remote.name}.part"
    meter.file_name = remote.name
    if final.is_file() and final.stat().st_size == remote.size:
        _check(final, remote, meter if remote.size > 100 * _CHUNK else None, cancel)  # it may have been damaged since
        meter.skip(remote.size)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    meter.skip(have)
    url = hf_hub_url(repo.repo_id, remote.name, revision=repo.commit, endpoint=repo.endpoint)
    failures = 0
    while have < remote.size:
        cancel.raise_if_cancelled()
        if failures > _RETRIES:
            raise DownloadError(
                f"the connection to {_endpoint(repo.endpoint)} keeps dropping while fetching {remote.name}: "
                "run again to resume — finished parts are kept"
            )
        headers = build_hf_headers(token=token)
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with _get(url, headers) as (response, chunks):
                if response.status_code >= 400:
                    hf_raise_for_status(response)
                if have and response.status_code != 206:  # the server ignored the range: start over
                    meter.skip(-have)
                    have = 0
                with open(part, "ab" if have else "wb") as out:
                    for chunk in chunks:
                        out.write(chunk)
                        have += len(chunk)
                        meter.add(len(chunk))
                        if have > remote.size:
                            break
                        cancel.raise_if_cancelled()
        except (Cancelled, DownloadError):
            raise
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DownloadError(
                    f"the disk is full while writing {remote.name} ({folder}): free some space and run again "
                    "— the download resumes where it stopped"
                ) from None
            if not _is_connection_error(exc):
                raise explain(exc, repo.repo_id, remote.name, repo.endpoint) from exc
        except Exception as exc:
            if not _is_connection_error(exc) or _status(exc) is not None:
                raise explain(exc, repo.repo_id, remote.name, repo.endpoint) from exc
        if have > remote.size:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{remote.name}: the server sent more than its published size; run again")
        if have < remote.size:
            failures += 1  # the stream broke off: continue it with a Range request
            log.info("%s: transfer broke off at %d of %d bytes; continuing", remote.name, have, remote.size)
    _check(part, remote, meter, cancel)
    part.replace(final)
    return final
