"""EventWriter: the EventSink that persists a run's events off the event loop.

`emit()` only puts the event on a thread-safe queue (a few hundred ns). One
daemon thread drains it: it blocks for the first item, takes whatever else is
already queued (up to `batch_size`) and writes that batch in ONE transaction:
the event rows (with a per-run `seq`) and the projections (projections.py).
There is no timer: a batch is written as soon as the thread wakes, so after a
kill -9 at most the batch in flight is lost. Under load batches grow by
themselves, which is what keeps throughput high.

A failing batch is retried event by event, so one bad event costs only itself;
failures are logged and kept in `errors`, and the thread keeps going. A batch
that fails because the database cannot be written at all is never split up:
it was rolled back whole. While another program holds the write lock past
SQLite's busy timeout, the same batch is tried again (events go on queueing
behind it) until the lock goes or `lock_patience` seconds have passed. Past
that, or on a full disk, a read-only folder, a damaged file, an I/O error,
`failure` says why (a typed DatabaseUnavailable whose `reason` is one line),
the listeners (`on_failure`: the run's RunHandle, which stops the run as
interrupted) are told, and every later event is dropped until `recover()`, so
what is stored stays a consistent prefix of the run: an event is stored with
all its projections or not at all.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from agents.events import RunEvent, RunStarted
from app.storage.db import busy_timeout_ms, writer_engine
from app.storage.errors import DatabaseLocked, DatabaseUnavailable, storage_error
from app.storage.liveness import current_token
from app.storage.projections import (
    DEFAULT_PROJECT,
    Owner,
    Sql,
    apply_event,
    dumps,
    ensure_project,
    insert_run,
    run_exists,
)
from app.storage.records import WriteError

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
MAX_ERRORS_KEPT = 1000
LOCK_PATIENCE = 60.0
"""Seconds a batch waits for another program's lock (beyond the first busy timeout)
before the run is stopped as interrupted."""
_INSERT_EVENT = "INSERT INTO events (run_id, seq, type, ts, data) VALUES (?, ?, ?, ?, ?)"
_STOP = object()


_ENVELOPE = frozenset({"run_id", "ts", "type"})  # stored as columns, not in `data`


_FIELDS: dict[type[RunEvent], tuple[str, ...] | None] = {}


def _payload_fields(cls: type[RunEvent]) -> tuple[str, ...] | None:
    """Field names to store for `cls`, or None if it customises to_dict()."""
    if cls not in _FIELDS:
        custom = cls.to_dict is not RunEvent.to_dict
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name not in _ENVELOPE)
        _FIELDS[cls] = None if custom else names
    return _FIELDS[cls]


def event_json(event: RunEvent) -> str:
    """The event's to_dict() form minus run_id/ts/type, as JSON.

    Same JSON as `dumps(event.to_dict())` without dataclasses.asdict's deep
    copy, which was half of the writer's time per event.
    """
    names = _payload_fields(type(event))
    if names is None:
        data = event.to_dict()
        return dumps({k: v for k, v in data.items() if k not in _ENVELOPE})
    return json.dumps({name: getattr(event, name) for name in names}, default=_json_default)


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_OPEN_WRITERS: weakref.WeakSet[EventWriter] = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    """A daemon thread dies mid-batch at exit: give open writers a chance to finish."""
    for writer in list(_OPEN_WRITERS):
        writer.close(timeout=5.0)


class _FlushMarker:
    """Queued by flush(); set once every event queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


class EventWriter:
    """An EventSink writing events to the history database from its own thread."""

    def __init__(
        self, target: Any, *, batch_size: int = DEFAULT_BATCH, name: str = "troupe-event-writer",
        linger: float = 0.005, lock_patience: float = LOCK_PATIENCE,
    ) -> None:
        """`target` is a Store (anything with `.engine`) or a SQLAlchemy Engine.

        `linger`: seconds to wait after the first event of a batch before writing.
        `lock_patience`: how long a batch is retried while the database is locked.
        """
        engine: Engine = getattr(target, "engine", target)
        self._engine = writer_engine(engine)
        self._path = Path(engine.url.database or "")
        self.lock_patience = lock_patience
        self._batch_size = max(1, batch_size)
        self._linger = linger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._errors: deque[WriteError] = deque(maxlen=MAX_ERRORS_KEPT)
        self.error_count = 0
        """Events that could not be stored, in all (errors keeps the last MAX_ERRORS_KEPT)."""
        self._closed = False
        self._seq: dict[str, int] = {}
        self._known_runs: set[str] = set()
        self._owner = Owner(os.getpid(), current_token())
        self.written = 0
        """Events stored so far."""
        self.batches = 0
        """Transactions committed so far."""
        self.failure: DatabaseUnavailable | None = None
        """Why the database could not be written (`failure.reason` is one line); None
        while it can. Set by the thread; events are dropped until recover()."""
        self._listeners: list[Callable[[DatabaseUnavailable], None]] = []
        self._forget_caches_soon = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        _OPEN_WRITERS.add(self)

    # --- the sink side (any thread, never blocks) -----------------------------------

    def emit(self, event: RunEvent) -> None:
        """Queue `event` for writing; events with `persist == False` are skipped."""
        if not event.persist:
            return
        if self._closed:
            self._record(event, "EventWriter is closed; event dropped")
            return
        if self.failure is not None:
            self._record(event, f"not stored: {self.failure.reason}")
            return
        self._queue.put_nowait(event)

    def on_failure(self, listener: Callable[[DatabaseUnavailable], None]) -> Callable[[], None]:
        """Call `listener(failure)` (on the writer's thread) when writing fails;
        returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def recover(self) -> None:
        """Accept events again after a failure (a new start of a run, once space is freed)."""
        self.flush()
        self._forget_caches_soon = True
        self.failure = None

    @property
    def errors(self) -> list[WriteError]:
        """The latest events that could not be stored (a copy), oldest first."""
        return list(self._errors)

    @property
    def pending(self) -> int:
        """Items still queued (approximate)."""
        return self._queue.qsize()

    @property
    def longest_wait(self) -> float:
        """Seconds a flush may take while the database is locked before the writer
        gives up on it (so `flush(writer.longest_wait)` ends written or failed)."""
        return self.lock_patience + 2 * busy_timeout_ms() / 1000 + 10.0

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until everything emitted so far is written; False on timeout."""
        if not self._thread.is_alive():
            return self._queue.empty()
        marker = _FlushMarker()
        self._queue.put_nowait(marker)
        return marker.done.wait(timeout)

    async def aflush(self, max_wait: float | None = 10.0) -> bool:
        """flush() without blocking the event loop; False if `max_wait` seconds passed."""
        return await asyncio.to_thread(self.flush, max_wait)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Write what is queued, then stop the thread; False if it did not stop in time."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    async def aclose(self, max_wait: float | None = 10.0) -> bool:
        """close() without blocking the event loop."""
        return await asyncio.to_thread(self.close, max_wait)

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the thread side --------------------------------------------------------------

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            batch = self._take_batch()
            stopping = any(item is _STOP for item in batch)
            if stopping:  # emits racing with close() land after _STOP: keep them
                batch += self._drain()
            try:
                self._process(batch)
            except Exception:  # never let the thread die silently
                log.exception("event writer: unexpected error")

    def _take_batch(self) -> list[Any]:
        first = self._queue.get()
        if self._linger and isinstance(first, RunEvent):
            # An event usually arrives as the loop is about to start the next
            # model call; writing now would compete with it for the GIL (about
            # 1 ms a step in a pipeline). A few ms later the loop is idle, and
            # the events that came meanwhile share one transaction.
            time.sleep(self._linger)
        batch = [first]
        while len(batch) < self._batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _drain(self) -> list[Any]:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _process(self, batch: list[Any]) -> None:
        events = [item for item in batch if isinstance(item, RunEvent)]
        if self._forget_caches_soon:
            self._forget_caches_soon = False
            self._forget_caches()
        try:
            if events and self.failure is not None:  # after a lost batch: keep a consistent prefix
                for event in events:
                    self._record(event, f"not stored: {self.failure.reason}")
            elif events:
                self._write(events)
        finally:
            for item in batch:
                if isinstance(item, _FlushMarker):
                    item.done.set()

    def _write(self, events: list[RunEvent]) -> None:
        try:
            self._commit(events)
        except Exception as exc:
            if (failure := self._unwritable(exc)) is not None:  # rolled back whole: no gap
                self._fail(failure, events)
                return
            log.warning(
                "event writer: batch of %d failed (%s); retrying one by one", len(events), exc
            )
            for done, event in enumerate(events):
                if not self._write_one(event, events[done:]):
                    return
            return
        self.written += len(events)
        self.batches += 1

    def _write_one(self, event: RunEvent, rest: list[RunEvent]) -> bool:
        """Store `event` alone (`rest`: it and the batch's later events); False when
        the database cannot be written any more (the writer has failed)."""
        try:
            self._commit([event])
            self.written += 1
            return True
        except Exception as exc:
            if (failure := self._unwritable(exc)) is not None:
                self._fail(failure, rest)
                return False
            log.exception("event writer: could not store %s for run %s", event.kind, event.run_id)
            self._record(event, f"{type(exc).__name__}: {exc}")
        try:  # keep the audit trail even if the projection failed
            self._commit([event], projections=False)
            self.written += 1
        except Exception as exc:
            if (failure := self._unwritable(exc)) is not None:
                self._fail(failure, rest[1:])
                return False
            log.exception("event writer: could not log %s for run %s", event.kind, event.run_id)
        return True

    def _commit(self, events: list[RunEvent], projections: bool = True) -> None:
        """Write `events` in one transaction, trying again while another program holds
        the lock, for up to `lock_patience` seconds (each try waits the busy timeout)."""
        deadline = time.monotonic() + self.lock_patience
        while True:
            try:
                with self._engine.begin() as conn:
                    if projections:
                        self._write_batch(conn, events)
                    else:
                        self._write_events(conn, events)
                return
            except DatabaseLocked as exc:
                self._forget_caches()
                if time.monotonic() >= deadline:
                    raise
                log.warning("event writer: %s; trying again", exc.reason)
                time.sleep(0.05)  # a busy error can come at once (a snapshot gone stale)
            except Exception:
                self._forget_caches()
                raise

    def _unwritable(self, exc: BaseException) -> DatabaseUnavailable | None:
        """Why the database can take no write at all (the batch must not be split),
        or None when the failure is the batch's own (an event a projection rejects)."""
        failure = storage_error(exc, self._path)
        if failure is None and isinstance(exc, OperationalError | OSError):
            cause = getattr(exc, "orig", None) or exc
            failure = DatabaseUnavailable(self._path, str(cause).split("\n")[0])
        return failure

    def _write_events(self, conn: Connection, events: list[RunEvent]) -> None:
        """The event rows alone, for an event whose projection failed."""
        db = Sql(conn)
        for event in events:
            self._ensure_run(db, event)
        db.many(_INSERT_EVENT, [self._event_row(db, event) for event in events])

    def _write_batch(self, conn: Connection, events: list[RunEvent]) -> None:
        db = Sql(conn)
        rows = []
        touched: dict[str, float] = {}
        for event in events:
            self._ensure_run(db, event)
            rows.append(self._event_row(db, event))
            apply_event(db, event, self._owner)
            touched[event.run_id] = max(touched.get(event.run_id, 0.0), event.ts)
        db.many(_INSERT_EVENT, rows)
        for run_id, ts in touched.items():
            db.run("UPDATE runs SET updated = max(updated, ?) WHERE id = ?", (ts, run_id))

    def _event_row(self, db: Sql, event: RunEvent) -> tuple[Any, ...]:
        seq = self._next_seq(db, event.run_id)
        return (event.run_id, seq, event.kind, event.ts, event_json(event))

    def _next_seq(self, db: Sql, run_id: str) -> int:
        last = self._seq.get(run_id)
        if last is None:
            found = db.value("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,))
            last = int(found or 0)
        self._seq[run_id] = last + 1
        return last + 1

    def _ensure_run(self, db: Sql, event: RunEvent) -> None:
        """Runs are normally created by Store.create_run; adopt unknown ones."""
        if event.run_id in self._known_runs:
            return
        if not run_exists(db, event.run_id):
            log.warning("event writer: run %s was not created first; adding it", event.run_id)
            goal = event.goal if isinstance(event, RunStarted) else ""
            insert_run(db, event.run_id, ensure_project(db, DEFAULT_PROJECT), goal, {})
        self._known_runs.add(event.run_id)

    def _forget_caches(self) -> None:
        """After a rollback the cached seqs / known runs may be ahead of the database."""
        self._seq.clear()
        self._known_runs.clear()

    def _fail(self, failure: DatabaseUnavailable, events: list[RunEvent]) -> None:
        log.error("event writer: %s; %d event(s) not stored, no more until recovered",
                  failure.reason, len(events))
        self.failure = failure
        for event in events:
            self._record(event, f"not stored: {failure.reason}")
        for listener in list(self._listeners):
            try:
                listener(failure)
            except Exception:
                log.exception("event writer: a failure listener failed")

    def _record(self, event: RunEvent, message: str) -> None:
        self.error_count += 1
        self._errors.append(WriteError(event.run_id, event.kind, message, time.time()))

