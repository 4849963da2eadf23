"""Save screenshots of the main window's states to docs/screenshots/.

    .venv/bin/python -m scripts.screenshots [--size 1280x800] [--dark]

With --size the tour goes to docs/screenshots/<size>/ (…/dark/ with --dark). Run
it on an X server of that size (Xvfb :78 -screen 0 1280x800x24, then
QT_QPA_PLATFORM=xcb DISPLAY=:78) so the window lays itself out for that screen.

Drives the real window against the local scripted server (no network), in a
throwaway data directory, offscreen.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TROUPE_HOME"] = tempfile.mkdtemp(prefix="troupe-shots-")

import qasync  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.runs.service import RunService  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.storage import open_database  # noqa: E402
from tests.support.scripted_server import Gate, Reply, ScriptedServer  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.theme import apply_theme  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SIZE = next((a.split("=", 1)[-1] for a in sys.argv if a.startswith("--size")), "")
if SIZE == "--size":  # "--size 1280x800"
    SIZE = sys.argv[sys.argv.index("--size") + 1]
if SIZE:
    OUT = OUT / SIZE

PLAN = {"goal": "g", "tasks": [
    {"id": "market", "title": "Map the note-taking market", "agent": "researcher",
     "instructions": "List the main note-taking apps, their positioning and users."},
    {"id": "pricing", "title": "Collect pricing", "agent": "researcher",
     "instructions": "Find current pricing tiers for each app."},
    {"id": "features", "title": "Compare features", "agent": "analyst", "depends_on": ["market"],
     "instructions": "Compare sync, offline, AI features and export."},
    {"id": "analysis", "title": "Analyse trends", "agent": "analyst",
     "depends_on": ["market", "pricing"], "instructions": "Where is the market going?"},
    {"id": "draft", "title": "Draft the report", "agent": "writer", "requires_approval": True,
     "depends_on": ["features", "analysis"], "instructions": "Write a 1-page report for a product lead."},
]}

REPORT = """# Note-taking apps: market report

The market splits into **all-in-one workspaces** (Notion), **local-first knowledge
bases** (Obsidian) and **simple capture** (Apple Notes, Google Keep).

| App | Price (monthly) | Strength |
|---|---|---|
| Notion | $10 | Databases and collaboration |
| Obsidian | Free / $4 sync | Local Markdown files, plugins |
| Evernote | $14.99 | Web clipping, search |

## Recommendation

Compete on offline speed and AI summarisation:

```python
def pick_segment(apps):
    return max(apps, key=lambda a: a.growth)
```
"""


def prose(*topics: str) -> str:
    """A few sentences that do not repeat (a looping answer is rejected by the output guard)."""
    verbs = ("leads on", "lags on", "is strong in", "is weak in", "charges for", "bundles")
    things = ("sync", "search", "offline use", "collaboration", "plugins", "web clipping", "pricing")
    return " ".join(f"{topic.capitalize()} {verbs[(i + n) % len(verbs)]} {things[(i * 3 + n) % len(things)]}."
                    for n, topic in enumerate(topics) for i in range(4))


async def until(predicate) -> None:  # type: ignore[no-untyped-def]
    while not predicate():  # noqa: ASYNC110 - polling widgets, which change state without events
        await asyncio.sleep(0.02)


async def settle(app: QApplication, seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)
    app.processEvents()


DARK = "--dark" in sys.argv  # the same tour in the dark colour scheme, to docs/screenshots/dark/


def shot(window: MainWindow, name: str) -> None:
    path = (OUT / "dark" if DARK else OUT) / f"{name}.png"
    window.grab().save(str(path))
    print(f"saved {path}")


async def tour(app: QApplication, server: ScriptedServer, window: MainWindow) -> None:
    hold = Gate()
    server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(PLAN))
    server.on(contains="Your task (market)", reply=Reply(prose("Notion", "Obsidian", "Evernote"), chunk_delay=0.02))
    server.on(contains="Your task (pricing)", reply=Reply(prose("pricing", "tiers", "sync"), latency=0.4,
                                                           chunk_delay=0.03))
    server.on(contains="Your task (features)", reply=Reply(prose("offline", "AI", "export"), latency=0.3, wait=hold))
    server.on(contains="Your task (analysis)", reply=Reply(prose("local-first", "AI notes", "teams"), latency=0.5))
    server.on(contains="Your task (draft)", reply=Reply(prose("the report", "the lead", "the segment"), latency=0.2))
    server.on(contains="Compose the final deliverable", reply=REPORT)
    await settle(app)
    shot(window, "01-empty-start")

    window.goal.setPlainText("Write a market report on note-taking apps")
    window.send.click()
    await until(lambda: window.plan_model.has_task("draft"))
    window.plan_view.select_task("draft")
    await settle(app)
    shot(window, "02-plan-editing")

    window.run_action.trigger()
    await asyncio.sleep(1.6)
    await settle(app, 0.2)
    shot(window, "03-run-in-progress")
    hold.open()
    await until(lambda: window.session._gate.pending())
    await settle(app)
    shot(window, "04-approval-card")
    window.session._gate.pending()[0].approve_button.click()
    await until(lambda: window.session.handle is None)
    await settle(app, 0.5)
    shot(window, "05-deliverable")

    window.search_action.trigger()  # Ctrl+F: opens the history where it starts collapsed
    window.history.search.setText("Obsidian")
    window.history.refresh()
    await settle(app)
    shot(window, "06-history-search")


def main() -> int:
    (OUT / "dark" if DARK else OUT).mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if DARK:
        app.setStyle("Fusion")
        apply_theme("dark")  # Settings › General › Theme
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with ScriptedServer() as server:
        settings = Settings(default_model="openai/demo-model", api_base=server.base_url)
        service = RunService(open_database(Path(os.environ["TROUPE_HOME"]) / "troupe.db"),
                             settings=settings)
        window = MainWindow(service)
        if SIZE:
            width, height = (int(n) for n in SIZE.split("x"))
            window.resize(width, height)
        else:
            window.resize(1680, 980)
        window.show()
        loop.run_until_complete(asyncio.wait_for(tour(app, server, window), 60))
        loop.run_until_complete(window.session.aclose())
        loop.run_until_complete(service.aclose_llm())
        service.close()
    loop.close()  # its worker threads (the estimate's) end here, not at interpreter exit
    return 0


if __name__ == "__main__":
    sys.exit(main())
