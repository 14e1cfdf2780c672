"""A Hugging Face Hub stand-in on 127.0.0.1 for ``docgraph models download``: the few routes
``huggingface_hub.snapshot_download`` (2.4) uses, serving one model repo from a local folder.

- ``GET /api/models/{repo}/revision/{rev}``: the model info (``sha`` = the commit the revision points to);
- ``GET /api/models/{repo}/tree/{commit}``: the file listing (``path``, ``size``, ``oid``), one page;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: a file, with ``X-Repo-Commit``, ``ETag`` and ``Content-Length``.

Unknown repos and revisions answer 404 with the hub's ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``), which is how huggingface_hub tells them apart. Every request path is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class HubRepo:
    repo_id: str
    folder: Path
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    branches: tuple[str, ...] = ("main",)
    corrupt: set[str] = field(default_factory=set)  # files served with their first byte changed (same size)
    requests: list[str] = field(default_factory=list)

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def resolves(self, revision: str) -> bool:
        return revision == self.commit or revision in self.branches


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _tree_entry(folder: Path, path: Path) -> dict[str, Any]:
    """A file as the hub lists it: *.safetensors are LFS files (``lfs.oid`` = sha256), the rest git blobs."""
    data = path.read_bytes()
    entry: dict[str, Any] = {"type": "file", "path": path.relative_to(folder).as_posix(), "size": len(data)}
    if path.suffix == ".safetensors":
        sha256 = hashlib.sha256(data).hexdigest()
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n"
        entry["oid"] = _blob(pointer.encode())
        entry["lfs"] = {"oid": sha256, "size": len(data), "pointerSize": len(pointer)}
    else:
        entry["oid"] = _blob(data)
    return entry


def _handler(repo: HubRepo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            repo.requests.append(f"{self.command} {path}")
            api, files = f"/api/models/{repo.repo_id}/", f"/{repo.repo_id}/resolve/"
            if path.startswith(api):
                self._api(*path[len(api) :].split("/")[:2], body=body)
            elif path.startswith(files):
                revision, _, name = path[len(files) :].partition("/")
                self._file(revision, name, body=body)
            else:
                self._error(404, "RepoNotFound")

        def _api(self, kind: str, revision: str = "", *, body: bool) -> None:
            if kind not in ("revision", "tree"):
                self._error(404, "RepoNotFound")
            elif not repo.resolves(revision):
                self._error(404, "RevisionNotFound")
            elif kind == "revision":
                siblings = [{"rfilename": p.relative_to(repo.folder).as_posix()} for p in repo.files()]
                self._json({"id": repo.repo_id, "sha": repo.commit, "siblings": siblings}, body)
            else:
                self._json([_tree_entry(repo.folder, p) for p in repo.files()], body)

        def _file(self, revision: str, name: str, *, body: bool) -> None:
            file = repo.folder / name
            if not repo.resolves(revision):
                self._error(404, "RevisionNotFound")
            elif not name or not file.is_file():
                self._error(404, "EntryNotFound")
            else:
                data = file.read_bytes()
                etag = _tree_entry(repo.folder, file).get("lfs", {}).get("oid") or _blob(data)
                if name in repo.corrupt:
                    data = bytes([data[0] ^ 1]) + data[1:]
                self.send_response(200)
                self.send_header("X-Repo-Commit", repo.commit)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)

        def _json(self, value: object, body: bool) -> None:
            data = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def _error(self, status: int, code: str) -> None:
            data = json.dumps({"error": code}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler


@contextmanager
def local_hub(repo: HubRepo) -> Iterator[str]:
    """Serve ``repo`` on a free port of 127.0.0.1 while the block runs; yields the endpoint URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repo))
    thread = threading.Thread(target=server.serve_forever, name="local-hub", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
