"""The curated catalog of instruction-tuned GGUF models (resources/model_catalog.json).

The catalog names a repository and a file on Hugging Face, the published size
and what the model needs; it never carries a hash. The expected SHA-256 and size
come from the hub's own file metadata when a download starts (download.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from agents.errors import TroupeError
from resources import RESOURCES_DIR

__all__ = [
    "CATALOG_PATH",
    "DEFAULT_HF_ENDPOINT",
    "HF_ENDPOINT_ENV",
    "CatalogEntry",
    "CatalogError",
    "find_entry",
    "fits",
    "hf_endpoint",
    "load_catalog",
    "total_memory",
]

CATALOG_PATH = RESOURCES_DIR / "model_catalog.json"
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
HF_ENDPOINT_ENV = "TROUPE_HF_ENDPOINT"
"""Overrides the hub's address (a mirror, a company cache, a test's fake hub)."""


class CatalogError(TroupeError):
    """The catalog cannot be read, or names no such model; says why in one line."""


@dataclass(frozen=True)
class CatalogEntry:
    """One downloadable model."""

    id: str
    """Short name used on the command line and as the local model's name."""
    name: str
    """The name people know it by, e.g. "Qwen2.5 1.5B Instruct"."""
    repo: str
    """Hugging Face repository that publishes the GGUF file, e.g. "bartowski/...-GGUF"."""
    file: str
    """The GGUF file in that repository (a Q4_K_M quantisation unless noted)."""
    size_bytes: int
    """The published file size, for display (the hub's own metadata is checked)."""
    parameters: str
    """Parameter count as people say it, e.g. "1.5B"."""
    context_length: int
    """The longest context the model was trained for, in tokens."""
    memory_bytes: int
    """Memory needed to run it: the file + 20% + an 8192-token context's KV cache."""
    licence: str
    """The model's licence, e.g. "Apache-2.0"."""
    description: str
    """One line on what it is good for."""
    ollama: str | None = None
    """Its name in Ollama's library ("qwen3:1.7b"), if it can be pulled there."""

    def url(self, endpoint: str | None = None) -> str:
        """The file's download address on the hub (which redirects to its CDN)."""
        return f"{endpoint or hf_endpoint()}/{self.repo}/resolve/main/{quote(self.file)}"

    def tree_url(self, endpoint: str | None = None) -> str:
        """The hub's file listing of the repository (each LFS file's sha256 and size)."""
        return f"{endpoint or hf_endpoint()}/api/models/{self.repo}/tree/main"


def hf_endpoint() -> str:
    """$TROUPE_HF_ENDPOINT, else $HF_ENDPOINT (huggingface_hub's), else huggingface.co."""
    for var in (HF_ENDPOINT_ENV, "HF_ENDPOINT"):
        if value := os.environ.get(var, "").strip():
            return value.rstrip("/")
    return DEFAULT_HF_ENDPOINT


def load_catalog(path: Path = CATALOG_PATH) -> tuple[CatalogEntry, ...]:
    """Every entry of the catalog file, in its order."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return tuple(_entry(m) for m in data["models"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CatalogError(f"the model catalog {path} is unreadable ({exc}); reinstall Troupe") from exc


def _entry(data: dict[str, object]) -> CatalogEntry:
    return CatalogEntry(
        id=str(data["id"]), name=str(data["name"]), repo=str(data["repo"]),
        file=str(data["file"]), size_bytes=int(data["size_bytes"]),  # type: ignore[call-overload]
        parameters=str(data["parameters"]),
        context_length=int(data["context_length"]),  # type: ignore[call-overload]
        memory_bytes=int(data["memory_bytes"]),  # type: ignore[call-overload]
        licence=str(data["licence"]), description=str(data["description"]),
        ollama=str(data["ollama"]) if data.get("ollama") else None,
    )


def find_entry(name: str, catalog: tuple[CatalogEntry, ...] | None = None) -> CatalogEntry:
    """The entry whose id (or Ollama name, or file name) is `name`; CatalogError if none."""
    entries = load_catalog() if catalog is None else catalog
    wanted = name.strip().lower()
    for entry in entries:
        if wanted in (entry.id.lower(), entry.file.lower(), (entry.ollama or "").lower()):
            return entry
    raise CatalogError(f"no model {name!r} in the catalog; `troupe models list` shows them")


def total_memory() -> int | None:
    """This machine's memory in bytes (MemTotal, or sysconf), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def fits(entry: CatalogEntry, memory: int | None) -> bool | None:
    """Whether the model fits in `memory` bytes (None: unknown)."""
    return None if memory is None else entry.memory_bytes <= memory
