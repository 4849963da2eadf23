"""Task patterns through the real `troupe` command (issue 14): `troupe run --plan FILE`
for each pattern against the scripted local server, conflicts at the terminal
and under --yes, what `troupe show` (text and --json) and the exports keep of
steps and conflicts, and a malformed pattern refused with exit 2 in one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter

import pytest

from app.storage import open_database
from tests.e2e.test_cli import _wait_for, env, model_args, troupe, write_plan  # noqa: F401 - env is a fixture
from tests.support.scripted_server import Gate, Reply
from tests.support.team_script import ESSAY, LIST, MAP, PLANS, VOTE, TeamScript, step_of, task


def run_plan(env, llm_server, tmp_path, tasks, *extra: str, input_text: str | None = None):  # noqa: F811
    plan = write_plan(tmp_path / "plan.json", tasks)
    result = troupe(env, "run", "Write about penguins", "--plan", str(plan), *extra, *model_args(llm_server),
                    input_text=input_text)
    runs = json.loads(troupe(env, "runs", "--json").stdout)
    return result, runs[0]["id"] if runs else None


def show(env, run_id: str) -> dict:  # noqa: F811
    result = troupe(env, "show", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_id(data: dict) -> dict[str, dict]:
    return {t["id"]: t for t in data["tasks"]}


def steps(data: dict, task_id: str) -> list[tuple[str, str, str | None]]:
    return [(s["step"], s["agent"], s["note"]) for s in by_id(data)[task_id]["steps"]]


EXPECTED_STEPS = {
    "review": ("essay", [("draft 1", "writer", None), ("review 1", "reviewer", "revise"),
                         ("draft 2", "writer", None), ("review 2", "reviewer", "approved")]),
    "vote": ("q", [("answer 1", "analyst", None), ("answer 2", "researcher", None),
                   ("answer 3", "writer", None), ("tally", "vote", "agreement 67%")]),
    "debate": ("d", [("round 1 · 1", "analyst", None), ("round 1 · 2", "researcher", None),
                     ("round 2 · 1", "analyst", None), ("round 2 · 2", "researcher", None),
                     ("judgement 2", "reviewer", "picked debater 1")]),
    "map": ("each", [(f"item {i}", "analyst", None) for i in range(1, 6)]),
    "route": ("pick", [("route", "analyst", "chose prose")]),
}
EXPECTED_OUTPUT = {
    "review": "draft 2 about penguins",
    "vote": "Emperor penguin",
    "debate": "WINNER: 1\nThe first debater had the evidence.\nEmperor penguins are the largest.",
    "map": "### 1. penguin colony 1\n\nsummary of item 1",
    "route": "Chose “prose” (Task write): The goal asks for an essay.",
}


@pytest.mark.parametrize("pattern", list(PLANS))
def test_each_pattern_runs_from_a_plan_file(pattern, llm_server, env, tmp_path):  # noqa: F811
    llm_server.script(TeamScript())
    result, run_id = run_plan(env, llm_server, tmp_path, PLANS[pattern], "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "# Deliverable\n\nThe team's results, combined."
    assert "Traceback" not in result.stderr
    data = show(env, run_id)
    assert data["status"] == "completed" and data["conflicts"] == []
    task_id, expected = EXPECTED_STEPS[pattern]
    assert steps(data, task_id) == expected
    shown = by_id(data)[task_id]
    assert shown["pattern"]["pattern"] == pattern and shown["conflicts"] == []
    assert EXPECTED_OUTPUT[pattern] in shown["output"]
    assert all(s["status"] == "done" and s["output"] and s["replayed"] is False for s in shown["steps"])
    others = [t for t in data["tasks"] if t["id"] != task_id]
    assert all(t["steps"] == [] and t["pattern"] is None for t in others)
    if pattern == "route":
        tasks = by_id(data)
        assert tasks["build"]["status"] == "skipped"
        assert tasks["build"]["error"] == "not chosen by “Task pick” (it chose prose)"
        assert tasks["write"]["status"] == tasks["final"]["status"] == "completed"
    lines = troupe(env, "show", run_id).stdout.splitlines()
    if pattern == "route":  # the text says why a task was skipped
        assert any(line.strip() == "why: not chosen by “Task pick” (it chose prose)" for line in lines)
    for step, agent, note in expected:
        assert any(f"· {step} " in line and f" {agent} " in line and (note or "") in line for line in lines), step


WHY = "the reviewer did not approve after 3 rounds; its last review: Add a source to draft 3."


def test_a_review_never_approved_under_yes_takes_the_draft_and_says_so(llm_server, env, tmp_path,  # noqa: F811
                                                                       troupe_home):
    llm_server.script(TeamScript(approve_draft=None))
    result, run_id = run_plan(env, llm_server, tmp_path, [ESSAY], "--yes")
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "conflict" in line]
    assert said == [f"  ! conflict (essay): {WHY}; no person decided (--yes): took the review's own result"]
    data = show(env, run_id)
    essay = by_id(data)["essay"]
    assert essay["output"] == "draft 3 about penguins"
    [conflict] = data["conflicts"]
    assert essay["conflicts"] == [conflict]
    assert conflict["kind"] == "review" and conflict["task_id"] == "essay"
    assert conflict["why"] == WHY  # the reviewer's objection; only drafts can be picked
    assert [(c["number"], c["who"]) for c in conflict["claims"]] == [
        (1, "writer, draft 3"), (2, "writer, draft 2"), (3, "writer, draft 1")]
    assert conflict["claims"][1]["text"] == "draft 2 about penguins"
    assert conflict["action"] == "approve" and conflict["decided_by"] == "no person decided (--yes)"
    assert conflict["resolution"] == "accepted the review's own result: claim 1 (writer, draft 3)"
    assert steps(data, "essay")[-1] == ("decision 1", "person", "approve")
    store = open_database(troupe_home / "troupe.db")
    [approval] = store.approvals(run_id)  # the approvals table keeps the question as text
    store.close()
    assert approval.subject == "conflict" and approval.action == "approve"
    assert approval.text == "no person decided (--yes): took the review's own result"
    assert approval.details.startswith(f"Review: {WHY}\n\n1. writer, draft 3:")
    assert approval.details.endswith("3. writer, draft 1:\ndraft 1 about penguins\n\n"
                                     "Accept as is: claim 1 (writer, draft 3)")

    text = troupe(env, "show", run_id).stdout
    assert f"⚖ conflict (review): {WHY}" in text
    assert "2. writer, draft 2:" in text and "draft 2 about penguins" in text
    assert ("→ accepted the review's own result: claim 1 (writer, draft 3) (no person decided (--yes))"
            in text)
    assert "· review 3" in text and "revise" in text


def test_a_conflict_at_the_terminal_is_settled_by_picking_a_claim(llm_server, env, tmp_path):  # noqa: F811
    llm_server.script(TeamScript(votes={"analyst": "Emperor", "researcher": "King", "writer": "Gentoo"}))
    result, run_id = run_plan(env, llm_server, tmp_path, [VOTE], input_text="y\nx\n2\n")
    assert result.returncode == 0, result.stderr
    assert "Agents disagree on q: Task q (vote)" in result.stderr
    assert "Why: the vote is tied" in result.stderr
    assert "1. analyst (answer 1)" in result.stderr and "3. writer (answer 3)" in result.stderr
    assert "[a]ccept as is, [1-3] pick one, [w]rite the answer myself, [r]un another round? " in result.stderr
    data = show(env, run_id)
    assert by_id(data)["q"]["output"] == "King"
    [conflict] = data["conflicts"]
    assert (conflict["action"], conflict["text"], conflict["decided_by"]) == ("pick", "2", "the person")
    assert conflict["resolution"] == "picked claim 2 (researcher (answer 2))"
    assert "(decided by the person)" in troupe(env, "show", run_id).stdout


def test_a_conflict_answered_with_the_persons_own_words(llm_server, env, tmp_path):  # noqa: F811
    llm_server.script(TeamScript(approve_draft=None))
    result, run_id = run_plan(env, llm_server, tmp_path, [ESSAY], input_text="y\nw\nMy own essay.\n")
    assert result.returncode == 0, result.stderr
    data = show(env, run_id)
    assert by_id(data)["essay"]["output"] == "My own essay."
    assert data["conflicts"][0]["resolution"] == "wrote the answer: My own essay."


def test_exports_keep_steps_and_conflicts(llm_server, env, tmp_path):  # noqa: F811
    llm_server.script(TeamScript(approve_draft=None))
    _, run_id = run_plan(env, llm_server, tmp_path, [ESSAY, LIST, task("each", "analyst", ("list",),
                                                                         pattern="map", over="list")], "--yes")
    out = {fmt: troupe(env, "export", run_id, "--format", fmt).stdout for fmt in ("md", "html", "json")}
    md = out["md"]
    assert "Steps:" in md and "- **review 1** (reviewer): revise — `REVISE Add a source to draft 1.`" in md
    assert "- **item 5** (analyst): `summary of item 5`" in md
    assert f"**Conflict (Review)**: {WHY}" in md
    assert "   > draft 2 about penguins" in md
    assert ("_No person decided (--yes): accepted the review's own result: claim 1 (writer, draft 3)._"
            in md)
    assert "<strong>Conflict (Review)</strong>" in out["html"] and "<blockquote>" in out["html"]
    data = json.loads(out["json"])
    assert data == show(env, run_id)
    assert len(by_id(data)["each"]["steps"]) == 5 and data["conflicts"][0]["kind"] == "review"


@pytest.mark.parametrize(("field", "tasks", "problem"), [
    ("voters", [task("q", "analyst", pattern="vote", voters=["analyst", "poet"])],
     "task 'q' (vote): voter 'poet' is not a known role (known: analyst, coder, orchestrator, researcher, "
     "reviewer, writer)"),
    ("over", [LIST, task("each", "analyst", pattern="map", over="list")],
     "task 'each' (map) is over 'list', which is not one of its dependencies: add 'list' to depends_on"),
    ("reviewer", [task("essay", pattern="review", reviewer="critic")],
     "task 'essay' (review): reviewer 'critic' is not a known role"),
    ("max_items", [LIST, task("each", "analyst", ("list",), pattern="map", over="list", max_items=5000)],
     "task 'each' (map): max_items is 5000; it must be 1 to 1000"),
])
def test_a_malformed_pattern_exits_2_with_the_problem_in_one_line(field, tasks, problem, llm_server, env,  # noqa: F811
                                                                   tmp_path):
    result, run_id = run_plan(env, llm_server, tmp_path, tasks, "--yes")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("troupe: invalid plan file ")
    assert problem in result.stderr
    assert run_id is None and llm_server.chat_requests == []


# --- kill -9 in the middle of a review loop, a vote and a map of 300 --------------------


def stored_steps(store, run_id: str) -> set[tuple[str, str]]:
    """(task, step) of every StepFinished the database holds."""
    return {(e["task_id"], e["step"]) for e in store.events(run_id) if e["type"] == "StepFinished"}


def test_kill_9_mid_patterns_then_resume_sends_no_finished_step_again(llm_server, env, tmp_path,  # noqa: F811
                                                                     troupe_home):
    held, listed = Gate(), Gate()
    script = TeamScript(approve_draft=3, items=300, item_latency=0.1)
    llm_server.script(script)
    # the list waits until the review and the vote are each mid-way with a call in flight;
    # then the map's items take the free slots
    llm_server.on(predicate=lambda r: step_of(r) == ("list", "task"), reply=lambda r: script(r).but(wait=listed),
                  times=1)
    llm_server.on(predicate=lambda r: step_of(r) == ("essay", "draft 3"),
                  reply=Reply("draft 3 about penguins", wait=held), times=1)
    llm_server.on(predicate=lambda r: step_of(r) == ("q", "answer 3"),
                  reply=Reply("King penguin", wait=held), times=1)
    essay = {**ESSAY, "max_rounds": 5}
    plan = write_plan(tmp_path / "plan.json", [essay, VOTE, LIST, MAP])
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "Write about penguins", "--plan", str(plan), "--yes",
         *model_args(llm_server)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    store = open_database(troupe_home / "troupe.db")
    try:
        _wait_for(lambda: store.list_runs(), proc=proc)
        run_id = store.list_runs()[0].id
        in_flight = {("essay", "draft 3"), ("q", "answer 3")}
        _wait_for(lambda: in_flight <= {step_of(r) for r in llm_server.chat_requests}, proc=proc)
        listed.open()
        _wait_for(lambda: sum(step_of(r)[0] == "each" for r in llm_server.chat_requests) >= 100, proc=proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    held.open()
    listed.open()
    finished = stored_steps(store, run_id)
    before = Counter(step_of(r) for r in llm_server.chat_requests)
    items_done = sum(task == "each" for task, _ in finished)
    assert 0 < items_done < 300, "the kill came after the map finished: make the items slower"
    assert {("essay", "review 2"), ("q", "answer 2")} <= finished
    assert ("essay", "draft 3") not in finished and ("q", "answer 3") not in finished  # cut off in flight

    result = troupe(env, "resume", run_id, "--yes", timeout=180)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} finished step(s) replayed" in result.stderr
    sent = Counter(step_of(r) for r in llm_server.chat_requests)
    again = {step: n for step, n in sent.items() if step in finished and n != 1}
    assert again == {}, f"finished steps sent again: {again}"
    assert sent[("list", "task")] == 1  # a finished task is kept, as before
    assert sent[("essay", "draft 3")] == 2 and sent[("q", "answer 3")] == 2
    items = {step for task, step in sent if task == "each"}
    assert len(items) == 300 and all(sent[("each", s)] <= before[("each", s)] + 1 for s in items)

    data = show(env, run_id)
    assert data["status"] == "completed"
    tasks = by_id(data)
    assert tasks["essay"]["output"] == "draft 3 about penguins" and tasks["q"]["output"] == "Emperor penguin"
    assert [(s["step"], s["replayed"]) for s in tasks["essay"]["steps"]] == [
        ("draft 1", True), ("review 1", True), ("draft 2", True), ("review 2", True),
        ("draft 3", False), ("review 3", False)]
    assert len(tasks["each"]["steps"]) == 300
    assert sum(s["replayed"] for s in tasks["each"]["steps"]) == items_done
    assert tasks["each"]["output"].count("summary of item") == 300
    store.close()


def test_the_plan_says_each_tasks_pattern():
    from agents.plan import Plan
    from app.cli.console import render_plan

    plan = Plan.from_dict({"goal": "g", "tasks": [ESSAY]})
    assert "(writer)  [review ×3 by reviewer]" in render_plan(plan)


def test_the_goal_typed_wins_over_the_plan_files(llm_server, env, tmp_path):  # noqa: F811
    llm_server.script(TeamScript())
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"goal": "The file's goal", "tasks": [task("a", "writer")]}))
    result = troupe(env, "run", "Typed goal about penguins", "--plan", str(path), "--yes", *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    assert "Plan for: Typed goal about penguins" in result.stdout + result.stderr
    sent = [r for r in llm_server.chat_requests if "Your task (a)" in r.last_user]
    assert "Overall goal of the team: Typed goal about penguins" in sent[0].last_user
