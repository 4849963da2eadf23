"""Run a download on a thread of its own, awaited from the caller's event loop.

The window's loop is the UI thread (qasync): writing and hashing gigabytes
there would freeze it. `in_thread` runs the coroutine with asyncio.run on a
daemon thread (quitting the app never waits for a download), sends each
Progress back to the caller's loop, and pauses the download when the awaiting
task is cancelled (the `.part` stays, so it resumes next time).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from app.models.download import Control, ProgressCallback

__all__ = ["in_thread"]

T = TypeVar("T")


async def in_thread(start: Callable[[ProgressCallback], Coroutine[Any, Any, T]],
                    on_progress: ProgressCallback, control: Control) -> T:
    """`await start(relay)` on a new thread; `relay` calls `on_progress` on this loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def later(callback: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is listening
            loop.call_soon_threadsafe(callback, *args)

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = asyncio.run(start(lambda p: later(on_progress, p)))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task as it is
            later(settle, None, exc)
        else:
            later(settle, result, None)

    threading.Thread(target=work, name="troupe-model-download", daemon=True).start()
    try:
        return await done
    except asyncio.CancelledError:
        control.pause()  # the thread stops at its next chunk and keeps the .part
        raise
