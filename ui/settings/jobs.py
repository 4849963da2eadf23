"""The dialog's background work: coroutines on the app's (qasync) loop.

Slow things (a test call to a model, listing a server's models) run here so
the dialog never freezes. Every job is cancelled when the dialog closes, so a
late answer never reaches deleted widgets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject

from app.providers.checks import ConnectionReport, check_connection, refresh_models
from app.providers.registry import Provider, Providers

log = logging.getLogger(__name__)

T = TypeVar("T")

TEST_TIMEOUT = 30.0
"""Seconds a connection test may take before it counts as unreachable."""


class Jobs(QObject):
    """Coroutines started by the dialog; results and errors go to callbacks."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, T], done: Callable[[T], None],
              failed: Callable[[BaseException], None]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finish(t, done, failed))
        return task

    def _finish(self, task: asyncio.Task[T], done: Callable[[T], None],
                failed: Callable[[BaseException], None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            done(task.result())
            return
        if not isinstance(exc, OSError | ValueError):
            log.error("a settings job failed", exc_info=exc)
        failed(exc)

    def busy(self) -> bool:
        return bool(self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def try_connection(provider: Provider, model: str) -> ConnectionReport:
    """One tiny real call to `model` on `provider`, with a client of its own."""
    from agents.llm.client import LiteLLMClient  # noqa: PLC0415 - litellm is imported lazily
    from agents.llm.litellm_info import warm_up  # noqa: PLC0415 - litellm is imported lazily

    await warm_up()  # in a thread, and not counted in the latency: it takes seconds the first time
    async with LiteLLMClient() as llm:
        return await check_connection(f"{provider.name}/{model}", Providers((provider,)), llm,
                                      call_timeout=TEST_TIMEOUT)


async def list_provider_models(provider: Provider) -> Provider:
    """The provider with its models re-read from its server (a blocking HTTP call, so in a thread)."""
    return await asyncio.to_thread(refresh_models, provider)
