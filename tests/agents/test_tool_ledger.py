"""Exactly-once tool calls: replay what finished, ask about what is in doubt."""

from __future__ import annotations

import json

import pytest

from agents.approvals import AskedCall, Subject, ToolQuestion
from agents.events import ApprovalRequested, ToolCallFinished
from agents.llm.calls import CallContext
from agents.plan.roster import Role
from agents.ports import Action, Decision, Message, Response, ToolCall, Usage, request_from_event
from agents.testing import MemoryLedger, RecordingSink, ScriptedGate
from agents.tools.base import Permission, Risk, Tool, ToolPolicy, ToolRegistry
from agents.tools.loop import (
    BLOCKED_BY_DOUBT,
    IN_DOUBT_SKIPPED,
    ToolSetup,
    run_tool_loop,
)

ROLE = Role("coder", "You code.", tools=("append", "peek"))
APPEND = ToolCall("c0", "append", '{"line": "one"}')


class Counting:
    """Tools that count their runs: `append` (a write) and `peek` (a read)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict]] = []

    def registry(self) -> ToolRegistry:
        return ToolRegistry([self._tool("append", Risk.WRITE), self._tool("peek", Risk.READ)])

    def _tool(self, name: str, risk: Risk) -> Tool:
        async def run(args, ctx):
            self.runs.append((name, args))
            return f"{name} ran with {args}"
        return Tool(name, name, {"type": "object"}, risk, run)


def model(*calls: ToolCall):
    """A model that asks for `calls` at step 1, then answers "done"."""
    async def call(history, specs):
        asked = () if any(m.role == "tool" for m in history) else calls
        return Response("done" if not asked else "", Usage(1, 1), 0.0, True, "m", 0.0, asked), 1
    return call


async def loop(ledger, *calls: ToolCall, gate=None, tools=None):
    tools = tools or Counting()
    sink = RecordingSink()
    setup = ToolSetup(tools.registry(), workspace=None, ledger=ledger,  # type: ignore[arg-type]
                      policy=ToolPolicy(rules={"append": Permission.ALLOW}))
    ctx = CallContext(run_id="r", sink=sink, task_id="t")
    await run_tool_loop(model(*calls), ROLE, [Message("user", "go")], setup, ctx, gate)
    return tools, sink


def tool_results(sink):
    return [(e.result, e.permission) for e in sink.of(ToolCallFinished)]


async def test_each_call_is_on_record_before_and_after():
    ledger = MemoryLedger()
    tools, _ = await loop(ledger, APPEND, ToolCall("c1", "peek", "{}"))
    assert len(tools.runs) == 2
    first = ledger.entries["r:t:1:0"]
    assert (first.tool, first.finished, json.loads(first.arguments)) == ("append", True, {"line": "one"})
    assert ledger.entries["r:t:1:1"].result == "peek ran with {}"


async def test_a_finished_call_is_replayed_not_run_again():
    ledger = MemoryLedger()
    await loop(ledger, APPEND)
    # same call, differently spaced JSON: still the same call
    tools, sink = await loop(ledger, ToolCall("x", "append", '{ "line":"one" }'))
    assert tools.runs == []
    assert tool_results(sink) == [("append ran with {'line': 'one'}", "replayed")]


async def test_other_arguments_at_the_same_place_are_a_new_call():
    ledger = MemoryLedger()
    await loop(ledger, APPEND)
    tools, sink = await loop(ledger, ToolCall("c0", "append", '{"line": "two"}'))
    assert tools.runs == [("append", {"line": "two"})]
    assert sink.of(ToolCallFinished)[0].permission == "allow"
    assert json.loads(ledger.entries["r:t:1:0"].arguments) == {"line": "two"}


async def crashed_ledger() -> MemoryLedger:
    """A ledger where `append` started and the process died before it finished."""
    ledger = MemoryLedger()
    await loop(ledger, APPEND)
    entry = ledger.entries["r:t:1:0"]
    await ledger.begin("r:t:1:0", entry.tool, entry.arguments_hash, entry.arguments)
    return ledger


@pytest.mark.parametrize(
    ("decision", "runs", "result", "how"),
    [
        (Decision(Action.APPROVE), [("append", {"line": "one"})], "append ran with {'line': 'one'}",
         "in_doubt_rerun"),
        (Decision(Action.REJECT), [], IN_DOUBT_SKIPPED, "in_doubt_skipped"),
        (Decision(Action.REJECT, "skipped: no one can approve"), [], "skipped: no one can approve",
         "in_doubt_skipped"),
        (Decision(Action.OVERRIDE, "it had worked"), [], "it had worked", "in_doubt_overridden"),
        (Decision(Action.EDIT, '{"line": "fixed"}'), [("append", {"line": "fixed"})],
         "append ran with {'line': 'fixed'}", "in_doubt_rerun"),
    ],
    ids=["approve-reruns", "reject-skips", "reject-with-a-reason-says-it", "override-is-the-result",
         "edit-runs-the-edit"],
)
async def test_a_call_in_doubt_is_asked_about(decision, runs, result, how):
    ledger = await crashed_ledger()
    gate = ScriptedGate({"t": decision})
    tools, sink = await loop(ledger, APPEND, gate=gate)
    [request] = gate.requests
    assert (request.subject, request.title) == (Subject.TOOL, "append")
    assert request.tool == ToolQuestion("append", '{\n  "line": "one"\n}', in_doubt=True, risk="write")
    assert request.edit_text == '{\n  "line": "one"\n}'
    assert [request_from_event(e) for e in sink.of(ApprovalRequested)] == [request]
    assert tools.runs == runs
    assert tool_results(sink) == [(result, how)]
    # settled: a later resume replays the person's answer instead of asking again
    assert ledger.entries["r:t:1:0"].finished
    tools, sink = await loop(ledger, APPEND, gate=gate)
    assert tools.runs == [] and len(gate.requests) == 1
    assert tool_results(sink) == [(result, "replayed")]


async def test_a_read_in_doubt_just_runs_again():
    ledger = MemoryLedger()
    peek = ToolCall("c0", "peek", "{}")
    await loop(ledger, peek)
    entry = ledger.entries["r:t:1:0"]
    await ledger.begin("r:t:1:0", entry.tool, entry.arguments_hash, entry.arguments)
    gate = ScriptedGate()
    tools, _ = await loop(ledger, peek, gate=gate)
    assert tools.runs == [("peek", {})] and gate.requests == []


async def test_in_doubt_without_a_gate_stays_in_doubt():
    ledger = await crashed_ledger()
    tools, sink = await loop(ledger, APPEND, gate=None)
    assert tools.runs == [] and not ledger.entries["r:t:1:0"].finished
    assert sink.of(ToolCallFinished)[0].permission == "in_doubt"


async def test_no_ledger_runs_as_before():
    tools, sink = await loop(None, APPEND)
    tools, sink = await loop(None, APPEND, tools=tools)
    assert len(tools.runs) == 2


# --- the model asks for something else where a call is in doubt -----------------------

MOVED = "r:t:1:0/in-doubt/"


def moved_entry(ledger: MemoryLedger):
    [key] = [k for k in ledger.entries if k.startswith(MOVED)]
    return ledger.entries[key]


@pytest.mark.parametrize(
    ("decision", "runs", "old_result", "old_how", "note"),
    [
        (Decision(Action.APPROVE), [("append", {"line": "one"}), ("append", {"line": "two"})],
         "append ran with {'line': 'one'}", "in_doubt_rerun", "was run again at the person's request"),
        (Decision(Action.REJECT), [("append", {"line": "two"})], IN_DOUBT_SKIPPED, "in_doubt_skipped",
         "may or may not have taken effect"),
    ],
    ids=["rerun", "skip"],
)
async def test_a_different_call_where_one_is_in_doubt_still_asks_about_it(decision, runs, old_result,
                                                                          old_how, note):
    ledger = await crashed_ledger()
    gate = ScriptedGate({"t": decision})
    tools, sink = await loop(ledger, ToolCall("c0", "append", '{"line": "two"}'), gate=gate)
    [request] = gate.requests
    assert (request.subject, request.title) == (Subject.TOOL, "append")
    # the call in doubt with its exact arguments, then the one asked for now
    assert request.tool == ToolQuestion("append", '{\n  "line": "one"\n}', in_doubt=True, risk="write",
                                        instead=AskedCall("append", '{\n  "line": "two"\n}'))
    assert tools.runs == runs
    [(first, first_how), (second, second_how)] = tool_results(sink)
    assert (first, first_how) == (old_result, old_how)
    assert second.startswith("append ran with {'line': 'two'}") and note in second
    assert second_how == "allow"
    # both on record: the one in doubt under its own key, the new one in its place
    assert (moved_entry(ledger).finished, moved_entry(ledger).result) == (True, old_result)
    assert json.loads(ledger.entries["r:t:1:0"].arguments) == {"line": "two"}
    # a later resume asking either call replays it, and asks nothing
    for line in ("two", "one"):
        tools, sink = await loop(ledger, ToolCall("c0", "append", json.dumps({"line": line})), gate=gate)
        assert tools.runs == [] and len(gate.requests) == 1
        assert [how for _, how in tool_results(sink)] == ["replayed"]


async def test_another_tool_where_one_is_in_doubt_asks_too():
    ledger = await crashed_ledger()
    gate = ScriptedGate({"t": Decision(Action.REJECT)})
    tools, sink = await loop(ledger, ToolCall("c0", "peek", "{}"), gate=gate)
    [request] = gate.requests
    assert request.title == "append" and request.tool is not None and request.tool.in_doubt
    assert request.tool.instead == AskedCall("peek", "{}")
    assert tools.runs == [("peek", {})]
    assert [e.tool for e in sink.of(ToolCallFinished)] == ["append", "peek"]
    assert moved_entry(ledger).result == IN_DOUBT_SKIPPED


async def test_asking_about_a_displaced_call_without_a_gate_runs_neither():
    ledger = await crashed_ledger()
    tools, sink = await loop(ledger, ToolCall("c0", "append", '{"line": "two"}'), gate=None)
    assert tools.runs == []
    # the one in doubt is still on record where it was, for a run someone can answer
    entry = ledger.entries["r:t:1:0"]
    assert (json.loads(entry.arguments), entry.finished) == ({"line": "one"}, False)
    assert tool_results(sink) == [(BLOCKED_BY_DOUBT, "in_doubt")]
    gate = ScriptedGate()
    tools, _ = await loop(ledger, ToolCall("c0", "append", '{"line": "two"}'), gate=gate)
    assert len(gate.requests) == 1 and tools.runs == [("append", {"line": "one"}), ("append", {"line": "two"})]


async def test_a_read_in_doubt_is_not_asked_about_when_the_model_moves_on():
    ledger = MemoryLedger()
    await ledger.begin("r:t:1:0", "peek", "0" * 32, "{}")
    gate = ScriptedGate()
    tools, _ = await loop(ledger, APPEND, gate=gate)
    assert gate.requests == [] and tools.runs == [("append", {"line": "one"})]
