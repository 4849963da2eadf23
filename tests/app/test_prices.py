"""The person's price per provider and model: stored in providers.json, set with
`troupe providers price`, applied by resolve() and price_for(), and a run's calls
to that model are then priced by it (against the real scripted server)."""

from __future__ import annotations

import json

import pytest

from agents.llm.prices import FREE, Price, PriceSource
from agents.plan import Plan
from agents.plan.roster import Role, Roster
from agents.testing import ScriptedGate
from app.cli.main import main
from app.providers.prices import price_for
from app.providers.registry import (
    Provider,
    Providers,
    load_providers,
    providers_path,
    resolve,
    save_providers,
)
from app.runs.service import RunService
from app.settings import Settings
from app.storage import Store
from tests.support.scripted_server import Reply

MTOK = 1e-6


def test_a_price_round_trips_through_providers_json():
    work = Provider("work", "openai_compatible", "http://127.0.0.1:1/v1", ("m1", "m2"))
    work = work.with_price("m1", Price.per_million(0.5, 1.5))
    save_providers(Providers((work,)))
    data = json.loads(providers_path().read_text())
    assert data["providers"][0]["prices"] == {"m1": {"input": 0.5, "output": 1.5}}
    loaded = load_providers().get("work")
    assert loaded == work
    assert loaded is not None and loaded.price_of("m1") == Price(0.5 * MTOK, 1.5 * MTOK, PriceSource.PERSON)
    assert loaded.price_of("m2") is None
    assert loaded.with_price("m1", None).prices == {}


def test_an_unreadable_price_is_skipped_not_the_provider(caplog):
    providers_path().write_text(json.dumps({"providers": [{
        "name": "work", "kind": "openai_compatible", "api_base": "http://127.0.0.1:1/v1",
        "prices": {"m1": {"input": "lots"}, "m2": {"input": -1, "output": 1}, "m3": {"input": 1, "output": 2}},
    }]}))
    work = load_providers().get("work")
    assert work is not None and list(work.prices) == ["m3"]
    assert "ignoring the price of 'm1'" in caplog.text


def test_precedence_the_persons_price_then_free_then_the_map():
    mine = Price.per_million(1, 2)
    providers = Providers((
        Provider("ollama", "ollama").with_price("priced", mine),
        Provider("openai", "openai").with_price("gpt-4o-mini", mine),
    ))
    assert price_for("ollama/llama3.2", providers) is FREE
    assert resolve("ollama/llama3.2", providers).price is FREE
    assert price_for("ollama/priced", providers) == resolve("ollama/priced", providers).price
    assert price_for("ollama/priced", providers) == Price(1 * MTOK, 2 * MTOK, PriceSource.PERSON)
    assert price_for("openai/gpt-4o-mini", providers).source is PriceSource.PERSON  # beats the map
    mapped = price_for("openai/gpt-4o", providers)
    assert mapped is not None and mapped.source is PriceSource.MAP and mapped.input_per_token > 0
    assert resolve("openai/gpt-4o", providers).price is None  # the client asks the map itself
    assert price_for("openai/no-such-model-xyz", providers) is None  # price unknown
    assert price_for("local/smollm2-135m", Providers()) is FREE


# --- troupe providers price ------------------------------------------------------------


def test_providers_price_set_list_and_clear(capsys):
    assert main(["providers", "add", "work", "--kind", "openai_compatible", "--base",
                 "http://127.0.0.1:9/v1", "--model", "m1"]) == 0
    capsys.readouterr()
    assert main(["providers", "price", "work", "m1", "--input", "0.15", "--output", "$0.60"]) == 0
    assert "work/m1 now costs $0.15 in, $0.6 out per million tokens" in capsys.readouterr().out
    assert main(["providers", "list"]) == 0
    assert "price of m1: $0.15 in, $0.6 out per million tokens (yours)" in capsys.readouterr().out
    assert main(["providers", "list", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "work")
    assert row["prices"] == {"m1": {"input": 0.15, "output": 0.6}}

    assert main(["providers", "price", "work", "m1", "--clear"]) == 0
    assert "cleared your price for work/m1" in capsys.readouterr().out
    work = load_providers().get("work")
    assert work is not None and work.prices == {} and work.models == ("m1",)


def test_a_price_for_a_built_in_provider_adds_its_entry(capsys):
    assert main(["providers", "price", "openrouter", "some/model", "--input", "1", "--output", "2"]) == 0
    entry = load_providers().get("openrouter")
    assert entry is not None and entry.kind == "openrouter"
    assert entry.price_of("some/model") == Price.per_million(1, 2)


@pytest.mark.parametrize("args, words", [
    (["nobody", "m", "--input", "1", "--output", "1"], "no provider named 'nobody'"),
    (["openai", "m"], "give --input and --output"),
    (["openai", "m", "--input", "1"], "give both --input and --output"),
    (["openai", "m", "--input", "1", "--output", "1", "--clear"], "or --clear"),
    (["openai", "m", "--input", "-1", "--output", "1"], "0 or more US dollars"),
    (["openai", "m", "--input", "cheap", "--output", "1"], "is not an amount"),
])
def test_bad_price_input_exits_2_with_one_line(args, words, capsys):
    try:
        code = main(["providers", "price", *args])
    except SystemExit as exc:  # argparse's refusals
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err  # after the first-run lines ("troupe: default model: ...")
    assert words in err.splitlines()[-1] and "Traceback" not in err


# --- a run's calls are priced by it ------------------------------------------------------


PLAN = Plan.from_dict({"goal": "g", "tasks": [
    {"id": "a", "title": "A", "agent": "writer", "instructions": "do a"}]})


async def _run_on(store: Store, providers: Providers) -> list:
    settings = Settings(default_model="work/test-model", max_attempts=1)
    roster = Roster((Role("orchestrator", "You plan."), Role("writer", "You write.")))
    service = RunService(store, settings=settings, roster=roster, provider_list=providers)
    try:
        run_id = service.create_run("P", "g", service.config())
        outcome = await service.start(run_id, PLAN, service.config(), ScriptedGate()).run()
        assert outcome.error is None or outcome.error == "", outcome.error
    finally:
        await service.aclose_llm()
        service.writer.flush()
    return store.llm_calls(run_id)


async def test_a_runs_calls_to_that_model_are_priced_by_it(store, llm_server, memory_keyring):
    llm_server.default = Reply("done", prompt_tokens=1000, completion_tokens=500)
    work = Provider("work", "openai_compatible", llm_server.base_url, ("test-model",))
    unpriced = await _run_on(store, Providers((work,)))
    assert unpriced and all(not c.cost_known and c.cost == 0 for c in unpriced)  # nobody knows its price

    priced = await _run_on(store, Providers((work.with_price("test-model", Price.per_million(2, 8)),)))
    task_calls = [c for c in priced if c.task_id == "a"]
    assert task_calls and all(c.cost_known for c in priced)
    assert task_calls[0].cost == pytest.approx(1000 * 2 * MTOK + 500 * 8 * MTOK)


def test_the_progress_lines_say_price_unknown_not_zero():
    import io  # noqa: PLC0415

    from agents import events as ev  # noqa: PLC0415
    from app.cli.console import ProgressPrinter  # noqa: PLC0415
    from tests.app.storage_events import call  # noqa: PLC0415

    out = io.StringIO()
    printer = ProgressPrinter(out)
    printer.emit(call("r", "a", model="openai/mystery", cost=0.0, cost_known=False))
    printer.emit(call("r", "b", cost=0.01))
    for task_id, cost in (("a", 0.0), ("b", 0.01)):
        printer.emit(ev.TaskFinished(run_id="r", task_id=task_id, output="x", attempts=1, prompt_tokens=1,
                                     completion_tokens=1, cost=cost, started=1.0, finished=2.0))
    printer.emit(ev.RunFinished(run_id="r", status="completed", prompt_tokens=2, completion_tokens=2,
                                cost=0.01))
    lines = out.getvalue().splitlines()
    assert "a done: 2 tokens, price unknown (1 call)," in lines[0]
    assert "b done: 2 tokens, $0.0100," in lines[1]
    assert lines[2] == "run r completed: 4 tokens, $0.0100 + price unknown (1 call)"
