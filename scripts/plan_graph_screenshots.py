"""Screenshots of the plan pane's graph (issue 17) over a realistic plan mid-run.

    .venv/bin/python -m scripts.plan_graph_screenshots [--out DIR] [--docs]

Research (a group of three) -> list -> a map over the list -> compare -> a vote ->
a report written with a review -> a summary; some tasks done, some running, one
retrying. Saved at two sizes, light and dark (and, with --docs,
docs/screenshots/plan-graph.png).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TROUPE_HOME"] = tempfile.mkdtemp(prefix="troupe-graph-")

from PySide6.QtWidgets import QApplication  # noqa: E402

from agents import events as ev  # noqa: E402
from agents.plan import Plan  # noqa: E402
from agents.plan.roster import load_roster  # noqa: E402
from ui import theme  # noqa: E402
from ui.plan_tree import PlanTreeModel, PlanTreeView  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
SIZES = ((640, 560), (1100, 720))

PLAN = {
    "goal": "A market report on note-taking apps for small teams",
    "tasks": [
        {"id": "research", "title": "Research", "agent": "researcher", "children": [
            {"id": "survey", "title": "Survey the note-taking market", "agent": "researcher"},
            {"id": "pricing", "title": "Collect pricing and plans", "agent": "researcher"},
            {"id": "reviews", "title": "Gather user reviews", "agent": "researcher"},
        ]},
        {"id": "apps", "title": "List the apps to profile", "agent": "analyst", "depends_on": ["survey"]},
        {"id": "profiles", "title": "Profile each app", "agent": "researcher", "depends_on": ["apps"],
         "pattern": "map", "over": "apps", "max_items": 12},
        {"id": "compare", "title": "Compare features and prices", "agent": "analyst",
         "depends_on": ["research", "profiles"]},
        {"id": "pick", "title": "Pick the recommendation", "agent": "analyst", "depends_on": ["compare"],
         "pattern": "vote", "voters": ["analyst", "researcher", "writer"], "judge": "reviewer"},
        {"id": "report", "title": "Write the report", "agent": "writer", "depends_on": ["compare", "pick"],
         "requires_approval": True, "pattern": "review", "reviewer": "reviewer", "max_rounds": 2},
        {"id": "summary", "title": "Executive summary", "agent": "writer", "depends_on": ["report"]},
    ],
}


def run_events(plan: Plan) -> list[ev.RunEvent]:
    """A run part-way: research done but for a retry, the map under way."""
    run = {"run_id": "shot"}
    out: list[ev.RunEvent] = [ev.RunStarted(**run, goal=plan.goal, plan=plan.to_dict())]
    for task_id, agent in (("survey", "researcher"), ("pricing", "researcher"), ("apps", "analyst")):
        out.append(ev.TaskStarted(**run, task_id=task_id, agent=agent, attempt=1))
        out.append(ev.TaskFinished(**run, task_id=task_id, output="ok", attempts=1, prompt_tokens=900,
                                   completion_tokens=300, cost=0.004, started=0, finished=1))
    out.append(ev.TaskStarted(**run, task_id="reviews", agent="researcher", attempt=1))
    out.append(ev.TaskRetried(**run, task_id="reviews", attempt=1, error="HTTP 429", delay=2))
    out.append(ev.TaskStarted(**run, task_id="profiles", agent="researcher", attempt=1))
    for i in range(1, 6):
        out.append(ev.StepStarted(**run, task_id="profiles", step=f"item {i}", agent="researcher"))
    for i in range(1, 4):
        out.append(ev.StepFinished(**run, task_id="profiles", step=f"item {i}", agent="researcher", output="ok"))
    return out


def shoot(out: Path, dark: bool, docs: bool) -> list[Path]:
    theme.apply_theme("dark" if dark else "light")
    plan = Plan.from_dict(PLAN)
    model = PlanTreeModel(plan, load_roster())
    for event in run_events(plan):
        model.apply_event(event)
    model.flush_runtime()
    view = PlanTreeView(model)
    view.set_editable(False)
    view.show_graph(True)
    saved: list[Path] = []
    for width, height in SIZES:
        view.resize(width, height)
        view.show()
        view.select_task("compare")
        QApplication.processEvents()
        path = out / f"plan-graph-{width}x{height}-{'dark' if dark else 'light'}.png"
        view.grab().save(str(path))
        saved.append(path)
    if docs and not dark:  # wide enough for the whole plan at a readable size, the graph taller
        view.resize(1400, 640)
        view.splitter.setSizes([400, 240])
        QApplication.processEvents()
        view.graph.fit()
        QApplication.processEvents()
        view.grab().save(str(DOCS / "plan-graph.png"))
        saved.append(DOCS / "plan-graph.png")
    view.close()
    return saved


def main() -> int:
    args = sys.argv[1:]
    out = Path(args[args.index("--out") + 1]) if "--out" in args else Path(tempfile.mkdtemp(prefix="graph-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    app.setStyle("Fusion")
    for dark in (False, True):
        for path in shoot(out, dark, "--docs" in args):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
