"""Search results say where each run matched, with the words around the match: goal,
task output, deliverable and the instructions a person wrote at an approval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agents import events as ev
from agents.approvals import DeadlineQuestion, TaskQuestion
from app.storage import EventWriter, Store, open_database
from tests.app.storage_events import emit_all, finished, sample_plan

LONG = ("The survey walked every beach of the southern coast in March. " * 4
        + "Near the lighthouse we counted forty nesting albatrosses on the cliffs. "
        + "Weather was calm for most of the week and the boats ran on time. " * 4)


def seed(writer: EventWriter, store: Store) -> dict[str, str]:
    """Four runs, each findable by a word in one place only."""
    ids = {name: store.create_run("Birds", goal) for name, goal in (
        ("goal", "Plan a vegetable garden with tomatoes"),
        ("output", "Write a report on penguins"),
        ("deliverable", "Summarise a paper"),
        ("approval", "Publish the findings"),
    )}
    plan = sample_plan()
    emit_all(writer, [
        ev.RunStarted(run_id=ids["output"], goal="Write a report on penguins", plan=plan),
        finished(ids["output"], "r1", LONG),
        ev.DeliverableReady(run_id=ids["deliverable"], markdown="# Paper\n\nConclusions about photosynthesis."),
        ev.RunStarted(run_id=ids["approval"], goal="Publish the findings", plan=plan),
        ev.ApprovalRequested(run_id=ids["approval"], request_id="req-1", task_id="risky", subject="task",
                             title="Publish", task=TaskQuestion(agent="coder", instructions="Do publish.")),
        ev.ApprovalResolved(run_id=ids["approval"], request_id="req-1", task_id="risky", action="edit",
                            text="Publish only the walrus appendix,\nnothing else."),
    ])
    return ids


def test_each_run_says_where_it_matched_with_the_words_marked(store: Store, writer: EventWriter) -> None:
    ids = seed(writer, store)

    [goal] = store.search_runs("tomato")
    assert goal.id == ids["goal"] and goal.hit is not None
    assert (goal.hit.kind, goal.hit.where) == ("goal", "goal")
    assert goal.hit.marked("[", "]") == "Plan a vegetable garden with [tomatoes]"

    [output] = store.search_runs("albatross")
    assert output.id == ids["output"] and output.hit is not None
    assert (output.hit.kind, output.hit.ref, output.hit.where) == ("output", "r1", "output of “Find colonies”")
    text = output.hit.marked("[", "]")
    assert "[albatrosses]" in text and text.startswith("…") and text.endswith("…")
    assert len(output.hit.text) < 120  # a few words around the match, not the whole output

    [deliverable] = store.search_runs("photosynth")
    assert deliverable.hit is not None and deliverable.hit.where == "deliverable"
    assert deliverable.hit.marked("[", "]") == "# Paper Conclusions about [photosynthesis]."  # one line

    [approval] = store.search_runs("walrus")
    assert approval.id == ids["approval"] and approval.hit is not None
    assert (approval.hit.kind, approval.hit.where) == ("approval", "approval edit of “Publish”")
    assert approval.hit.marked("[", "]") == "Publish only the [walrus] appendix, nothing else."


def test_every_searched_word_is_marked_and_a_plain_listing_has_no_hits(store: Store, writer: EventWriter) -> None:
    seed(writer, store)
    [run] = store.search_runs("vegetable TOMATO")
    assert run.hit is not None and run.hit.marked("[", "]") == "Plan a [vegetable] garden with [tomatoes]"
    assert all(r.hit is None for r in store.list_runs())


def test_a_deadline_edit_is_not_indexed_and_an_edit_asked_again_is_replaced(
        store: Store, writer: EventWriter) -> None:
    run_id = store.create_run("Birds", "Count puffins")
    emit_all(writer, [
        ev.ApprovalRequested(run_id=run_id, request_id="deadline-1", task_id="", subject="deadline", title="Deadline",
                             deadline=DeadlineQuestion(deadline=1.0, done=1, total=2, running=1)),
        ev.ApprovalResolved(run_id=run_id, request_id="deadline-1", task_id="", action="edit",
                            text="1767225600"),
        ev.ApprovalRequested(run_id=run_id, request_id="req-2", task_id="", subject="task", title="Count",
                             task=TaskQuestion(agent="writer", instructions="Count.")),
        ev.ApprovalResolved(run_id=run_id, request_id="req-2", task_id="", action="edit", text="Count gannets"),
        ev.ApprovalRequested(run_id=run_id, request_id="req-2", task_id="", subject="task", title="Count",
                             task=TaskQuestion(agent="writer", instructions="Count.")),
        ev.ApprovalResolved(run_id=run_id, request_id="req-2", task_id="", action="edit", text="Count skuas"),
    ])
    assert store.search_runs("1767225600") == []
    assert store.search_runs("gannets") == []
    [run] = store.search_runs("skuas")
    assert run.hit is not None and run.hit.where == "approval edit"


# --- troupe runs --search ----------------------------------------------------------------


def troupe(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`troupe` as a person runs it."""
    script = Path(sys.executable).with_name("troupe")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]
    env = {**os.environ, "TROUPE_HOME": str(home)}
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=60)


def test_troupe_runs_search_prints_the_snippet_and_json_has_it(troupe_home: Path) -> None:
    store = open_database(troupe_home / "troupe.db")
    writer = EventWriter(store)
    ids = seed(writer, store)
    writer.close()
    store.close()

    done = troupe(troupe_home, "runs", "--search", "walrus")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(ids["approval"]) and lines[0].endswith("Publish the findings")
    assert lines[1] == "    approval edit of “Publish”: Publish only the «walrus» appendix, nothing else."

    done = troupe(troupe_home, "runs", "--search", "albatross", "--json")
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    snippet = row["snippet"]
    assert (row["id"], snippet["kind"], snippet["ref"], snippet["where"]) == (
        ids["output"], "output", "r1", "output of “Find colonies”")
    [(start, end)] = snippet["marks"]
    assert snippet["text"][start:end] == "albatrosses"

    listed = json.loads(troupe(troupe_home, "runs", "--json").stdout)
    assert len(listed) == 4 and all(r["snippet"] is None for r in listed)


def test_more_runs_than_one_query_can_name_all_get_their_snippet(store: Store) -> None:
    for n in range(620):  # past the 500 runs a hits query names at once
        store.create_run("Seals", f"Count the grey seals of beach {n}")
    found = store.search_runs("seals", limit=1000)
    assert len(found) == 620 and all(r.hit is not None and r.hit.where == "goal" for r in found)
