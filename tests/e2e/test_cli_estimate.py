"""The cost estimate through the CLI: shown before the run, checked by --max-cost,
learned from history, and put next to the actual cost afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.storage import open_database
from tests.e2e.test_cli import troupe, write_plan
from tests.support.scripted_server import Reply, ScriptedServer


@pytest.fixture
def env(troupe_home: Path) -> dict[str, str]:
    return {**os.environ, "TROUPE_HOME": str(troupe_home), "OPENAI_API_KEY": "sk-test-estimate",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"}


PRICED = "openai/gpt-4o-mini"  # $0.15 / $0.60 per million tokens in litellm 1.106.2's map
UNPRICED = "openai/troupe-test-model"


def task(id: str, agent: str = "writer", deps: tuple[str, ...] = (), **fields: object) -> dict:
    return {"id": id, "title": f"Task {id}", "instructions": f"Do {id}.", "agent": agent,
            "depends_on": list(deps), **fields}


def args(server: ScriptedServer, model: str = PRICED) -> list[str]:
    return ["--model", model, "--api-base", server.base_url, "--yes"]


def stored_estimate(home: Path, run_id: str | None = None) -> dict:
    store = open_database(home / "troupe.db")
    try:
        run = store.list_runs()[0] if run_id is None else store.get_run(run_id)
        return store.get_run(run.id).estimate
    finally:
        store.close()


def test_the_estimate_is_shown_stored_and_compared_after_the_run(llm_server, env, tmp_path, troupe_home):
    llm_server.default = Reply("An answer.", prompt_tokens=300, completion_tokens=400)
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b", deps=("a",))])

    result = troupe(env, "run", "g", "--plan", str(plan), *args(llm_server))

    assert result.returncode == 0, result.stderr
    assert "Estimated cost: ~$" in result.stderr
    assert "- a: Task a (writer)  [~$" in result.stderr
    assert "No history yet for some roles: assumes ~500 tokens an answer" in result.stderr
    estimate = stored_estimate(troupe_home)
    assert estimate["total"]["low"] < estimate["total"]["expected"] < estimate["total"]["high"]
    assert [t["task_id"] for t in estimate["tasks"]] == ["a", "b"]
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    shown = troupe(env, "show", run_id)
    assert "estimated ~$" in shown.stdout and "actual $" in shown.stdout
    assert json.loads(troupe(env, "show", run_id, "--json").stdout)["estimate"] == estimate


def test_the_next_estimate_learns_answer_lengths_from_history(llm_server, env, tmp_path, troupe_home):
    llm_server.default = Reply("An answer.", prompt_tokens=300, completion_tokens=2000)
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b"), task("c")])
    assert troupe(env, "run", "g", "--plan", str(plan), *args(llm_server)).returncode == 0
    first = stored_estimate(troupe_home)

    assert troupe(env, "run", "g", "--plan", str(plan), *args(llm_server)).returncode == 0
    second = stored_estimate(troupe_home)

    assert [t["completion_tokens"] for t in first["tasks"]] == [500] * 3
    assert [t["completion_tokens"] for t in second["tasks"]] == [2000] * 3
    assert all(t["history_samples"] >= 3 for t in second["tasks"])
    assert second["total"]["expected"] > 2 * first["total"]["expected"]


def test_max_cost_refuses_to_start_before_any_task_call(llm_server, env, tmp_path):
    plan = write_plan(tmp_path / "p.json", [task("a", pattern="vote", samples=5, judge="reviewer")])

    refused = troupe(env, "run", "g", "--plan", str(plan), "--max-cost", "0.0001", *args(llm_server))

    assert refused.returncode == 2
    line = refused.stderr.splitlines()[-1]
    assert line.startswith("troupe: not started: the estimate's high end, $0.00")
    assert "is above --max-cost $0.0001" in line
    assert "--yes-over-estimate" in line
    assert llm_server.chat_requests == []
    assert json.loads(troupe(env, "runs", "--json").stdout)[0]["status"] == "cancelled"

    allowed = troupe(env, "run", "g", "--plan", str(plan), "--max-cost", "0.0001", "--yes-over-estimate",
                     *args(llm_server))
    assert allowed.returncode == 0, allowed.stderr
    assert troupe(env, "run", "g", "--plan", str(plan), "--max-cost", "5", *args(llm_server)).returncode == 0


def test_unknown_prices_are_said_and_max_cost_cannot_be_checked(llm_server, env, tmp_path):
    plan = write_plan(tmp_path / "p.json", [task("a")])

    refused = troupe(env, "run", "g", "--plan", str(plan), "--max-cost", "1", *args(llm_server, UNPRICED))

    assert refused.returncode == 2
    assert "Estimated cost: price unknown" in refused.stderr
    assert "No known price for “Task a”" in refused.stderr
    assert ("--max-cost cannot be checked, no known price for “Task a”, “Synthesis of the deliverable”"
            in refused.stderr)
    assert llm_server.chat_requests == []


def test_bad_max_cost_values_exit_2_with_one_line(env):
    for value in ("-1", "0", "lots"):
        result = troupe(env, "run", "g", "--max-cost", value)
        assert result.returncode == 2
        assert "--max-cost" in result.stderr and "US dollars" in result.stderr
        assert "Traceback" not in result.stderr


def test_troupe_plan_prints_the_estimate(llm_server, env, tmp_path):
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=json.dumps(
        {"goal": "g", "tasks": [task("r", "researcher"), task("w", deps=("r",), pattern="review",
                                                               reviewer="reviewer", max_rounds=3)]}))
    result = troupe(env, "plan", "write a report", "--model", PRICED, "--api-base", llm_server.base_url,
                    "--out", str(tmp_path / "plan.json"))
    assert result.returncode == 0, result.stderr
    assert "Estimated cost: ~$" in result.stderr
    assert "review ×3 by reviewer; ~$" in result.stderr
