"""A local HTTP server on 127.0.0.1 that answers like Ollama's own API.

    with FakeOllama(models=["llama3.2:1b"]) as ollama:
        os.environ["TROUPE_OLLAMA_URL"] = ollama.url + "/v1"

GET /api/tags lists `models`; POST /api/pull streams JSON lines as Ollama does
(pulling manifest, one layer's total/completed in steps, verifying, success)
and then lists the model too. A name in `unknown` gets Ollama's error line.
`pulls` records the bodies of the pull requests.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LAYER = 4_000_000
STEPS = 4


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/api/tags":
            self._json(404, {"error": "not found"})
            return
        models = [{"name": n, "model": n, "size": LAYER, "digest": "ab" * 32}
                  for n in self.server.models]
        self._json(200, {"models": models})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.pulls.append(body)
        if self.path != "/api/pull":
            self._json(404, {"error": "not found"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        for line in self._lines(str(body.get("model"))):
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()
        self.close_connection = True

    def _lines(self, name: str) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if name in self.server.unknown:
            return [*lines, {"error": "pull model manifest: file does not exist"}]
        digest = "sha256:" + "cd" * 32
        lines += [{"status": f"pulling {digest[7:19]}", "digest": digest, "total": LAYER,
                   "completed": LAYER * step // STEPS} for step in range(STEPS + 1)]
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                  {"status": "success"}]
        self.server.models.append(name)
        return lines

    def _json(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class FakeOllama:
    def __init__(self, models: list[str] | None = None, unknown: tuple[str, ...] = ()) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.models = list(models or [])  # type: ignore[attr-defined]
        self._server.unknown = unknown  # type: ignore[attr-defined]
        self._server.pulls = []  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def models(self) -> list[str]:
        return self._server.models  # type: ignore[attr-defined, no-any-return]

    @property
    def pulls(self) -> list[dict[str, Any]]:
        return self._server.pulls  # type: ignore[attr-defined, no-any-return]

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
