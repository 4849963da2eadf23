"""Screenshots of the spending view (View › Spending) over seeded history.

    .venv/bin/python -m scripts.spending_screenshots [--dark] [--out DIR] [--docs]

Seeds a throwaway data directory through the real EventWriter with five weeks of
model calls (priced, free on this machine, and of unknown price), opens the view
offscreen and saves it at two sizes, grouped by day and by model (and, with
--docs, docs/screenshots/spending.png).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TROUPE_HOME"] = tempfile.mkdtemp(prefix="troupe-spending-")

from PySide6.QtWidgets import QApplication  # noqa: E402
from sqlalchemy import text  # noqa: E402

from agents import events as ev  # noqa: E402
from app.storage import EventWriter, Store, open_database  # noqa: E402
from app.usage import named_period, usage_report  # noqa: E402
from ui.spending import SpendingView  # noqa: E402
from ui.theme import dark_palette  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"

RUNS = [  # project, goal, [(agent, model, $ per call)]
    ("Market research", "Map the note-taking market and write a 1-page report",
     [("researcher", "openai/gpt-4o-mini", 0.004), ("analyst", "anthropic/claude-sonnet-4-20250514", 0.05),
      ("writer", "anthropic/claude-sonnet-4-20250514", 0.06)]),
    ("Website copy", "Rewrite the pricing page in plain words",
     [("writer", "openai/gpt-4o-mini", 0.003), ("reviewer", "openai/gpt-4o", 0.03)]),
    ("Side project", "Summarise my reading notes from this week",
     [("writer", "openai/llama3.2", 0.0), ("analyst", "openai/llama3.2", 0.0)]),
    ("Side project", "Translate the README into Spanish",
     [("translator", "openai/qwen-custom", None)]),
]


def seed(store: Store, today: dt.date) -> None:
    """Five weeks of runs, a few a day, every call through the real EventWriter."""
    rng = random.Random(7)
    writer = EventWriter(store)
    for back in range(35, -1, -1):
        day = today - dt.timedelta(days=back)
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            project, goal, calls = rng.choice(RUNS)
            _seed_run(store, writer, project, goal, calls, day, rng)
    writer.flush()
    writer.close()


def _seed_run(store: Store, writer: EventWriter, project: str, goal: str,
              calls: list[tuple[str, str, float | None]], day: dt.date, rng: random.Random) -> None:
    run_id = store.create_run(project, goal)
    tasks = [{"id": f"t{i}", "title": f"Step {i}", "instructions": "Do it.", "agent": agent,
              "depends_on": [], "requires_approval": False, "children": []}
             for i, (agent, _m, _c) in enumerate(calls)]
    start = dt.datetime.combine(day, dt.time(9 + rng.randrange(9), rng.randrange(60))).timestamp()
    with store.engine.begin() as conn:  # as if created that day (create_run says now)
        conn.execute(text("UPDATE runs SET created = :t WHERE id = :id"), {"t": start, "id": run_id})
    writer.emit(ev.RunStarted(run_id=run_id, goal=goal, plan={"goal": goal, "tasks": tasks}, ts=start))
    model = calls[0][1]
    planner_cost = 0.002 if calls[0][2] else 0.0  # free or unknown: $0
    writer.emit(ev.LLMCallFinished(run_id=run_id, task_id="", purpose="plan", model=model,
                                   prompt_tokens=900, completion_tokens=300, cost=planner_cost,
                                   cost_known=calls[0][2] is not None, latency_ms=900, ts=start + 5))
    for i, (_agent, model, cost) in enumerate(calls):
        for n in range(rng.randrange(1, 4)):
            writer.emit(ev.LLMCallFinished(
                run_id=run_id, task_id=f"t{i}", purpose="task", model=model,
                prompt_tokens=rng.randrange(800, 4000), completion_tokens=rng.randrange(200, 1500),
                cost=(cost or 0.0) * rng.uniform(0.6, 1.6), cost_known=cost is not None,
                latency_ms=1500, ts=start + 30 + 20 * i + n))


def main() -> int:
    out = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else Path("/tmp")
    dark = "--dark" in sys.argv
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    store = open_database(Path(os.environ["TROUPE_HOME"]) / "troupe.db")
    seed(store, dt.date.today())
    view = SpendingView(lambda period, by: usage_report(store, named_period(period), by))
    scheme = "dark" if dark else "light"
    for (width, height), (period, by) in (((980, 720), ("30d", "day")), ((980, 720), ("30d", "model")),
                                         ((1280, 860), ("90d", "role")), ((760, 600), ("month", "project"))):
        view.resize(width, height)
        view.choose(period, by)
        view.show()
        for _ in range(5):
            app.processEvents()
        path = out / f"troupe-spending-{scheme}-{by}-{width}x{height}.png"
        view.grab().save(str(path))
        print(f"saved {path}")
    if "--docs" in sys.argv:
        view.resize(980, 720)
        view.choose("30d", "model")
        app.processEvents()
        path = DOCS / ("dark/spending.png" if dark else "spending.png")
        view.grab().save(str(path))
        print(f"saved {path}")
    view.close()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
