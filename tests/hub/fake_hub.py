"""A stand-in for the Hugging Face Hub on 127.0.0.1, speaking the part of its API the client uses.

* ``GET /api/models/{repo}[/revision/{rev}]`` → model info with ``sha``, ``siblings`` (size, blobId, LFS sha256);
* ``HEAD|GET /{repo}/resolve/{rev}/{file}`` with ``Range``, answering the headers the client checks
  (``ETag``, ``X-Repo-Commit``, ``Content-Length``, ``Content-Range``; LFS files: ``X-Linked-Size``,
  ``X-Linked-Etag``); 404 with ``X-Error-Code: RepoNotFound`` / ``EntryNotFound``; 401 without the
  token when one is required.

It logs every request (method, path, Range start, bytes sent) so tests can assert what was
transferred, can throttle transfers (bytes/s) and can serve one byte of a file altered while
still publishing the true sha256. Also builds a tiny Jukebox repo laid out like the real one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKENIZER_FILES = ("artists.json", "genres.json", "lyrics.json", "special_tokens_map.json", "tokenizer_config.json")


def build_tiny_repo(hf_model: Path, dest: Path, n_shards: int = 2) -> Path:
    """The tiny fixture model as the real repo has it: sharded zip-pickle ``.bin`` + index + json files."""
    import torch
    from safetensors.torch import load_file

    dest.mkdir(parents=True, exist_ok=True)
    state = load_file(str(hf_model / "model.safetensors"))
    names = sorted(state)
    # the top prior in the first shard, the rest in the second (like the 1B repo's 9.96 GB + 1.68 GB split)
    split = [[n for n in names if not n.startswith("priors.0.")], [n for n in names if n.startswith("priors.0.")]]
    if n_shards == 1:
        split = [names]
    weight_map = {}
    total = 0
    for i, part in enumerate(split, start=1):
        file_name = f"pytorch_model-{i:05d}-of-{len(split):05d}.bin"
        torch.save({n: state[n].clone() for n in part}, dest / file_name)
        for n in part:
            weight_map[n] = file_name
            total += state[n].numel() * state[n].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (dest / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    for name in ("config.json", *TOKENIZER_FILES):
        shutil.copy(hf_model / name, dest / name)
    (dest / "README.md").write_text("---\nlicense: other\n---\n# tiny jukebox\n", encoding="utf-8")
    return dest


@dataclass
class Served:
    method: str
    path: str
    range_start: int | None
    status: int
    sent: int = 0


@dataclass
class HubState:
    repos: dict[str, Path]  # repo id → folder
    throttle: float | None = None  # bytes per second while sending file bodies
    corrupt: dict[str, int] = field(default_factory=dict)  # file name → byte offset served altered
    token: str | None = None  # when set, requests need "Authorization: Bearer <token>"
    gated: bool = False  # answer 403 "GatedRepo" (terms not accepted on the Hub) to every request
    log: list[Served] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entry: Served) -> Served:
        with self.lock:
            self.log.append(entry)
        return entry

    def sent_for(self, file_name: str) -> list[Served]:
        with self.lock:
            return [e for e in self.log if e.method == "GET" and e.path.endswith("/" + file_name)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def _is_lfs(path: Path) -> bool:
    return path.suffix in (".bin", ".safetensors")


class _Handler(BaseHTTPRequestHandler):
    state: HubState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send_json(self, status: int, body: object, error_code: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_code:
            self.send_header("X-Error-Code", error_code)
            self.send_header("X-Error-Message", body.get("error", "") if isinstance(body, dict) else "")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.state.token is None:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.state.token}"

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        entry = self.state.record(Served(self.command, path, None, 0))
        if not self._authorised():
            entry.status = 401
            self._send_json(401, {"error": "Invalid credentials in Authorization header"})
            return
        if self.state.gated:
            entry.status = 403
            self._send_json(403, {"error": "Access to this model is restricted"}, "GatedRepo")
            return
        api = re.match(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?$", path)
        if api:
            repo_id, revision = api.group(1), api.group(2)
            folder = self.state.repos.get(repo_id)
            if folder is None:
                entry.status = 404
                self._send_json(404, {"error": "Repository not found"}, "RepoNotFound")
                return
            if revision not in (None, "main", COMMIT):
                entry.status = 404
                self._send_json(404, {"error": f"Invalid rev id: {revision}"}, "RevisionNotFound")
                return
            siblings = []
            for file in sorted(folder.iterdir()):
                sibling: dict[str, object] = {"rfilename": file.name, "size": file.stat().st_size}
                if _is_lfs(file):
                    sha = _sha256(file)
                    sibling["blobId"] = hashlib.sha1(sha.encode()).hexdigest()
                    sibling["lfs"] = {"size": file.stat().st_size, "sha256": sha, "pointerSize": 134}
                else:
                    sibling["blobId"] = _blob_id(file)
                siblings.append(sibling)
            entry.status = 200
            self._send_json(
                200,
                {"id": repo_id, "modelId": repo_id, "sha": COMMIT, "private": False, "siblings": siblings,
                 "cardData": {"license": "other"}, "tags": []},
            )
            return
        resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        folder = self.state.repos.get(resolve.group(1)) if resolve else None
        if folder is None:
            entry.status = 404
            self._send_json(404, {"error": "Repository not found"}, "RepoNotFound")
            return
        file = folder / resolve.group(3)
        if "/" in resolve.group(3) or not file.is_file():
            entry.status = 404
            self._send_json(404, {"error": "Entry not found"}, "EntryNotFound")
            return
        self._send_file(file, entry)

    def _send_file(self, file: Path, entry: Served) -> None:
        size = file.stat().st_size
        start = 0
        match = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            entry.range_start = start
        status = 206 if match else 200
        entry.status = status
        self.send_response(status)
        etag = _sha256(file) if _is_lfs(file) else _blob_id(file)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if match:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        if _is_lfs(file):
            self.send_header("X-Linked-Size", str(size))
            self.send_header("X-Linked-Etag", f'"{etag}"')
        self.end_headers()
        if self.command == "HEAD":
            return
        data = bytearray(file.read_bytes())
        bad = self.state.corrupt.get(file.name)
        if bad is not None:
            data[bad] ^= 0xFF
        step = 16 << 10
        try:
            for pos in range(start, size, step):
                piece = bytes(data[pos : pos + step])
                self.wfile.write(piece)
                entry.sent += len(piece)
                if self.state.throttle:
                    time.sleep(len(piece) / self.state.throttle)
        except (BrokenPipeError, ConnectionResetError):
            pass


class FakeHub:
    """The server in a background thread: ``with FakeHub({"owner/name": folder}) as hub: hub.url``."""

    def __init__(self, repos: dict[str, Path], **options: object) -> None:
        self.state = HubState(repos, **options)  # type: ignore[arg-type]
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
