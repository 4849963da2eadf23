"""Budgets and deadlines at intake through `troupe`: real subprocesses, a real SQLite
file and the scripted local LLM server. `--budget` replaces the settings' budget,
is stored and shown; bad values exit 2 in one line; a project's monthly budget
asks across runs; `--deadline` with `--yes` stops and writes up what finished."""

from __future__ import annotations

import json

import pytest

from app.storage import open_database
from tests.e2e.test_cli import env, model_args, requests_for, task, troupe, write_plan  # noqa: F401
from tests.support.scripted_server import Reply

PRICED = "openai/gpt-4o-mini"
"""In litellm's price list: 1000 + 1000 tokens cost $0.00075 a call."""
PRICY = Reply("done", prompt_tokens=1000, completion_tokens=1000)


def priced_args(server) -> list[str]:  # type: ignore[no-untyped-def]
    return ["--model", PRICED, "--api-base", server.base_url]


def abc(tmp_path):  # type: ignore[no-untyped-def]
    return write_plan(tmp_path / "p.json", [task("a"), task("b", deps=("a",)), task("c", deps=("b",))])


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--budget", "-1", "a budget must be more than $0: '-1'"),
    ("--budget", "lots", "not an amount of US dollars: 'lots'"),
    ("--deadline", "soon", "not a deadline: 'soon' (use 30m, 2h, 1h30m or HH:MM)"),
    ("--deadline", "24:10", "not a time of day: '24:10'"),
    ("--deadline", "0m", "a deadline must be in the future: '0m'"),
])
def test_bad_budgets_and_deadlines_exit_2_in_one_line(env, option, value, said):  # noqa: F811
    result = troupe(env, "run", "g", option, value)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and said in result.stderr and "Traceback" not in result.stderr


def test_the_intake_budget_stops_the_run_instead_of_the_settings_one_and_is_stored_and_shown(
        llm_server, env, tmp_path, troupe_home):  # noqa: F811
    llm_server.default = PRICY
    (troupe_home / "settings.json").write_text(json.dumps({"budget_usd": 5}))
    result = troupe(env, "run", "g", "--plan", str(abc(tmp_path)), *priced_args(llm_server),
                    "--budget", "0.001", input_text="y\ns\n")
    assert result.returncode == 1
    assert "The $0.0010 budget is spent" in result.stderr
    assert "run cancelled: stopped at the $0.0010 budget" in result.stderr
    assert requests_for(llm_server, "c") == 0
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    store = open_database(troupe_home / "troupe.db")
    try:
        from app.storage.limits import run_constraints
        assert run_constraints(store, run_id).budget_usd == 0.001
    finally:
        store.close()
    shown = troupe(env, "show", run_id).stdout
    assert "Budget $0.0010 · $0.0015 spent" in shown
    as_json = json.loads(troupe(env, "show", run_id, "--json").stdout)
    assert (as_json["budget_usd"], as_json["deadline"]) == (0.001, None)


def test_a_projects_monthly_budget_pauses_and_asks_across_runs(llm_server, env, tmp_path):  # noqa: F811
    llm_server.default = PRICY
    plan = str(abc(tmp_path))
    first = troupe(env, "run", "g", "--plan", plan, "--project", "Acme", *priced_args(llm_server), "--yes")
    assert first.returncode == 0, first.stderr  # 4 calls: $0.003
    assert troupe(env, "projects", "budget", "Acme", "0.004").returncode == 0
    listed = json.loads(troupe(env, "projects", "--json").stdout)
    [acme] = [p for p in listed if p["name"] == "Acme"]
    assert acme["monthly_budget_usd"] == 0.004 and acme["spent_this_month"] == pytest.approx(0.003)
    second = troupe(env, "run", "g", "--plan", plan, "--project", "Acme", *priced_args(llm_server),
                    input_text="y\ns\n")
    assert second.returncode == 1
    assert "Project “Acme” has spent its $0.0040 monthly budget" in second.stderr
    assert "over its $0.0040 monthly budget" in second.stderr  # the question's text
    assert "stopped at the project's $0.0040 monthly budget" in second.stderr
    assert requests_for(llm_server, "c") == 1  # only the first run's
    # another project is not held by Acme's budget; --yes continues, saying whose budget it was
    third = troupe(env, "run", "g", "--plan", plan, "--project", "Acme", *priced_args(llm_server), "--yes")
    assert third.returncode == 0 and "! project Acme's monthly budget:" in third.stderr
    assert troupe(env, "projects", "budget", "Acme", "none").returncode == 0
    assert json.loads(troupe(env, "projects", "--json").stdout)[0]["monthly_budget_usd"] is None


def test_at_the_deadline_yes_stops_and_writes_up_what_finished_as_partial(llm_server, env, tmp_path):  # noqa: F811
    # a finishes at once; b is still being answered when the deadline comes; c needs b
    llm_server.on(contains="Your task (b)", reply=Reply("late", latency=20))
    llm_server.on(contains="Compose the final deliverable", reply="# Partial write-up")
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b"), task("c", deps=("b",))])
    result = troupe(env, "run", "g", "--plan", str(plan), *model_args(llm_server), "--yes",
                    "--deadline", "6s")
    assert result.returncode == 0, result.stderr
    assert "has come: --yes stops and writes up what is finished (partial)" in result.stderr
    assert "troupe: partial result: stopped at the deadline" in result.stderr
    assert result.stdout.strip() == "# Partial write-up"
    synthesis = next(r for r in llm_server.chat_requests if "Compose the final deliverable" in r.last_user)
    assert "not done by the deadline" in synthesis.last_user
    listed = json.loads(troupe(env, "runs", "--json").stdout)[0]
    assert listed["status"] == "completed" and listed["partial"] is True
    shown = troupe(env, "show", listed["id"]).stdout
    assert "Deadline " in shown and "completed (partial)" in shown
