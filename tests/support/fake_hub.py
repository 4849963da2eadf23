"""A local HTTP server on 127.0.0.1 that plays Hugging Face for download tests.

    with FakeHub() as hub:
        hub.add("me/tiny-GGUF", "tiny-Q4_K_M.gguf", b"GGUF" + bytes(100_000))
        os.environ["TROUPE_HF_ENDPOINT"] = hub.url

It serves what the real hub does for a download:
- GET /api/models/<repo>/tree/main: the files, each LFS one with `lfs.oid`
  (its sha256) and `size`;
- GET /<repo>/resolve/main/<file>: a 302 to /cdn/<repo>/<file>, which sends
  the bytes, honouring `Range: bytes=N-` with 206.
- HEAD /<repo>/resolve/main/<file>: a 302 with X-Linked-ETag (the sha256) and
  X-Linked-Size, which a download falls back on when the listing is missing.
Faults, set per test: `wrong_sha` (the listing lies), `no_api` (no listing), `drop_after` (the next
responses stop after that many bytes, `drops` times), `delay` (seconds per
chunk: a slow server to pause), `ignore_range` (always 200 with everything).
`requests` records "GET <path> <Range>" lines.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

CHUNK = 16 * 1024


@dataclass
class _Faults:
    wrong_sha: bool = False
    drop_after: int | None = None
    drops: int = 0
    delay: float = 0.0
    ignore_range: bool = False
    no_api: bool = False
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: Any
    protocol_version = "HTTP/1.1"

    @property
    def hub(self) -> _Faults:
        return self.server.hub  # type: ignore[no-any-return]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = unquote(self.path.split("?", 1)[0])
        self.hub.requests.append(f"GET {path} {self.headers.get('Range') or ''}".rstrip())
        if path.startswith("/api/models/") and self.hub.no_api:
            self._send(404, b'{"error":"not here"}')
        elif path.startswith("/api/models/") and path.endswith("/tree/main"):
            self._tree(path[len("/api/models/"):-len("/tree/main")])
        elif "/resolve/main/" in path:
            repo, name = path[1:].split("/resolve/main/", 1)
            self._redirect(f"/cdn/{repo}/{name}", (repo, name))
        elif path.startswith("/cdn/"):
            repo, _, name = path[len("/cdn/"):].rpartition("/")
            self._file((repo, name))
        else:
            self._send(404, b'{"error":"not found"}')

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        """As the hub: a 302 whose headers name the LFS file's sha256 and size."""
        path = unquote(self.path.split("?", 1)[0])
        self.hub.requests.append(f"HEAD {path}")
        repo, _, name = path[1:].partition("/resolve/main/")
        data = self.hub.files.get((repo, name))
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        sha = hashlib.sha256(b"something else" if self.hub.wrong_sha else data).hexdigest()
        self.send_response(302)
        self.send_header("Location", f"/cdn/{repo}/{name}")
        self.send_header("X-Linked-ETag", f'"{sha}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _tree(self, repo: str) -> None:
        import json  # noqa: PLC0415

        listing = [{"type": "file", "path": "README.md", "size": 10, "oid": "0" * 40}]
        for (r, name), data in self.hub.files.items():
            if r != repo:
                continue
            sha = hashlib.sha256(data).hexdigest()
            if self.hub.wrong_sha:
                sha = hashlib.sha256(b"something else").hexdigest()
            listing.append({"type": "file", "path": name, "size": len(data), "oid": "1" * 40,
                            "lfs": {"oid": sha, "size": len(data), "pointerSize": 134}})
        if len(listing) == 1:
            self._send(404, b'{"error":"Repository not found"}')
            return
        self._send(200, json.dumps(listing).encode(), "application/json")

    def _redirect(self, where: str, key: tuple[str, str]) -> None:
        if key not in self.hub.files:
            self._send(404, b"Entry not found")
            return
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _file(self, key: tuple[str, str]) -> None:
        data = self.hub.files.get(key)
        if data is None:
            self._send(404, b"not found")
            return
        start = self._range_start()
        if start is not None and start >= len(data):
            self._send(416, b"")
            return
        status = 206 if start is not None else 200
        start = start or 0
        self.send_response(status)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self._body(data[start:])

    def _range_start(self) -> int | None:
        header = self.headers.get("Range")
        if not header or self.hub.ignore_range or not header.startswith("bytes="):
            return None
        return int(header[len("bytes="):].split("-", 1)[0])

    def _body(self, body: bytes) -> None:
        limit = None
        with self.hub.lock:
            if self.hub.drops > 0 and self.hub.drop_after is not None:
                self.hub.drops -= 1
                limit = self.hub.drop_after
        sent = 0
        try:
            for offset in range(0, len(body), CHUNK):
                chunk = body[offset:offset + CHUNK]
                if limit is not None and sent + len(chunk) > limit:
                    self.wfile.write(chunk[:max(0, limit - sent)])
                    self.wfile.flush()
                    self.close_connection = True
                    return  # the connection closes short of Content-Length
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                if self.hub.delay:
                    time.sleep(self.hub.delay)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, status: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class FakeHub:
    """The fake hub; a context manager that serves on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.faults = _Faults()
        self._server.hub = self.faults  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        return self.faults.requests

    def add(self, repo: str, name: str, data: bytes) -> None:
        self.faults.files[(repo, name)] = data

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
