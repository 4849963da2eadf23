"""The history list tells a partial success (a task was rejected) from a full one.

The runs come from a real database written by a real Runner (FakeLLM, a gate
that rejects one task), so the mark follows what storage keeps in `runs.partial`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication

from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, Decision
from agents.run.agent import ModelSettings
from agents.run.runner import Runner
from agents.testing import FakeLLM, ScriptedGate
from app.storage import EventWriter, Store, open_database
from ui.history import META_ROLE, PARTIAL_MARK, STATUS_MARKS, HistoryPanel

PLAN = Plan.from_dict({"goal": "the goal", "tasks": [
    {"id": "a", "title": "A", "agent": "writer", "instructions": "do a"},
    {"id": "b", "title": "B", "agent": "writer", "instructions": "do b", "requires_approval": True},
]})


async def _run(store: Store, run_id: str, gate: ScriptedGate) -> None:
    writer = EventWriter(store, linger=0)
    runner = Runner(run_id=run_id, plan=PLAN, roster=load_roster(), llm=FakeLLM(),
                    settings=ModelSettings(model="fake/model"), sink=writer, gate=gate)
    await runner.run()
    assert writer.flush() and not writer.errors
    writer.close()


def _row(panel: HistoryPanel, run_id: str) -> tuple[str, str]:
    index = panel._run_index(run_id)  # the goal's line, then the date, status and cost
    return (f"{index.data(Qt.ItemDataRole.DisplayRole)}\n{index.data(META_ROLE)}",
            index.data(Qt.ItemDataRole.ToolTipRole))


async def test_a_partial_run_has_its_own_mark_and_tooltip(qapp: QApplication, tmp_path: Path) -> None:
    store = open_database(tmp_path / "troupe.db")
    partial = store.create_run("P", "partly done", {"model": "fake/model"})
    full = store.create_run("P", "all done", {"model": "fake/model"})
    await _run(store, partial, ScriptedGate({"b": Decision(Action.REJECT, "not needed")}))
    await _run(store, full, ScriptedGate())
    panel = HistoryPanel(lambda text: store.list_runs(search=text or None))
    panel.refresh()

    text, tip = _row(panel, partial)
    assert text.startswith(f"{PARTIAL_MARK}  partly done\n") and "· completed (partial) ·" in text
    assert "Status: completed (partial: some tasks were rejected)\n" in tip
    text, tip = _row(panel, full)
    assert text.startswith(f"{STATUS_MARKS['completed']}  all done\n") and "partial" not in text
    assert "Status: completed\n" in tip

    # run again with every task approved: the same row, updated in place, now a full success
    kept = QPersistentModelIndex(panel._run_index(partial))
    await _run(store, partial, ScriptedGate())
    panel.refresh()
    assert kept.isValid() and kept.data(Qt.ItemDataRole.DisplayRole).startswith(STATUS_MARKS["completed"])
    assert "Status: completed\n" in _row(panel, partial)[1]
    panel.deleteLater()
    store.close()
