"""The Jukebox repos we know on the Hub, their sizes and license, and which licenses were accepted.

Download sizes: the 1B repo's published file sizes; the 5B repo's computed from its parameter count
(fp32 on the Hub), marked as an estimate. Store sizes are computed from the models' tensors (meta
device) with the fp16 rule of ``store.is_half_stored``. Any other repo id can be downloaded too: its sizes
then come from the Hub's file listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from jukestudio import paths
from jukestudio.atomic import atomic_write_json

LICENSE_NAME = "OpenAI Noncommercial Use License"
_ACCEPTED_FILE = "accepted_licenses.json"
GB = 1e9


@dataclass(frozen=True)
class CatalogueEntry:
    repo_id: str
    title: str
    download_bytes: int
    store_bytes_fp32: int
    store_bytes_fp16: int
    gpu_memory: str
    license_name: str
    note: str


KNOWN: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        "openai/jukebox-1b-lyrics",
        "Jukebox 1B with lyrics",
        int(11.64 * GB),
        int(11.63 * GB),
        int(6.63 * GB),
        "≈ 8 GB (fp16, one part on the GPU at a time)",
        LICENSE_NAME,
        "the smaller, faster model",
    ),
    CatalogueEntry(
        "openai/jukebox-5b-lyrics",
        "Jukebox 5B with lyrics",
        int(30.4 * GB),
        int(30.42 * GB),
        int(16.14 * GB),
        "≈ 16 GB (fp16)",
        LICENSE_NAME,
        "the best quality; sizes estimated from the parameter count",
    ),
)


def known(repo_id: str) -> CatalogueEntry | None:
    return next((e for e in KNOWN if e.repo_id.lower() == repo_id.lower()), None)


def license_text() -> str:
    """The full text of the OpenAI Noncommercial Use License (shipped with the vocab tables)."""
    from jukestudio.resources_path import resource

    return resource("vocab", "LICENSE").read_text(encoding="utf-8")


def _accepted() -> dict[str, dict[str, str]]:
    import json

    path = paths.settings_dir() / _ACCEPTED_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def is_accepted(repo_id: str, license_name: str) -> bool:
    """Whether this model's license was accepted before (per repo and license name)."""
    record = _accepted().get(repo_id.lower())
    return record is not None and record.get("license") == license_name


def accept(repo_id: str, license_name: str) -> None:
    """Remember that the user accepted this model's license."""
    records = _accepted()
    records[repo_id.lower()] = {
        "license": license_name,
        "accepted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_json(paths.settings_dir() / _ACCEPTED_FILE, records)
