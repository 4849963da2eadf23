"""Where the money went: the usage queries over a real SQLite file written by the
real EventWriter, and `troupe usage` on top of them."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from app.cli.main import main
from app.paths import db_path
from app.storage import open_database
from app.storage.usage import GroupBy, top_runs, usage_by
from app.usage import BadPeriod, money, named_period, parse_period, usage_report
from tests.app.storage_events import call
from tests.support.usage_data import Seeded, local_ts, seed_usage


@pytest.fixture
def seeded() -> Seeded:
    store = open_database(db_path())  # the data folder `troupe usage` reads (TROUPE_HOME)
    try:
        return seed_usage(store)
    finally:
        store.close()


@pytest.fixture
def store(seeded: Seeded):
    store = open_database(db_path())
    yield store
    store.close()


def _rows(store, by: GroupBy, period=None):
    period = period or parse_period(None, None)
    return {r.key: r for r in usage_by(store, by, period.since, period.until)}


def test_by_project_sums_cost_calls_and_tokens_of_the_last_30_days(store):
    rows = _rows(store, GroupBy.PROJECT)
    assert list(rows) == ["Alpha", "Mystery", "Local"]  # costliest first
    alpha = rows["Alpha"]
    assert (alpha.calls, round(alpha.cost, 6), alpha.unpriced_calls) == (5, 0.1, 0)  # not the old run's $1
    assert alpha.prompt_tokens == 100 + 4 * 10 and alpha.completion_tokens == 50 + 4 * 20
    assert rows["Local"].free and not rows["Alpha"].free
    assert rows["Mystery"].unpriced_calls == 2 and not rows["Mystery"].free


def test_by_model_and_by_role(store):
    models = _rows(store, GroupBy.MODEL)
    assert list(models) == ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest",
                            "openai/mystery-1", "openai/llama3.2"]  # unpriced before free
    assert round(models["openai/gpt-4o-mini"].cost, 6) == 0.12
    roles = _rows(store, GroupBy.ROLE)
    # planner and synthesis calls are the orchestrator's; task calls their task's agent
    assert {k: (r.calls, round(r.cost, 6)) for k, r in roles.items()} == {
        "orchestrator": (2, 0.02), "researcher": (2, 0.05), "writer": (3, 0.03),
        "translator": (3, 0.05)}


def test_by_day_is_the_local_calendar_day_in_order(store, seeded):
    days = _rows(store, GroupBy.DAY)
    yesterday = seeded.today - dt.timedelta(days=1)
    assert list(days) == [yesterday.isoformat(), seeded.today.isoformat()]
    assert (days[yesterday.isoformat()].calls, round(days[yesterday.isoformat()].cost, 6)) == (2, 0.03)


def test_a_day_is_the_local_one_not_utcs(monkeypatch, tmp_path):
    monkeypatch.setenv("TZ", "Etc/GMT-13")  # 13 hours ahead of UTC
    time.tzset()
    try:
        store = open_database(tmp_path / "tz.db")
        day = dt.date(2026, 3, 10)
        run_id = store.create_run("P", "g")
        from app.storage import EventWriter  # noqa: PLC0415

        writer = EventWriter(store)
        writer.emit(call(run_id, "", "plan", ts=local_ts(day, 0, 30)))  # still the 9th in UTC
        assert writer.flush()
        writer.close()
        assert [r.key for r in usage_by(store, GroupBy.DAY)] == ["2026-03-10"]
        store.close()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_periods_cut_by_when_the_call_finished(store, seeded):
    all_time = _rows(store, GroupBy.PROJECT, named_period("all"))
    assert round(all_time["Alpha"].cost, 6) == 1.1  # the run of 60 days ago counts now
    today_only = _rows(store, GroupBy.PROJECT, parse_period("1d", None))
    assert round(today_only["Alpha"].cost, 6) == 0.07  # yesterday's planner and research calls left out
    yesterday = (seeded.today - dt.timedelta(days=1)).isoformat()
    just_yesterday = _rows(store, GroupBy.DAY, parse_period(yesterday, yesterday))
    assert list(just_yesterday) == [yesterday]
    assert _rows(store, GroupBy.DAY, parse_period("7d", "1d")) == just_yesterday  # until 1 day ago


def test_top_runs_by_cost_in_the_period(store, seeded):
    period = named_period("all")
    runs = top_runs(store, period.since, period.until)
    assert [r.id for r in runs] == [seeded.old, seeded.report, seeded.mystery, seeded.local]
    assert (runs[1].goal, runs[1].project, runs[1].calls) == ("Write a report on penguins", "Alpha", 5)
    assert [r.id for r in top_runs(store, *_bounds(parse_period(None, None)), limit=2)] == [
        seeded.report, seeded.mystery]


def _bounds(period):
    return period.since, period.until


def test_money_says_free_and_price_unknown_never_a_silent_zero():
    assert money(0.0, 2, 0) == "free"
    assert money(0.0, 2, 2) == "price unknown (2 calls)"
    assert money(0.05, 3, 1) == "$0.0500 + price unknown (1 call)"
    assert money(12.345, 3, 0) == "$12.35"
    assert money(0.0, 0, 0) == "–"


@pytest.mark.parametrize("since, until, words", [
    ("bogus", None, "'bogus' is not a date"),
    ("2026-13-01", None, "is not a date"),
    ("0d", None, "empty"),
    ("2026-12-01", "2026-11-01", "--since 2026-12-01 is after --until 2026-11-01"),
])
def test_bad_periods_are_refused_in_one_line(since, until, words):
    with pytest.raises(BadPeriod, match=words):
        parse_period(since, until, today=dt.date(2026, 12, 7))


def test_relative_periods_count_today():
    today = dt.date(2026, 12, 7)
    period = parse_period("7d", None, today=today)
    assert dt.datetime.fromtimestamp(period.since).date() == dt.date(2026, 12, 1)
    assert period.until is None and period.label == "last 7 days"
    month = named_period("month", today=today)
    assert dt.datetime.fromtimestamp(month.since).date() == dt.date(2026, 12, 1)
    until = parse_period("2026-11-01", "2026-11-30", today=today)
    assert dt.datetime.fromtimestamp(until.until).date() == dt.date(2026, 12, 1)  # the 30th included


# --- troupe usage -------------------------------------------------------------------


def test_usage_prints_the_table_the_total_and_the_top_runs(seeded, capsys):
    assert main(["usage", "--by", "model"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Spending by model, last 30 days\n")
    lines = out.splitlines()
    assert any(line.startswith("openai/llama3.2") and line.endswith("free") for line in lines)
    assert any(line.startswith("openai/mystery-1") and line.endswith("price unknown (2 calls)")
               for line in lines)
    assert any(line.startswith("total") and line.endswith("$0.1500 + price unknown (2 calls)")
               for line in lines)
    top = lines[lines.index("Top runs by cost") + 1:]
    assert [line.split()[0] for line in top] == [seeded.report, seeded.mystery, seeded.local]
    assert "Alpha: Write a report on penguins" in top[0]
    assert "$0.0000" not in out


def test_usage_json_shape(seeded, capsys):
    assert main(["usage", "--by", "role", "--since", "90d", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"period", "by", "rows", "total", "top_runs"}
    assert data["by"] == "role" and data["period"]["label"] == "last 90 days"
    assert data["period"]["until"] is None and data["period"]["since"].startswith(
        (seeded.today - dt.timedelta(days=89)).isoformat())
    writer = next(r for r in data["rows"] if r["key"] == "writer")
    assert writer == {"key": "writer", "calls": 4, "prompt_tokens": 40, "completion_tokens": 80,
                      "tokens": 120, "cost": 1.03, "unpriced_calls": 0, "free": False,
                      "cost_text": "$1.03"}
    assert data["total"] == {"calls": 11, "tokens": 450, "cost": 1.15, "unpriced_calls": 2,
                             "cost_text": "$1.15 + price unknown (2 calls)"}
    assert [r["id"] for r in data["top_runs"]] == [seeded.old, seeded.report, seeded.mystery,
                                                   seeded.local]
    assert set(data["top_runs"][0]) == {"id", "goal", "project", "created", "calls", "cost",
                                        "unpriced_calls", "cost_text"}


def test_usage_with_no_calls_says_so(capsys):
    assert main(["usage"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no model calls in this period"


@pytest.mark.parametrize("args", [["--since", "last tuesday"], ["--until", "2026-02-30"],
                                  ["--since", "2026-12-01", "--until", "2026-11-01"],
                                  ["--by", "week"]])
def test_bad_usage_input_exits_2_with_one_line(args, capsys):
    assert _exit_code(["usage", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("troupe: ") and err.count("\n") == 1 and "Traceback" not in err


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own refusals (a --by it does not know)
        return int(exc.code or 0)


def test_usage_report_matches_the_queries(store):
    report = usage_report(store, named_period("all"), "project")
    assert report.calls == 11 and report.unpriced_calls == 2 and round(report.cost, 6) == 1.15


# --- "price unknown" wherever a run's cost is shown ------------------------------------------


def test_runs_count_their_unpriced_calls(store, seeded):
    runs = {r.id: r for r in store.list_runs()}
    assert (runs[seeded.mystery].unpriced_calls, runs[seeded.report].unpriced_calls) == (2, 0)
    assert store.get_run(seeded.mystery).unpriced_calls == 2 and store.get_run(seeded.local).unpriced_calls == 0


def test_runs_show_and_exports_say_price_unknown(seeded, capsys):
    assert main(["runs"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "$0.0500 + price unknown (2 calls)" in listed[seeded.mystery]
    assert "$0.1000" in listed[seeded.report]
    assert main(["runs", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[seeded.mystery]["unpriced_calls"] == 2 and rows[seeded.local]["unpriced_calls"] == 0
    assert main(["show", seeded.mystery]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("$0.0500 + price unknown (2 calls)")
    assert main(["export", seeded.mystery, "--format", "md"]) == 0
    assert "$0.0500 + price unknown (2 calls)_" in capsys.readouterr().out
    assert main(["export", seeded.mystery, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["unpriced_calls"] == 2


def test_a_step_call_counts_for_the_role_that_made_it(tmp_path):
    # a review task of the writer's: its reviewer's calls are the reviewer's, not the writer's
    from agents.events import RunStarted  # noqa: PLC0415
    from app.storage import EventWriter  # noqa: PLC0415
    from tests.app.storage_events import emit_all  # noqa: PLC0415

    store = open_database(tmp_path / "roles.db")
    run = store.create_run("P", "essay")
    writer = EventWriter(store)
    plan = {"goal": "essay", "tasks": [{"id": "e", "title": "Essay", "agent": "writer", "pattern": "review",
                                        "reviewer": "reviewer"}]}
    emit_all(writer, [RunStarted(run_id=run, goal="essay", plan=plan),
                      call(run, "e", agent="writer", cost=0.03), call(run, "e", agent="reviewer", cost=0.01)])
    period = parse_period(None, None)
    roles = {r.key: round(r.cost, 6) for r in usage_by(store, GroupBy.ROLE, period.since, period.until)}
    writer.close()
    store.close()
    assert roles == {"writer": 0.03, "reviewer": 0.01}
