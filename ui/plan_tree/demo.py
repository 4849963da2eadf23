"""A sample plan in the editor, to look at it or save a screenshot.

python -m ui.plan_tree.demo                      # a window
python -m ui.plan_tree.demo --screenshot out.png  # save a 1000x600 grab
python -m ui.plan_tree.demo --running ...        # with run statuses
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtWidgets import QApplication

from agents.events import LLMCallFinished, RunStarted, TaskFinished, TaskStarted
from agents.plan import Plan, Task
from agents.plan.roster import load_roster
from ui.plan_tree.model import PlanTreeModel
from ui.plan_tree.view import PlanTreeView


def sample_plan(*, broken: bool = True) -> Plan:
    """Six tasks: a group of two, an approval, and (if `broken`) a missing dependency."""
    review_deps = ("t5", "t9") if broken else ("t5",)
    return Plan(
        goal="Write a competitive analysis of open-source vector databases",
        tasks=(
            Task(
                "t1",
                "Research the landscape",
                agent="researcher",
                children=(
                    Task(
                        "t2",
                        "Survey the main vector databases",
                        agent="researcher",
                        instructions="List Milvus, Qdrant, Weaviate, Chroma and pgvector: "
                        "licence, architecture, hosting options.",
                    ),
                    Task(
                        "t3",
                        "Collect published benchmarks",
                        agent="researcher",
                        instructions="Find recent ANN benchmarks (recall vs QPS) and note the setup.",
                    ),
                ),
            ),
            Task(
                "t4",
                "Compare performance and features",
                agent="analyst",
                depends_on=("t1",),
                instructions="Build a comparison table; flag where benchmarks disagree.",
            ),
            Task(
                "t5",
                "Draft the report",
                agent="writer",
                depends_on=("t4",),
                requires_approval=True,
                instructions="Two pages for an engineering audience, with a recommendation.",
            ),
            Task(
                "t6",
                "Review the draft",
                agent="reviewer",
                depends_on=review_deps,
                instructions="Check every claim against the research notes.",
            ),
        ),
    )


def _show_running(model: PlanTreeModel) -> None:
    """Fold a run's first events in, as the window does."""
    run = "demo"
    model.apply_event(RunStarted(run_id=run, goal=model.goal, plan=model.to_plan().to_dict()))
    for tid, agent, tokens, cost in (("t2", "researcher", 2875, 0.0069), ("t3", "researcher", 2335, 0.0055)):
        model.apply_event(TaskStarted(run_id=run, task_id=tid, agent=agent, attempt=1))
        model.apply_event(TaskFinished(run_id=run, task_id=tid, output="…", attempts=1, prompt_tokens=tokens,
                                       completion_tokens=0, cost=cost, started=0, finished=1))
    model.apply_event(TaskFinished(run_id=run, task_id="t1", output="…", attempts=0, prompt_tokens=5210,
                                   completion_tokens=0, cost=0.0124, started=0, finished=1, source="group"))
    model.apply_event(TaskStarted(run_id=run, task_id="t4", agent="analyst", attempt=1))
    model.apply_event(LLMCallFinished(run_id=run, task_id="t4", purpose="task", model="m", prompt_tokens=1480,
                                      completion_tokens=0, cost=0.0031, cost_known=True, latency_ms=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.plan_tree.demo")
    parser.add_argument("--screenshot", metavar="PNG")
    parser.add_argument("--running", action="store_true", help="show run statuses (a valid plan)")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    model = PlanTreeModel(sample_plan(broken=not args.running), load_roster())
    view = PlanTreeView(model)
    view.resize(1000, 600)
    if args.running:
        _show_running(model)
        view.set_editable(False)
    view.select_task("t5" if not args.running else "t4")
    view.show()
    if args.screenshot:
        app.processEvents()
        return 0 if view.grab().save(args.screenshot) else 1
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
