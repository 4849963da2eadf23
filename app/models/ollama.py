"""Ollama's own API on this computer: the models it has, and pulling a catalog entry.

    models = await ollama_models()            # None: Ollama is not running
    await ollama_pull("qwen3:1.7b", progress=print, control=control)

`GET /api/tags` lists its models; `POST /api/pull {"model", "stream": true}`
answers JSON lines with `status` and, per layer, `digest`/`total`/`completed`.
A pulled model runs as "ollama/<name>" through Troupe's Ollama provider.
Ollama keeps what it fetched: a stopped pull continues where it was next time.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import httpx

from app.models.download import (
    Control,
    DownloadError,
    Outcome,
    Progress,
    ProgressCallback,
)
from app.providers.registry import OLLAMA_BASE

__all__ = ["OllamaModel", "ollama_base", "ollama_models", "ollama_pull"]

PROBE_TIMEOUT = 2.0
"""Seconds to wait for Ollama's model list before taking it as not running."""


@dataclass(frozen=True)
class OllamaModel:
    """A model Ollama has."""

    name: str
    """Its name in Ollama, e.g. "qwen3:1.7b"."""
    size: int
    """Bytes on disk."""

    @property
    def model(self) -> str:
        """The model string it runs as in Troupe: "ollama/<name>"."""
        return f"ollama/{self.name}"


def ollama_base() -> str:
    """Ollama's native API root: $TROUPE_OLLAMA_URL (or the default) without its /v1."""
    base = os.environ.get("TROUPE_OLLAMA_URL", "").strip() or OLLAMA_BASE
    base = base.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _client(timeout: float | httpx.Timeout | None) -> httpx.AsyncClient:
    # Ollama is on this computer: never through the environment's proxy
    return httpx.AsyncClient(base_url=ollama_base(), timeout=timeout, trust_env=False)


async def ollama_models() -> list[OllamaModel] | None:
    """Ollama's models, or None when no Ollama answers."""
    try:
        async with _client(PROBE_TIMEOUT) as client:
            response = await client.get("/api/tags")
            response.raise_for_status()
            data = response.json()
        return [OllamaModel(str(m["name"]), int(m.get("size") or 0)) for m in data["models"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


async def ollama_pull(name: str, *, progress: ProgressCallback | None = None,
                      control: Control | None = None) -> Outcome:
    """Have Ollama pull `name`, reporting progress; DownloadError in one line on failure."""
    control = control or Control()
    layers: dict[str, tuple[int, int]] = {}
    started = time.monotonic()
    try:
        async with _client(httpx.Timeout(30.0, read=300.0)) as client, client.stream(
                "POST", "/api/pull", json={"model": name, "stream": True}) as response:
            if response.status_code >= 400:
                await response.aread()
                raise DownloadError(f"Ollama refused to pull {name}: {_error(response.text)}")
            async for line in response.aiter_lines():
                if control.stopping:
                    return Outcome.CANCELLED if control.cancelled else Outcome.PAUSED
                if _step(line, name, layers) and progress is not None:
                    progress(_progress(layers, started))
    except httpx.HTTPError as exc:
        raise DownloadError(f"cannot reach Ollama at {ollama_base()} ({exc or type(exc).__name__}); "
                            f"is it running? (`ollama serve`)") from exc
    return Outcome.DONE


def _step(line: str, name: str, layers: dict[str, tuple[int, int]]) -> bool:
    """Fold one line of the pull into `layers`; True if the bytes moved. Raises on an error line."""
    if not line.strip():
        return False
    try:
        data = json.loads(line)
    except ValueError:
        return False
    if error := data.get("error"):
        raise DownloadError(f"Ollama could not pull {name}: {error}")
    if data.get("digest") and data.get("total"):
        layers[data["digest"]] = (int(data.get("completed") or 0), int(data["total"]))
        return True
    return False


def _progress(layers: dict[str, tuple[int, int]], started: float) -> Progress:
    done = sum(c for c, _ in layers.values())
    total = sum(t for _, t in layers.values())
    elapsed = time.monotonic() - started
    speed = done / elapsed if elapsed > 0 else 0.0  # Ollama resumes: the first run's average
    eta = (total - done) / speed if speed > 0 else None
    return Progress(done, total, speed, eta)


def _error(text: str) -> str:
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text.strip()[:200] or "no reason given"
