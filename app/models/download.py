"""One model download from the hub: progress, pause and resume, cancel, checks.

    control = Control()
    result = await download(entry, folder, progress=print, control=control)

- The expected size and SHA-256 come from the hub's own listing of the
  repository (each LFS file's `lfs.oid` is its sha256), never from the catalog.
- Bytes go to `<file>.part` beside the model; only a complete file whose hash
  matches is renamed to `<file>`, so a `.part` is never taken for a model.
- Pause (`control.pause()`, or cancelling the task) keeps the `.part`; the next
  download, in this process or another, resumes it with an HTTP Range request.
  Cancel removes it.
- A dropped connection resumes where it stopped; after `retries` attempts in a
  row that bring nothing new, the download fails in one line (the `.part` stays).
- Free disk space is checked before the first byte (`free_space` is injectable).
- httpx honours HTTP(S)_PROXY / NO_PROXY from the environment (trust_env).

Blocking file writes and hashing happen in the coroutine: the CLI runs it with
asyncio.run, the window on a worker thread of its own (never the UI thread).
"""

from __future__ import annotations

import asyncio
import enum
import errno
import hashlib
import os
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from agents.errors import TroupeError
from app.models.catalog import CatalogEntry, hf_endpoint

__all__ = [
    "Control",
    "DownloadError",
    "DownloadResult",
    "HashMismatch",
    "NotEnoughSpace",
    "Outcome",
    "Progress",
    "RemoteFile",
    "disk_free",
    "download",
    "fetch_remote_file",
    "human_bytes",
    "part_path",
]

RETRIES = 4
"""Attempts in a row that bring no new byte before a download gives up."""
HEADROOM = 64 * 1024 * 1024
"""Free space kept beyond the file itself, so the disk is not filled to the last byte."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
PROGRESS_EVERY = 0.1
"""Seconds between progress reports (the last one is always sent)."""


class DownloadError(TroupeError):
    """A download failed; the message is one line that says what to do."""


class NotEnoughSpace(DownloadError):
    """The disk has too little free space for the model."""


class HashMismatch(DownloadError):
    """The finished file's SHA-256 is not the hub's; the file was removed."""


@dataclass(frozen=True)
class RemoteFile:
    """What the hub says about the file to download."""

    url: str
    """Where to GET it (the hub redirects to its CDN)."""
    size: int
    """Its size in bytes."""
    sha256: str
    """Its SHA-256, lower-case hex, from the hub's LFS metadata."""


@dataclass(frozen=True)
class Progress:
    """How far a download is."""

    done: int
    """Bytes on disk so far (a resumed download starts above 0)."""
    total: int
    """The file's size in bytes."""
    speed: float
    """Bytes per second over the last few seconds."""
    eta: float | None
    """Seconds left at that speed; None while unknown."""

    @property
    def fraction(self) -> float:
        """0.0 to 1.0."""
        return self.done / self.total if self.total else 0.0

    def line(self) -> str:
        """ "412 MB of 1.1 GB · 8.2 MB/s · 1 min 20 s left" """
        parts = [f"{human_bytes(self.done)} of {human_bytes(self.total)}"]
        if self.speed > 0:
            parts.append(f"{human_bytes(self.speed)}/s")
        if self.eta is not None:
            parts.append(f"{human_time(self.eta)} left")
        return " · ".join(parts)


class Outcome(enum.Enum):
    """How a download ended (failures raise DownloadError instead)."""

    DONE = "done"
    PAUSED = "paused"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class DownloadResult:
    """The end of one download() call."""

    outcome: Outcome
    """Done, paused (the .part stays) or cancelled (the .part is gone)."""
    path: Path
    """The model file when done, else where its .part is (or was)."""
    done: int
    """Bytes on disk at the end."""


class Control:
    """Pause or cancel a running download, from any thread."""

    def __init__(self) -> None:
        self._paused = threading.Event()
        self._cancelled = threading.Event()

    def pause(self) -> None:
        self._paused.set()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def stopping(self) -> bool:
        return self.paused or self.cancelled


ProgressCallback = Callable[[Progress], None]
FreeSpace = Callable[[Path], int]


def disk_free(folder: Path) -> int:
    """Free bytes on the disk holding `folder`."""
    return shutil.disk_usage(folder).free


def part_path(target: Path) -> Path:
    """Where the bytes of `target` gather until it is complete: `<name>.part`."""
    return target.with_name(target.name + ".part")


# --- the hub's metadata ------------------------------------------------------------------


def _client() -> httpx.AsyncClient:
    headers = {"User-Agent": "Troupe (model catalog)"}
    if token := os.environ.get("HF_TOKEN", "").strip():
        headers["Authorization"] = f"Bearer {token}"  # httpx drops it on a redirect to another host
    timeout = httpx.Timeout(30.0, read=60.0)
    return httpx.AsyncClient(headers=headers, timeout=timeout, follow_redirects=True, trust_env=True)


async def fetch_remote_file(client: httpx.AsyncClient, entry: CatalogEntry,
                            endpoint: str | None = None) -> RemoteFile:
    """The file's size and SHA-256: from the hub's listing of the repository, else from the
    headers of the file's address (X-Linked-ETag/-Size: for mirrors without the API)."""
    endpoint = endpoint or hf_endpoint()
    return await _from_listing(client, entry, endpoint) or await _from_headers(client, entry, endpoint)


async def _request(client: httpx.AsyncClient, method: str, url: str, endpoint: str,
                   **options: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **options)
    except httpx.HTTPError as exc:
        raise DownloadError(f"cannot reach {endpoint} ({_reason(exc)}); check the network "
                            f"or the proxy, or set TROUPE_HF_ENDPOINT to a mirror") from exc


async def _from_listing(client: httpx.AsyncClient, entry: CatalogEntry,
                        endpoint: str) -> RemoteFile | None:
    response = await _request(client, "GET", entry.tree_url(endpoint), endpoint)
    if response.status_code in (401, 403):
        _check_status(response, entry)
    if response.status_code >= 400:
        return None
    try:
        item = {f["path"]: f for f in response.json()}[entry.file]
        lfs = item.get("lfs") or {}
        return RemoteFile(entry.url(endpoint), int(lfs.get("size") or item["size"]),
                          str(lfs["oid"]).lower())
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def _from_headers(client: httpx.AsyncClient, entry: CatalogEntry, endpoint: str) -> RemoteFile:
    url = entry.url(endpoint)
    response = await _request(client, "HEAD", url, endpoint, follow_redirects=False)
    _check_status(response, entry)
    headers = response.headers
    sha256 = (headers.get("x-linked-etag") or "").removeprefix("W/").strip('"').lower()
    size = headers.get("x-linked-size") or ""
    if not _SHA256.fullmatch(sha256) or not size.isdigit():
        raise DownloadError(f"{endpoint} publishes no SHA-256 for {entry.repo}/{entry.file}; "
                            f"the catalog entry may be out of date")
    return RemoteFile(url, int(size), sha256)


def _check_status(response: httpx.Response, entry: CatalogEntry) -> None:
    code = response.status_code
    if code in (401, 403):
        raise DownloadError(f"the hub refused {entry.repo} (HTTP {code}): accept its licence on "
                            f"the hub or set HF_TOKEN to a token that may read it")
    if code == 404:
        raise DownloadError(f"the hub has no file {entry.file} in {entry.repo} (HTTP 404); the "
                            f"catalog entry may be out of date")
    if code >= 400:
        raise DownloadError(f"the hub answered HTTP {code} for {entry.repo}; try again later")


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


# --- the download -------------------------------------------------------------------------


async def download(
    entry: CatalogEntry,
    folder: Path,
    *,
    progress: ProgressCallback | None = None,
    control: Control | None = None,
    endpoint: str | None = None,
    free_space: FreeSpace = disk_free,
    retries: int = RETRIES,
    backoff: float = 1.0,
) -> DownloadResult:
    """Download `entry` into `folder` (resuming a `.part` there); see the module's doc."""
    control = control or Control()
    target = _target(folder, entry)
    part = part_path(target)
    async with _client() as client:
        remote = await fetch_remote_file(client, entry, endpoint)
        with _locked_part(part) as file:
            state = await asyncio.to_thread(_State.resume, file, part, remote.size)
            _check_space(folder, remote.size - state.done, free_space)
            meter = _Meter(remote.size, state.done, progress)
            await _fetch_all(client, remote, file, state, meter, control,
                             lambda exc, failures: _retry_or_fail(entry, state, remote, exc, failures,
                                                                  retries, backoff))
    meter.report(force=True)
    return _finish(control, state, remote, target, entry)


async def _fetch_all(client: httpx.AsyncClient, remote: RemoteFile, file: BinaryIO, state: _State,
                     meter: _Meter, control: Control,
                     retry: Callable[[BaseException, int], Awaitable[None]]) -> None:
    """GET until every byte is there or the download is stopped; drops resume."""
    failures = 0
    while state.done < remote.size and not control.stopping:
        before = state.done
        try:
            await _fetch(client, remote, file, state, meter, control)
        except (httpx.TransportError, _Dropped) as exc:
            failures = 0 if state.done > before else failures + 1
            await retry(exc, failures)


async def _retry_or_fail(entry: CatalogEntry, state: _State, remote: RemoteFile, exc: BaseException,
                         failures: int, retries: int, backoff: float) -> None:
    """Wait before the next attempt, or fail in one line after `retries` that brought nothing."""
    if failures >= retries:
        raise DownloadError(_dropped_message(entry, state.done, remote.size, exc)) from exc
    await asyncio.sleep(backoff * min(2 ** (failures - 1), 8) if failures else 0)


@contextmanager
def _locked_part(part: Path) -> Iterator[BinaryIO]:
    """The `.part`, open for appending and locked: a second download of it (another window,
    a command) fails in one line instead of interleaving its bytes. An empty one left by a
    failure is removed."""
    file = part.open("ab", buffering=0)  # unbuffered: a full disk fails the write that hit it
    try:
        _lock(file, part)
        yield file
    except BaseException:
        file.close()
        if part.is_file() and part.stat().st_size == 0:
            part.unlink(missing_ok=True)
        raise
    finally:
        file.close()


def _lock(file: BinaryIO, part: Path) -> None:
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere downloads are not locked
    except ImportError:
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        raise DownloadError(f"{part.name.removesuffix('.part')} is already being downloaded (by "
                            f"another Troupe window or command); let it finish first") from exc


def _target(folder: Path, entry: CatalogEntry) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / entry.file


def _finish(control: Control, state: _State, remote: RemoteFile, target: Path,
            entry: CatalogEntry) -> DownloadResult:
    """Cancelled: the .part goes; paused: it stays; complete: checked, then renamed."""
    part = part_path(target)
    if control.cancelled:
        part.unlink(missing_ok=True)
        return DownloadResult(Outcome.CANCELLED, part, 0)
    if control.paused:
        return DownloadResult(Outcome.PAUSED, part, state.done)
    _verify(state, remote, part, entry)
    os.replace(part, target)
    return DownloadResult(Outcome.DONE, target, state.done)


class _Dropped(Exception):
    """The server ended a response before the bytes it promised."""


@dataclass
class _State:
    """Bytes on disk and their running SHA-256 (mutable: one download's own)."""

    done: int
    hasher: Any

    @classmethod
    def resume(cls, file: BinaryIO, part: Path, size: int) -> _State:
        """The `.part` as it is (hashed again: a restart finds it), or a fresh start."""
        have = os.fstat(file.fileno()).st_size
        if have > size:  # not this file's beginning: start over
            file.truncate(0)
            have = 0
        hasher = hashlib.sha256()
        if have:
            with part.open("rb") as reader:
                while block := reader.read(1024 * 1024):
                    hasher.update(block)
        return cls(have, hasher)

    def restart(self, file: BinaryIO) -> None:
        file.truncate(0)  # opened for appending: the next write lands at 0
        self.done, self.hasher = 0, hashlib.sha256()


async def _fetch(client: httpx.AsyncClient, remote: RemoteFile, file: BinaryIO, state: _State,
                 meter: _Meter, control: Control) -> None:
    """One GET from `state.done` on, appended to the part until it ends or is stopped."""
    headers = {"Range": f"bytes={state.done}-"} if state.done else {}
    async with client.stream("GET", remote.url, headers=headers) as response:
        if response.status_code == 200 and state.done:
            state.restart(file)  # the server ignored Range: it sends the whole file
        elif response.status_code not in (200, 206):
            if response.status_code in (429, 500, 502, 503, 504):
                raise _Dropped(f"HTTP {response.status_code}")
            raise DownloadError(f"the hub answered HTTP {response.status_code} for {remote.url}")
        async for chunk in response.aiter_bytes():  # no chunk size: nothing buffered is lost on a drop
            _write(file, chunk)
            state.hasher.update(chunk)
            state.done += len(chunk)
            meter.update(state.done)
            if control.stopping:
                return
    if state.done < remote.size:
        raise _Dropped("the response ended early")


def _write(file: BinaryIO, chunk: bytes) -> None:
    view = memoryview(chunk)
    try:
        while view:  # a raw write may take part of the chunk
            view = view[file.write(view) or 0:]
    except OSError as exc:
        folder = Path(file.name).parent
        if exc.errno == errno.ENOSPC:
            raise NotEnoughSpace(f"the disk holding {folder} is full; free some space "
                                 f"and download again to resume") from exc
        raise DownloadError(f"cannot write {file.name}: {exc.strerror or exc}") from exc


def _check_space(folder: Path, needed: int, free_space: FreeSpace) -> None:
    free = free_space(folder)
    if needed + HEADROOM > free:
        raise NotEnoughSpace(
            f"not enough free disk space in {folder}: the model needs {human_bytes(needed)} "
            f"more, {human_bytes(free)} is free; free some space and try again")


def _verify(state: _State, remote: RemoteFile, part: Path, entry: CatalogEntry) -> None:
    got = state.hasher.hexdigest()
    if state.done != remote.size or got != remote.sha256:
        part.unlink(missing_ok=True)
        raise HashMismatch(
            f"{entry.file} did not match the hub's SHA-256 (expected {remote.sha256[:12]}…, got "
            f"{got[:12]}…); the file was removed: download it again")


def _dropped_message(entry: CatalogEntry, done: int, size: int, exc: BaseException) -> str:
    return (f"the download of {entry.file} stopped at {human_bytes(done)} of {human_bytes(size)}: "
            f"the server kept dropping the connection ({_reason(exc)}); run it again to resume")


# --- progress -------------------------------------------------------------------------------


class _Meter:
    """Turns byte counts into throttled Progress reports with speed and time left."""

    WINDOW = 3.0
    """Seconds of history the speed is measured over."""

    def __init__(self, total: int, done: int, callback: ProgressCallback | None) -> None:
        self.total, self.done, self.callback = total, done, callback
        self.samples: deque[tuple[float, int]] = deque([(time.monotonic(), done)])
        self.last_report = 0.0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.WINDOW:
            self.samples.popleft()
        self.report()

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.callback is None or (not force and now - self.last_report < PROGRESS_EVERY):
            return
        self.last_report = now
        self.callback(self.progress())

    def progress(self) -> Progress:
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        speed = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        eta = (self.total - self.done) / speed if speed > 0 else None
        return Progress(self.done, self.total, speed, eta)


def human_bytes(count: float) -> str:
    """1234567 -> "1.2 MB" (decimal units, as disks and the hub count)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000:
            return f"{count:.0f} {unit}" if unit in ("B", "kB") or count >= 100 else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def human_time(seconds: float) -> str:
    """75 -> "1 min 15 s"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
