"""Who answers approvals in the CLI: `--yes` (UnattendedGate) approves tasks and
budget crossings but not risky tool calls; `--allow-risky-tools` approves those;
every tool call is one progress line on stderr."""

from __future__ import annotations

import asyncio
import io

from agents.approvals import BudgetQuestion, Subject, TaskQuestion, ToolQuestion
from agents.events import ToolCallFinished, ToolCallRequested
from agents.ports import Action, ApprovalRequest, Decision
from app.cli.console import ProgressPrinter, TerminalGate, UnattendedGate, in_doubt_refusal, refusal
from tests.app.test_approval_text import Answers

TASK = ApprovalRequest("q1", "r", "t2", Subject.TASK, "Write it", task=TaskQuestion("writer", "Write it."))
SHELL = ApprovalRequest("q2", "r", "t2", Subject.TOOL, "run_shell",
                        tool=ToolQuestion("run_shell", '{\n  "command": "touch pwned"\n}', risk="execute"))
IN_DOUBT = ApprovalRequest("q3", "r", "t2", Subject.TOOL, "write_file",
                           tool=ToolQuestion("write_file", '{"path": "a.txt"}', in_doubt=True, risk="write"))
BUDGET = ApprovalRequest("q4", "r", "", Subject.BUDGET, "The $0.50 budget is spent",
                         budget=BudgetQuestion(spent=0.5012, limit=0.5, step=0.5))


def unattended(request: ApprovalRequest, allow_risky_tools: bool = False) -> tuple[Decision, str]:
    out = io.StringIO()
    decision = asyncio.run(UnattendedGate(allow_risky_tools, out).decide(request))
    return decision, out.getvalue()


def test_yes_approves_tasks_and_budget_crossings_saying_so_for_the_budget() -> None:
    assert unattended(TASK) == (Decision(Action.APPROVE), "")
    assert unattended(BUDGET) == (Decision(Action.APPROVE),
                                  "  ! budget: $0.5012 of $0.50 spent; --yes continues (another $0.50)\n")


def test_yes_refuses_a_risky_call_tells_the_model_why_and_says_so_in_one_line() -> None:
    decision, said = unattended(SHELL)
    assert decision == Decision(Action.REJECT, refusal("run_shell"))
    assert decision.text == ("refused: no one is there to approve run_shell; allow it with "
                             "`troupe tools allow run_shell` or pass --allow-risky-tools")
    assert said == ('  ! refused run_shell {command: "touch pwned"} (t2): needs approval '
                    "(allow it with `troupe tools allow run_shell`, or pass --allow-risky-tools)\n")


def test_yes_does_not_run_a_call_in_doubt_again() -> None:
    decision, said = unattended(IN_DOUBT)
    assert decision == Decision(Action.REJECT, in_doubt_refusal("write_file"))
    assert said.startswith('  ! skipped write_file {path: "a.txt"} (t2): in doubt') and said.count("\n") == 1


def test_allow_risky_tools_approves_tool_calls_silently() -> None:
    for request in (SHELL, IN_DOUBT, TASK, BUDGET):
        decision, said = unattended(request, allow_risky_tools=True)
        assert decision == Decision(Action.APPROVE)
    assert unattended(SHELL, allow_risky_tools=True)[1] == ""


def test_allow_risky_tools_without_yes_still_asks_about_tasks() -> None:
    prompter = Answers("r", "")
    gate = TerminalGate(prompter, allow_risky_tools=True)  # type: ignore[arg-type]
    assert asyncio.run(gate.decide(SHELL)) == Decision(Action.APPROVE)
    assert asyncio.run(gate.decide(IN_DOUBT)) == Decision(Action.APPROVE)
    assert prompter.questions == []
    assert asyncio.run(gate.decide(TASK)) == Decision(Action.REJECT)
    assert "Approval needed for t2: Write it" in prompter.questions[0]


def printed(*events, unattended: bool = False) -> list[str]:
    out = io.StringIO()
    printer = ProgressPrinter(out, unattended=unattended)
    for event in events:
        printer.emit(event)
    return out.getvalue().splitlines()


def call(call_id: str, tool: str, arguments: str, permission: str, error: bool = False, result: str = "",
         duration_ms: float = 12.0) -> tuple[ToolCallRequested, ToolCallFinished]:
    return (ToolCallRequested(run_id="r", task_id="t", call_id=call_id, tool=tool, arguments=arguments),
            ToolCallFinished(run_id="r", task_id="t", call_id=call_id, tool=tool, result=result, error=error,
                             duration_ms=duration_ms, permission=permission))


def test_every_tool_call_is_one_line_with_its_outcome() -> None:
    events = [
        *call("t:1:0", "read_file", '{"path": "notes.txt"}', "allow"),
        *call("t:1:1", "write_file", '{"path": "a.txt", "content": "x"}', "ask", duration_ms=1500),
        *call("t:2:0", "run_shell", '{"command": "false"}', "allow", error=True, result="error: exit 1"),
        *call("t:2:1", "run_shell", '{"command": "rm -rf /"}', "deny", error=True),
        *call("t:3:0", "write_file", '{"path": "b.txt"}', "replayed"),
        *call("t:3:1", "run_shell", '{"command": "ls"}', "rejected", error=True),
    ]
    assert printed(*events) == [
        '  ⚙ t read_file {path: "notes.txt"} → ok, 12 ms',
        '  ⚙ t write_file {path: "a.txt", content: "x"} → ok · approved, 1.5 s',
        '  ⚙ t run_shell {command: "false"} → error, 12 ms',
        '  ⚙ t run_shell {command: "rm -rf /"} → denied by policy',
        '  ⚙ t write_file {path: "b.txt"} → ok · replayed from before a restart',
        '  ⚙ t run_shell {command: "ls"} → rejected by you',
    ]


def test_under_yes_a_refused_call_is_left_to_the_gates_line() -> None:
    events = [*call("t:1:0", "run_shell", '{"command": "ls"}', "rejected", error=True),
              *call("t:1:1", "write_file", '{"path": "a"}', "in_doubt_skipped", error=True),
              *call("t:1:2", "read_file", '{"path": "a"}', "allow")]
    assert printed(*events, unattended=True) == ['  ⚙ t read_file {path: "a"} → ok, 12 ms']
