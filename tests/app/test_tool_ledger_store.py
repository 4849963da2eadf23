"""The in-doubt corner over the real ledger: a call in doubt that the resumed model
does not ask for again keeps its own row, answered, next to the new call's."""

from __future__ import annotations

import json

from agents.llm.calls import CallContext
from agents.ports import Action, Decision, Message, ToolCall
from agents.testing import RecordingSink, ScriptedGate
from agents.tools.base import Permission, ToolPolicy
from agents.tools.loop import IN_DOUBT_SKIPPED, ToolSetup, run_tool_loop
from app.storage import Store
from app.tools.ledger import StoreLedger
from tests.agents.test_tool_ledger import ROLE, Counting, model


async def resume(store: Store, run_id: str, call: ToolCall, gate: ScriptedGate) -> Counting:
    tools = Counting()
    setup = ToolSetup(tools.registry(), workspace=None, ledger=StoreLedger(store, run_id),  # type: ignore[arg-type]
                      policy=ToolPolicy(rules={"append": Permission.ALLOW}))
    ctx = CallContext(run_id=run_id, sink=RecordingSink(), task_id="t")
    await run_tool_loop(model(call), ROLE, [Message("user", "go")], setup, ctx, gate)
    return tools


async def test_the_displaced_call_keeps_its_own_row(store: Store):
    run_id = store.create_run("P", "goal", {"model": "m"})
    ledger = StoreLedger(store, run_id)
    first = ToolCall("c0", "append", '{"line": "one"}')
    await resume(store, run_id, first, ScriptedGate())
    row = store.tool_call(f"{run_id}:t:1:0")
    assert row is not None
    await ledger.begin(row.key, row.tool, row.arguments_hash, row.arguments)  # cut off: in doubt

    gate = ScriptedGate({"t": Decision(Action.REJECT)})
    tools = await resume(store, run_id, ToolCall("c0", "append", '{"line": "two"}'), gate)

    assert len(gate.requests) == 1 and tools.runs == [("append", {"line": "two"})]
    rows = {r.key.removeprefix(f"{run_id}:"): r for r in store.tool_calls(run_id)}
    [moved] = [k for k in rows if k.startswith("t:1:0/in-doubt/")]
    assert (rows[moved].task_id, rows[moved].status, rows[moved].result) == ("t", "finished", IN_DOUBT_SKIPPED)
    assert json.loads(rows[moved].arguments) == {"line": "one"}
    assert json.loads(rows["t:1:0"].arguments) == {"line": "two"} and rows["t:1:0"].status == "finished"
    # a later resume asks nothing and runs nothing again
    tools = await resume(store, run_id, ToolCall("c0", "append", '{"line": "two"}'), gate)
    assert tools.runs == [] and len(gate.requests) == 1
