"""`troupe models list|download|remove`: the model catalog on the command line.

A download shows a progress bar on stderr, resumes a paused one (Ctrl-C pauses:
the `.part` stays), checks the hub's SHA-256, and registers the model as
`local/<id>` so it works at once; `--default` makes it the default model.
`--ollama` has a running Ollama pull the entry instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from agents.errors import TroupeError
from app.models.catalog import (
    CatalogEntry,
    CatalogError,
    find_entry,
    fits,
    load_catalog,
    total_memory,
)
from app.models.download import Control, Outcome, Progress, human_bytes
from app.models.installed import (
    CatalogState,
    catalog_states,
    install,
    loose_files,
    models_dir,
    remove,
    set_default,
)
from app.models.ollama import OllamaModel, ollama_base, ollama_models, ollama_pull
from app.providers.local_models import LocalModelsError, list_local_models

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
BAR = 28


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = sub.add_parser("models", help="the model catalog: list, download or remove local models")
    verbs = models.add_subparsers(dest="verb", required=True, parser_class=type(models))
    listing = verbs.add_parser("list", help="catalog models (size, memory, fits, licence, downloaded), "
                               "other GGUF files and Ollama's models")
    listing.add_argument("--json", action="store_true")
    get = verbs.add_parser("download", help="download a catalog model (resumes a paused one) "
                           "and use it as local/NAME")
    get.add_argument("name", help="a catalog name from `troupe models list`")
    get.add_argument("--default", action="store_true", help="make it the default model when done")
    get.add_argument("--ollama", action="store_true", help="have the running Ollama pull it instead")
    rm = verbs.add_parser("remove", help="remove a downloaded model (or a paused download) and its file")
    rm.add_argument("name")


def cmd_models(args: argparse.Namespace) -> int:
    try:
        if args.verb == "list":
            return _list(args)
        if args.verb == "download":
            return _download(args)
        return _remove(args)
    except CatalogError as exc:
        print(f"troupe: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TroupeError as exc:  # DownloadError, LocalModelsError: one line that says what to do
        print(f"troupe: {exc}", file=sys.stderr)
        return EXIT_FAILED


# --- list ------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    states = catalog_states()
    memory = total_memory()
    ollama = asyncio.run(ollama_models())
    if args.json:
        print(json.dumps(_as_json(states, memory, ollama), indent=2))
        return EXIT_OK
    have = f"this computer has {human_bytes(memory)} of memory" if memory else "memory unknown"
    print(f"Catalog (Hugging Face GGUF; {have}):")
    rows = [("NAME", "SIZE", "MEMORY", "FITS", "LICENCE", "STATUS")]
    rows += [(s.entry.id, human_bytes(s.entry.size_bytes), human_bytes(s.entry.memory_bytes),
              _fits_mark(fits(s.entry, memory)), s.entry.licence, _status(s)) for s in states]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    _print_others(states, ollama)
    return EXIT_OK


def _status(state: CatalogState) -> str:
    if state.installed is not None:
        return f"downloaded ({state.model})"
    if state.partial:
        return f"paused at {human_bytes(state.partial)}"
    return "not downloaded"


def _fits_mark(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


def _print_others(states: list[CatalogState], ollama: list[OllamaModel] | None) -> None:
    catalog_ids = {s.entry.id for s in states}
    own = [m for m in _local_models() if m.name not in catalog_ids]
    loose = loose_files()
    if own or loose:
        print("\nOther local GGUF models:")
        for m in own:
            print(f"  local/{m.name}  {m.path}" + ("  (built in)" if m.embedded else ""))
        for path in loose:
            print(f"  {path.name}  {human_bytes(path.stat().st_size)}  (not added: in {models_dir()})")
    if ollama is None:
        print(f"\nOllama: not running at {ollama_base()}")
    else:
        names = ", ".join(f"{m.name} ({human_bytes(m.size)})" for m in ollama) or "no models yet"
        print(f"\nOllama ({ollama_base()}): {names}")


def _local_models() -> list[Any]:
    try:
        return list_local_models()
    except LocalModelsError as exc:
        print(f"troupe: {exc}", file=sys.stderr)
        return []


def _as_json(states: list[CatalogState], memory: int | None,
             ollama: list[OllamaModel] | None) -> dict[str, Any]:
    return {
        "memory_bytes": memory,
        "catalog": [{
            "name": s.entry.id, "title": s.entry.name, "repo": s.entry.repo, "file": s.entry.file,
            "size_bytes": s.entry.size_bytes, "memory_bytes": s.entry.memory_bytes,
            "fits": fits(s.entry, memory), "parameters": s.entry.parameters,
            "context_length": s.entry.context_length, "licence": s.entry.licence,
            "description": s.entry.description, "ollama": s.entry.ollama,
            "downloaded": s.installed is not None, "model": s.model if s.installed else None,
            "partial_bytes": s.partial,
        } for s in states],
        "local": [{"model": m.model, "path": str(m.path), "embedded": m.embedded} for m in _local_models()],
        "loose_files": [str(p) for p in loose_files()],
        "ollama": None if ollama is None else [{"model": m.model, "size_bytes": m.size} for m in ollama],
    }


# --- download and remove ---------------------------------------------------------------------


def _download(args: argparse.Namespace) -> int:
    entry = find_entry(args.name, load_catalog())
    bar = ProgressBar(sys.stderr)
    control = Control()
    if args.ollama:
        return _pull(entry, args, bar, control)
    print(f"Downloading {entry.name} ({entry.repo}/{entry.file}, {entry.licence})", file=sys.stderr)
    try:
        result = asyncio.run(install(entry, progress=bar.update, control=control))
    except KeyboardInterrupt:
        bar.end()
        print(f"troupe: paused; `troupe models download {entry.id}` resumes it", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.end()
    if result.outcome is not Outcome.DONE:
        return EXIT_INTERRUPTED
    model = f"local/{entry.id}"
    print(f"{model} is ready (SHA-256 checked): {result.path}")
    return _maybe_default(model, args.default)


def _pull(entry: CatalogEntry, args: argparse.Namespace, bar: ProgressBar, control: Control) -> int:
    if not entry.ollama:
        print(f"troupe: {entry.id} has no Ollama name; download it without --ollama", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Ollama is pulling {entry.ollama}", file=sys.stderr)
    try:
        asyncio.run(ollama_pull(entry.ollama, progress=bar.update, control=control))
    except KeyboardInterrupt:
        bar.end()
        print(f"troupe: stopped; Ollama keeps what it fetched: `troupe models download "
              f"{entry.id} --ollama` continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.end()
    model = f"ollama/{entry.ollama}"
    print(f"{model} is ready in Ollama")
    return _maybe_default(model, args.default)


def _maybe_default(model: str, make_default: bool) -> int:
    if make_default:
        set_default(model)
        print(f"default model: {model}")
    else:
        print(f"use it with `troupe run --model {model} ...`, or make it the default with --default",
              file=sys.stderr)
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    deleted = remove(args.name)
    print(f"removed {args.name}" + (f" ({', '.join(p.name for p in deleted)} deleted)" if deleted else ""))
    return EXIT_OK


class ProgressBar:
    """A one-line bar redrawn in place on a terminal; a line per 10% otherwise."""

    def __init__(self, stream: TextIO) -> None:
        # our own text, so past troupe's SafeStream, which would strip the \r
        self.stream: TextIO = getattr(stream, "stream", stream)
        self.tty = self.stream.isatty()
        self.shown = -1
        self.last = 0.0
        self.drawn = False

    def update(self, progress: Progress) -> None:
        tenth = int(progress.fraction * 10)
        if self.tty:
            if time.monotonic() - self.last < 0.1 and progress.done < progress.total:
                return
            self.last = time.monotonic()
            filled = int(progress.fraction * BAR)
            text = f"\r[{'#' * filled}{'.' * (BAR - filled)}] {progress.fraction:4.0%}  {progress.line()}"
            self.stream.write(text.ljust(100))
            self.drawn = True
        elif tenth > self.shown:
            self.shown = tenth
            self.stream.write(f"{progress.fraction:4.0%}  {progress.line()}\n")
        self.stream.flush()

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

