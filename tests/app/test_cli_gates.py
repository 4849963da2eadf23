"""Who answers approvals in the CLI: `--yes` (UnattendedGate) approves tasks and
budget crossings but not risky tool calls; `--allow-risky-tools` approves those;
every tool call is one progress line on stderr."""

from __future__ import annotations

import asyncio
import io

import pytest

from agents.approvals import (
    BudgetQuestion,
    Claim,
    ConflictQuestion,
    Subject,
    TaskQuestion,
    ToolQuestion,
)
from agents.errors import ApprovalError
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


# --- conflicts (issue 14) ----------------------------------------------------------------

LONG_DRAFT = "# Penguins\n\n" + "Emperor penguins are the largest living penguins. " * 30
REVIEW = ApprovalRequest("q5", "run42", "essay", Subject.CONFLICT, "Essay", conflict=ConflictQuestion(
    kind="review", why="the reviewer did not approve after 3 rounds",
    claims=(Claim("writer, draft 3", LONG_DRAFT), Claim("reviewer, review 3", "REVISE\nAdd a source.")),
    proposed=LONG_DRAFT))
ROUTE = ApprovalRequest("q6", "run42", "pick", Subject.CONFLICT, "Pick", conflict=ConflictQuestion(
    kind="route", why="the analyst did not choose one of the routes",
    claims=(Claim("code", "Build a tool"), Claim("prose", "Write prose")), proposed="code", can_retry=False))


def conflict(request: ApprovalRequest, *answers: str, width: int = 100) -> tuple[Decision, list[str]]:
    prompter = Answers(*answers)
    decision = asyncio.run(TerminalGate(prompter, width=width).decide(request))  # type: ignore[arg-type]
    return decision, prompter.questions


def test_a_conflict_shows_why_and_the_claims_side_by_side_then_asks() -> None:
    decision, [question] = conflict(REVIEW, "a")
    assert decision == Decision(Action.APPROVE)
    lines = question.splitlines()
    assert lines[1:3] == ["Agents disagree on essay: Essay (review)",
                          "Why: the reviewer did not approve after 3 rounds"]
    assert lines[4].startswith("1. writer, draft 3") and lines[4].endswith("│ 2. reviewer, review 3")
    assert any(line.endswith("│ Add a source.") for line in lines)
    assert all(len(line) <= 100 for line in lines)
    assert any("more lines" in line for line in lines)  # the long draft is shortened...
    assert "type v1…v2 to read one in full; `troupe show run42` keeps them all" in question  # ...not lost
    assert "Accept as is takes: claim 1 (writer, draft 3)" in question
    assert lines[-1] == ("[a]ccept as is, [1-2] pick one, [w]rite the answer myself, "
                         "[r]un another round? ")


def test_each_answer_to_a_conflict() -> None:
    assert conflict(REVIEW, "2")[0] == Decision(Action.PICK, "2")
    assert conflict(REVIEW, "r")[0] == Decision(Action.RETRY)
    assert conflict(REVIEW, "w", "  Penguins are great.  ")[0] == Decision(Action.OVERRIDE, "Penguins are great.")
    decision, questions = conflict(REVIEW, "3", "x", "w", "", "1")  # no claim 3; an empty answer asks again
    assert decision == Decision(Action.PICK, "1") and len(questions) == 5
    assert questions[1] == questions[2] == ("[a]ccept as is, [1-2] pick one, [w]rite the answer myself, "
                                            "[r]un another round? ")


def test_a_claim_can_be_read_in_full_before_answering() -> None:
    decision, questions = conflict(REVIEW, "v1", "1")
    assert decision == Decision(Action.PICK, "1")
    assert questions[1].startswith(f"\n1. writer, draft 3:\n{LONG_DRAFT.strip()}\n\n[a]ccept")


def test_no_other_round_where_it_means_nothing_and_stacked_when_narrow() -> None:
    decision, questions = conflict(ROUTE, "r", "a", width=50)
    assert decision == Decision(Action.APPROVE)
    assert questions[0].endswith("[a]ccept as is, [1-2] pick one, [w]rite the answer myself? ")
    assert "1. code\n    Build a tool\n\n2. prose\n    Write prose" in questions[0]
    assert "Accept as is takes: claim 1 (code)" in questions[0]


def test_a_conflict_without_an_answer_on_stdin_stops_with_the_way_out() -> None:
    with pytest.raises(ApprovalError, match="pass --yes"):
        conflict(REVIEW)


def test_yes_takes_the_patterns_own_result_and_says_so() -> None:
    decision, said = unattended(REVIEW)
    assert decision == Decision(Action.APPROVE, "no person decided (--yes): took the review's own result")
    assert said == ("  ! conflict (essay): the reviewer did not approve after 3 rounds; "
                    "no person decided (--yes): took the review's own result\n")
    assert unattended(ROUTE, allow_risky_tools=True)[0].text.endswith("took the route's own result")


def test_each_step_is_one_line_but_a_maps_items_only_when_they_fail() -> None:
    from agents.events import StepFailed, StepFinished  # noqa: PLC0415

    def done(step: str, agent: str, note: str = "", replayed: bool = False) -> StepFinished:
        return StepFinished(run_id="r", task_id="t", step=step, agent=agent, output="…", note=note,
                            replayed=replayed)

    assert printed(done("draft 1", "writer", replayed=True), done("review 1", "reviewer", "revise"),
                   done("item 7", "analyst"),
                   StepFailed(run_id="r", task_id="t", step="item 8", agent="analyst", error="HTTP 401")) == [
        "  · t draft 1 (writer) (replayed)", "  · t review 1 (reviewer): revise",
        "  x t item 8 (analyst) failed: HTTP 401"]
