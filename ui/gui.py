"""The desktop app's composition root: QApplication, the qasync loop, the window.

Lives in ui/ so that app/ never imports Qt or ui (see ui/launch.py).

Staged start: the window is built and painted before the history database is
opened (SQLAlchemy alone costs ~0.3 s to import); MainWindow opens it right
after its first frame, and litellm is imported once the history is shown.
"""

from __future__ import annotations

import asyncio
import os
import sys

import qasync
from PySide6.QtWidgets import QApplication

from app.logs import setup_logging
from app.roster_store import read_user_roster
from app.services import RunService
from ui.main_thread_gc import MainThreadGC
from ui.main_window import MainWindow


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    setup_logging()
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("Troupe")
    app.setOrganizationName("Troupe")
    collector = MainThreadGC(app)  # Qt objects must die on this thread, whoever allocates
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loaded = read_user_roster()
    service = RunService.deferred(roster=loaded.roster)
    window = MainWindow(service)
    window.show()
    if loaded.warning:
        window.show_warning("Agent roster", loaded.warning)
    warm: list[asyncio.Task[None]] = []
    window.storageReady.connect(lambda: warm.append(loop.create_task(_after_start(window))))
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
        loop.run_until_complete(window.session.aclose())
        loop.run_until_complete(service.aclose_llm())
        for task in warm:
            task.cancel()
    service.close()
    collector.stop()
    return 0


async def _after_start(window: MainWindow) -> None:
    """Once the window and its history are shown: first-run setup, then litellm."""
    from agents.llm import warm_up  # noqa: PLC0415
    from app.provider_checks import run_first_time_setup  # noqa: PLC0415

    # probes 127.0.0.1 for Ollama and LM Studio (once per data dir): off the UI thread
    found = await asyncio.to_thread(run_first_time_setup)
    if found is not None:
        window.apply_first_run(found)
    # litellm takes seconds to import; its thread holds the GIL for most of a second
    await warm_up()
