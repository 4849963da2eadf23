"""Budgets and deadlines as people type them (app/constraints.py), and as the history
keeps them (app/storage/limits.py): a run's own budget and deadline on its row, from
its ConstraintsSet events; a project's monthly budget and what its runs spent this
calendar month."""

from __future__ import annotations

import time

import pytest

from agents import events as ev
from agents.constraints import Constraints
from app.constraints import BadConstraint, constraints_line, parse_budget, parse_deadline, span_text
from app.storage import EventWriter, Store
from app.storage.limits import (
    UnknownProject,
    month_start,
    project_budget,
    project_budgets,
    run_constraints,
    set_project_budget,
    set_run_constraints,
)
from tests.app.storage_events import call, emit_all

NOON = time.mktime((2026, 12, 7, 12, 0, 0, 0, 0, -1))
"""Noon, local time, on a day in the middle of a month."""


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("90s", 90), ("45 min", 2700), ("1.5h", 5400)])
def test_a_deadline_from_now(text, seconds):
    assert parse_deadline(text, NOON) == NOON + seconds


def test_a_time_of_day_is_today_or_when_already_past_tomorrow():
    assert parse_deadline("14:30", NOON) == NOON + 2.5 * 3600
    assert parse_deadline("09:00", NOON) == time.mktime((2026, 12, 8, 9, 0, 0, 0, 0, -1))
    assert parse_deadline("12:00", NOON) == time.mktime((2026, 12, 8, 12, 0, 0, 0, 0, -1))  # now: tomorrow


@pytest.mark.parametrize(("text", "said"), [
    ("soon", "not a deadline: 'soon'"), ("", "not a deadline"), ("0m", "must be in the future"),
    ("24:00", "not a time of day"), ("12:60", "not a time of day"), ("-5m", "not a deadline")])
def test_deadlines_that_cannot_be_used_say_why_in_one_line(text, said):
    with pytest.raises(BadConstraint, match=said) as caught:
        parse_deadline(text, NOON)
    assert "\n" not in str(caught.value)


def test_budgets():
    assert parse_budget("0.50") == 0.5 and parse_budget("$2") == 2.0
    for bad, said in (("-1", "more than \\$0"), ("0", "more than \\$0"), ("lots", "not an amount"),
                      ("inf", "more than \\$0"), ("nan", "more than \\$0")):
        with pytest.raises(BadConstraint, match=said):
            parse_budget(bad)


def test_the_line_the_run_view_and_troupe_show_use():
    assert constraints_line(None, 0.3, None, NOON) == ""
    assert constraints_line(0.5, 0.12, None, NOON) == "Budget $0.50 · $0.12 spent"
    line = constraints_line(0.5, 0.0123, NOON + 720, NOON)
    assert line == "Budget $0.50 · $0.0123 spent  ·  Deadline 12:12 · 12 min left"
    assert constraints_line(None, 0, NOON - 180, NOON) == "Deadline 11:57 · passed 3 min ago"
    assert constraints_line(None, 0, NOON - 180, NOON, live=False) == "Deadline 11:57"
    assert (span_text(40), span_text(7200), span_text(7500)) == ("40 s", "2 h", "2 h 5 min")


def test_a_runs_constraints_are_stored_from_its_events_and_cleared_by_none(store: Store, writer: EventWriter):
    run_id = store.create_run("P", "g", {"model": "m"})
    assert run_constraints(store, run_id) == Constraints()
    set_run_constraints(store, run_id, Constraints(budget_usd=1.5))
    assert run_constraints(store, run_id) == Constraints(budget_usd=1.5)
    emit_all(writer, [ev.ConstraintsSet(run_id=run_id, budget_usd=0.5, deadline=NOON)])
    assert run_constraints(store, run_id) == Constraints(0.5, NOON)
    emit_all(writer, [ev.ConstraintsSet(run_id=run_id, budget_usd=0.5, deadline=None, reason="no deadline")])
    assert run_constraints(store, run_id) == Constraints(0.5, None)
    with pytest.raises(KeyError):
        run_constraints(store, "nope")


def test_a_projects_month_counts_every_run_of_it_this_calendar_month(store: Store, writer: EventWriter):
    one, two = store.create_run("Acme", "g1", {}), store.create_run("Acme", "g2", {})
    other = store.create_run("Other", "g3", {})
    last_month = month_start(NOON) - 3600
    emit_all(writer, [call(one, "a", cost=0.25, ts=NOON), call(two, "", purpose="plan", cost=0.5, ts=NOON + 60),
                      call(one, "b", cost=4.0, ts=last_month), call(other, "a", cost=1.0, ts=NOON)])
    set_project_budget(store, "Acme", 10.0)
    found = project_budget(store, "Acme", now=NOON + 3600)
    assert found is not None and found.monthly_budget_usd == 10.0 and found.spent == pytest.approx(0.75)
    assert [(p.name, p.monthly_budget_usd) for p in project_budgets(store, now=NOON)] == [
        ("Acme", 10.0), ("Other", None)]
    set_project_budget(store, "Acme", None)
    assert project_budget(store, "Acme", now=NOON).monthly_budget_usd is None  # type: ignore[union-attr]
    with pytest.raises(UnknownProject):
        set_project_budget(store, "Nope", 1.0)
    assert project_budget(store, "Nope") is None


# --- through RunService: stored with the run, announced by every start, kept on resume ---------


async def test_a_resume_keeps_the_runs_budget_and_deadline_unless_replaced(store: Store, llm_server, monkeypatch):
    from agents.plan import Plan
    from agents.plan.roster import Role, Roster
    from agents.ports import Action, Decision
    from app.runs.service import RunService
    from app.settings import Settings
    from tests.support.scripted_server import Reply

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-x")
    llm_server.default = Reply("done", prompt_tokens=1000, completion_tokens=1000)  # $0.00075 a call
    settings = Settings(default_model="openai/gpt-4o-mini", api_base=llm_server.base_url, max_attempts=1)
    service = RunService(store, settings=settings, roster=Roster((Role("orchestrator", "o"), Role("writer", "w"))))
    plan = Plan.from_dict({"goal": "g", "tasks": [
        {"id": t, "title": t, "agent": "writer", "depends_on": [d] if d else []} for t, d in
        (("a", ""), ("b", "a"), ("c", "b"))]})

    class Stop:
        async def decide(self, request):  # type: ignore[no-untyped-def]
            return Decision(Action.REJECT)

    deadline = time.time() + 3600
    try:
        run_id = service.create_run("P", "g", service.config(), Constraints(budget_usd=0.001, deadline=deadline))
        first = await service.start(run_id, plan, service.config(), Stop()).run()
        assert first.error == "stopped at the $0.0010 budget"
        handle = service.resume(run_id, Stop())
        assert handle._start.constraints == Constraints(0.001, deadline)
        again = await handle.run()  # the run's spend so far ($0.0015) counts: stops before any call
        assert again.error == "stopped at the $0.0010 budget"
        assert sum("Your task (c)" in r.last_user for r in llm_server.requests) == 0
        handle = service.resume(run_id, Stop(), constraints=Constraints(budget_usd=1.0))
        assert (await handle.run()).status == "completed"
    finally:
        await service.aclose_llm()
        service.writer.flush()
    assert run_constraints(store, run_id) == Constraints(budget_usd=1.0)
    announced = [e for e in store.events(run_id) if e["type"] == "ConstraintsSet"]
    assert [(e["budget_usd"], e["deadline"] is not None, e["reason"]) for e in announced] == [
        (0.001, True, "intake"), (0.001, True, ""), (0.001, True, ""), (1.0, False, "changed"), (1.0, False, "")]
    service.close()
