"""Issue 13's smaller defects, as a person meets them: real `troupe` subprocesses,
real SQLite files and the local scripted server."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from agents.events import PlanRejectedByModel
from agents.llm.calls import CallContext
from agents.plan import Plan, Task, plan_problems
from agents.plan.planner import Planner
from agents.plan.roster import load_roster
from agents.run.agent import ModelSettings
from agents.testing import FakeLLM, RecordingSink
from app.safe_text import safe_text
from app.storage import open_database
from tests.e2e.test_cli import env, model_args, task, troupe, write_plan  # noqa: F401 - env is a fixture

ROLES = ["writer", "researcher"]

# --- blank ids, titles and goals ------------------------------------------------------------


@pytest.mark.parametrize(("tasks", "problem"), [
    ([{"id": "   ", "title": "Write", "agent": "writer"}], "task #1 ('Write') has an empty id: give it one"),
    ([{"id": "a", "title": " \t ", "agent": "writer"}], "task 'a' has an empty title: give it one"),
    ([{"id": "a", "title": "A", "agent": "writer", "children": [{"id": " ", "title": " ", "agent": "writer"}]}],
     "task #2 has an empty id and title: give it one"),
])
def test_a_blank_task_id_or_title_is_one_named_problem(tasks, problem):
    assert plan_problems(Plan.from_dict({"goal": "g", "tasks": tasks}), ROLES) == [problem]


def test_two_blank_ids_are_not_also_a_duplicate():
    plan = Plan(goal="g", tasks=(Task(" ", "A"), Task("", "B")))  # as the window or a caller builds them
    assert plan_problems(plan, ROLES) == ["task #1 ('A') has an empty id: give it one",
                                          "task #2 ('B') has an empty id: give it one"]


async def test_the_planner_sends_a_blank_title_back_to_the_model():
    blank = '{"goal": "x", "tasks": [{"id": "a", "title": "   ", "agent": "writer"}]}'
    good = '{"goal": "x", "tasks": [{"id": "a", "title": "Write", "agent": "writer"}]}'
    replies = iter([blank, good])
    llm = FakeLLM(lambda r: next(replies))
    sink = RecordingSink()
    planner = Planner(llm, load_roster(), ModelSettings(model="fake/m"))
    result = await planner.plan(CallContext(run_id="r", sink=sink, purpose="plan"), "my goal")
    assert result.attempts == 2 and result.plan.tasks[0].title == "Write"
    assert sink.of(PlanRejectedByModel)[0].error == "task 'a' has an empty title: give it one"
    assert "task 'a' has an empty title" in llm.requests[1].messages[-1].content


def test_run_refuses_a_plan_file_with_a_blank_title(llm_server, env, tmp_path):  # noqa: F811
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b", title="   ")])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", *model_args(llm_server))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"troupe: invalid plan file {plan}: task 'b' has an empty title: give it one"]
    assert not llm_server.chat_requests


@pytest.mark.parametrize(("command", "goal"), [("run", ""), ("run", "   "), ("plan", " \t\n ")])
def test_an_empty_goal_is_refused_in_one_line(llm_server, env, command, goal):  # noqa: F811
    result = troupe(env, command, goal, *model_args(llm_server))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "troupe: argument goal: it is empty or only spaces: say what the team should do (see `troupe --help`)"]
    assert not llm_server.chat_requests


# --- troupe runs: --limit, --offset and what is left -----------------------------------------


@pytest.fixture
def many_runs(troupe_home: Path) -> list[str]:
    """250 runs in the data folder's real database, newest last; every 10th is about otters."""
    store = open_database(troupe_home / "troupe.db")
    try:
        ids = []
        for n in range(250):
            ids.append(store.create_run("Default", f"goal {n:03d}" + (" otters" if n % 10 == 0 else "")))
            time.sleep(0.0005)  # distinct creation times: newest first is well defined
    finally:
        store.close()
    return ids[::-1]  # newest first, as troupe runs lists them


def listed_ids(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines()]


def test_runs_lists_a_page_and_says_how_to_see_the_rest(env, many_runs):  # noqa: F811
    first = troupe(env, "runs")
    assert first.returncode == 0, first.stderr
    assert listed_ids(first.stdout) == many_runs[:50]
    assert first.stderr.strip() == "… 200 more: troupe runs --offset 50"

    page = troupe(env, "runs", "--offset", "200", "--limit", "30")
    assert listed_ids(page.stdout) == many_runs[200:230]
    assert page.stderr.strip() == "… 20 more: troupe runs --offset 230 --limit 30"

    last = troupe(env, "runs", "--offset", "230", "--limit", "30")
    assert listed_ids(last.stdout) == many_runs[230:] and last.stderr == ""

    everything = troupe(env, "runs", "--limit", "1000", "--json")
    assert [r["id"] for r in json.loads(everything.stdout)] == many_runs and everything.stderr == ""
    past = troupe(env, "runs", "--offset", "250")
    assert past.returncode == 0 and past.stdout == ""
    assert past.stderr.strip() == "no runs after the first 250: try a smaller --offset"


def test_runs_pages_a_search_and_json_holds_every_requested_row(env, many_runs):  # noqa: F811
    otters = [rid for n, rid in enumerate(reversed(many_runs)) if n % 10 == 0][::-1]  # 25, newest first
    found = troupe(env, "runs", "--search", "otters", "--limit", "10", "--offset", "5", "--json")
    assert found.returncode == 0, found.stderr
    rows = json.loads(found.stdout)
    assert [r["id"] for r in rows] == otters[5:15] and all("otters" in r["goal"] for r in rows)
    assert found.stderr.strip() == "… 10 more: troupe runs --offset 15 --limit 10 --search otters --json"


@pytest.mark.parametrize("bad", [["--limit", "0"], ["--offset", "-1"], ["--limit", "many"]])
def test_bad_paging_is_one_line(env, bad):  # noqa: F811
    result = troupe(env, "runs", *bad)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert re.search(r"argument --(limit|offset)", result.stderr)


# --- control characters and terminal escapes from models ---------------------------------------

HOSTILE = "RED\x1b[31mALERT\x1b[0m\x00NUL\x07BEL\x1b]0;pwned\x07\r\x9b2Jend"
SHOWN = "REDALERTNULBELend"  # what is left of it on a terminal and in md/html
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_control_characters_are_kept_in_history_and_never_shown_raw(llm_server, env, tmp_path, troupe_home):  # noqa: F811
    llm_server.on(contains="Your task (a)", reply=f"task says {HOSTILE}")
    llm_server.on(contains="Compose the final deliverable", reply=f"# Report\n\n\tdeliverable {HOSTILE}\n")
    plan = write_plan(tmp_path / "p.json", [task("a")])
    ran = troupe(env, "run", "paint it \x1b[31mred", "--plan", str(plan), "--yes", *model_args(llm_server))
    assert ran.returncode == 0, ran.stderr
    assert f"\tdeliverable {SHOWN}" in ran.stdout and "paint it red" in ran.stderr
    assert not RAW.search(ran.stdout + ran.stderr)

    store = open_database(troupe_home / "troupe.db")  # history is evidence: kept as the model wrote it
    try:
        [run] = store.list_runs()
        stored = store.get_run(run.id)
    finally:
        store.close()
    assert HOSTILE in (stored.deliverable or "") and HOSTILE in (stored.task("a").output or "")
    assert stored.goal == "paint it \x1b[31mred"

    for args in (["runs"], ["show", run.id], ["export", run.id, "--format", "md"],
                 ["export", run.id, "--format", "html"]):
        shown = troupe(env, *args)
        assert shown.returncode == 0 and not RAW.search(shown.stdout + shown.stderr), args
    md = troupe(env, "export", run.id, "--format", "md", "--out", str(tmp_path / "run.md"))
    assert md.returncode == 0
    text = (tmp_path / "run.md").read_text(encoding="utf-8")
    assert f"task says {SHOWN}" in text and not RAW.search(text)

    exported = troupe(env, "export", run.id, "--format", "json", "--out", str(tmp_path / "run.json"))
    assert exported.returncode == 0
    text = (tmp_path / "run.json").read_text(encoding="utf-8")
    assert not RAW.search(text) and "\\u0000" in text and "\\u001b" in text and "\\u009b" in text
    assert json.loads(text)["deliverable"] == stored.deliverable  # escaped, not lost
    shown = json.loads(troupe(env, "show", run.id, "--json").stdout)
    assert shown["deliverable"] == stored.deliverable


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text\n\twith tabs", "plain text\n\twith tabs"),
    ("\x1b[1;31mbold red\x1b[0m", "bold red"),
    ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # a hyperlink (OSC 8)
    ("a\x1bcb\x1b(Bc", "abc"),  # reset, charset
    ("nul\x00 del\x7f c1\x85 csi\x9b1mx", "nul del c1 csix"),
    ("über ✓ 日本", "über ✓ 日本"),
])
def test_safe_text_drops_escapes_and_controls_only(raw, shown):
    assert safe_text(raw) == shown
