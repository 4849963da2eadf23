"""Token counts Troupe made itself (a local server sent no usage) are said to be
about right, never passed off as the provider's: stored, folded, printed with "~"."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from agents import events as ev
from agents.run.state import RunState
from app.cli.console import ProgressPrinter
from app.storage import EventWriter, Store
from tests.app.storage_events import call


def test_the_stored_call_keeps_its_flag(store: Store, writer: EventWriter, db_file: Path) -> None:
    run_id = store.create_run("P", "g", {"model": "llm/smol"})
    writer.emit(call(run_id, "", "plan", model="llm/smol", tokens_estimated=True))
    writer.emit(call(run_id, "", "plan", model="openai/gpt-4o-mini"))
    assert writer.flush(5)
    with sqlite3.connect(db_file) as db:
        rows = db.execute("SELECT model, tokens_estimated FROM llm_calls ORDER BY id").fetchall()
    assert rows == [("llm/smol", 1), ("openai/gpt-4o-mini", 0)]


def test_the_fold_marks_the_run_and_the_task() -> None:
    state = RunState("r")
    state.apply(ev.RunStarted(run_id="r", goal="g", plan={"goal": "g", "tasks": [
        {"id": "a", "title": "A", "agent": "writer"}, {"id": "b", "title": "B", "agent": "writer"}]}))
    state.apply(call("r", "b"))
    assert not state.tokens_estimated
    state.apply(call("r", "a", tokens_estimated=True))
    assert state.tokens_estimated and state.tasks["a"].tokens_estimated
    assert not state.tasks["b"].tokens_estimated


def test_the_progress_lines_say_about() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out)
    printer.emit(call("r", "a", model="llm/smol", cost=0.0, tokens_estimated=True))
    printer.emit(call("r", "b", cost=0.01))
    for task_id, cost in (("a", 0.0), ("b", 0.01)):
        printer.emit(ev.TaskFinished(run_id="r", task_id=task_id, output="x", attempts=1, prompt_tokens=10,
                                     completion_tokens=20, cost=cost, started=1.0, finished=2.0))
    printer.emit(ev.RunFinished(run_id="r", status="completed", prompt_tokens=20, completion_tokens=40,
                                cost=0.01))
    lines = out.getvalue().splitlines()
    assert "a done: ~30 tokens," in lines[0]
    assert "b done: 30 tokens," in lines[1]
    assert lines[2].startswith("run r completed: ~60 tokens,")
