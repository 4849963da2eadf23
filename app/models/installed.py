"""Catalog models on this computer: download and register, list, remove, make default.

A downloaded model lives in <data dir>/models/<file> and is registered through
app.providers.local_models as `local/<id>` (the catalog entry's id), so it works
at once. Half-downloaded files are `<file>.part`: never listed, never registered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from app.models.catalog import CatalogEntry, load_catalog
from app.models.download import (
    Control,
    DownloadResult,
    FreeSpace,
    Outcome,
    ProgressCallback,
    disk_free,
    download,
    part_path,
)
from app.paths import data_dir
from app.providers.local_models import (
    LocalModelInfo,
    LocalModelsError,
    add_local_model,
    list_local_models,
    remove_local_model,
)
from app.settings import load_settings, save_settings

__all__ = [
    "CatalogState",
    "catalog_states",
    "install",
    "loose_files",
    "models_dir",
    "remove",
    "set_default",
]


@dataclass(frozen=True)
class CatalogState:
    """A catalog entry and how far it is on this computer."""

    entry: CatalogEntry
    """The catalog's entry."""
    installed: LocalModelInfo | None
    """The registered local model, once downloaded."""
    partial: int
    """Bytes of a paused download (a `.part` file), 0 if none."""

    @property
    def model(self) -> str:
        """The model string it runs as: "local/<id>"."""
        return f"local/{self.entry.id}"


def models_dir() -> Path:
    """<data dir>/models: where downloads go (and the embedded model)."""
    return data_dir() / "models"


def catalog_states(catalog: tuple[CatalogEntry, ...] | None = None) -> list[CatalogState]:
    """Every catalog entry with its local model (if any) and its paused bytes."""
    registered = {m.name: m for m in _local_models()}
    folder = models_dir()
    states = []
    for entry in load_catalog() if catalog is None else catalog:
        part = part_path(folder / entry.file)
        partial = part.stat().st_size if part.is_file() else 0
        states.append(CatalogState(entry, registered.get(entry.id), partial))
    return states


def loose_files() -> list[Path]:
    """GGUF files in the models folder that no local model uses (e.g. copied in by hand)."""
    used = {m.path.resolve() for m in list_local_models()}  # the embedded model's file too
    folder = models_dir()
    return sorted(p for p in folder.glob("*.gguf") if p.resolve() not in used)


async def install(entry: CatalogEntry, *, progress: ProgressCallback | None = None,
                  control: Control | None = None, endpoint: str | None = None,
                  free_space: FreeSpace = disk_free, retries: int | None = None,
                  backoff: float = 1.0) -> DownloadResult:
    """Download `entry` (resuming) and register it as local/<id> when done."""
    extra = {} if retries is None else {"retries": retries}
    result = await download(entry, models_dir(), progress=progress, control=control,
                            endpoint=endpoint, free_space=free_space, backoff=backoff, **extra)
    if result.outcome is Outcome.DONE:
        register(entry, result.path)
    return result


def register(entry: CatalogEntry, path: Path) -> LocalModelInfo:
    """Make the downloaded file `local/<id>` (replacing an older registration of it)."""
    if any(m.name == entry.id for m in _local_models()):
        remove_local_model(entry.id)
    return add_local_model(entry.id, path)


def remove(name: str) -> list[Path]:
    """Forget the local model `name` and delete its file if it is in the models folder.

    Also deletes a paused download of the catalog entry `name`. Returns the files
    deleted; raises LocalModelsError if there was nothing to remove.
    """
    deleted: list[Path] = []
    known = {m.name: m for m in _local_models()}
    if name in known:
        remove_local_model(name)
        path = known[name].path
        if path.parent.resolve() == models_dir().resolve() and path.is_file():
            path.unlink()
            deleted.append(path)
    entry = next((e for e in load_catalog() if e.id == name), None)
    if entry is not None:
        part = part_path(models_dir() / entry.file)
        if part.is_file():
            part.unlink()
            deleted.append(part)
    if name not in known and not deleted:
        raise LocalModelsError(f"there is no downloaded model named {name!r}; "
                               f"`troupe models list` shows them")
    return deleted


def set_default(model: str) -> None:
    """Save `model` ("local/qwen3-1.7b") as the default model in settings.json."""
    save_settings(replace(load_settings(), default_model=model))


def _local_models() -> list[LocalModelInfo]:
    return [m for m in list_local_models() if not m.embedded]
