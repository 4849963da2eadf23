"""What the history shows of tasks with a pattern (issue 14): their steps and conflicts.

Steps come from the fold of the run's events (`TaskState.steps`: the latest
start's, replayed ones included); conflicts from the stored events
themselves, each question (`ApprovalRequested` with a `ConflictQuestion`)
joined with its answer (`ApprovalResolved`). `troupe show`, its `--json` and
the md/html/json exports read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.approvals import ConflictQuestion, Subject
from agents.events import ApprovalRequested, ApprovalResolved
from agents.run.state import StepState
from app.approval_text import conflict_resolution, decided_by

if TYPE_CHECKING:
    from app.storage import Store


@dataclass(frozen=True)
class ConflictRecord:
    """One conflict put to the person (or to --yes) and, once given, its answer."""

    task_id: str
    request_id: str
    question: ConflictQuestion
    asked: float
    action: str | None = None
    """approve / pick / override / retry / reject; None while unanswered."""
    text: str = ""
    """The answer's text: the claim's number (pick), the written answer (override)."""
    answered: float | None = None

    @property
    def decided_by(self) -> str:
        """ "the person", "no person decided (--yes)", or "" while unanswered."""
        return decided_by(self.action, self.text)

    @property
    def resolution(self) -> str:
        """The answer in words: "picked claim 2 (reviewer, review 3)"."""
        return conflict_resolution(self.question, self.action, self.text)

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {
            "task_id": self.task_id, "request_id": self.request_id, "kind": q.kind, "why": q.why,
            "claims": [{"number": n, "who": c.who, "text": c.text} for n, c in enumerate(q.claims, 1)],
            "proposed": q.proposed, "can_retry": q.can_retry, "asked": self.asked,
            "action": self.action, "text": self.text or None, "answered": self.answered,
            "decided_by": self.decided_by or None, "resolution": self.resolution,
        }


def conflicts_from_events(events: Iterable[Mapping[str, Any]]) -> list[ConflictRecord]:
    """The run's conflicts in the order asked, from its stored events (dicts).

    A question left unanswered when Troupe stopped is asked again by the resumed
    run; the unanswered one is then left out (the later one stands for it).
    """
    asked: dict[str, ConflictRecord] = {}
    for data in events:
        kind = data.get("type")
        if kind == ApprovalRequested.kind and data.get("subject") == Subject.CONFLICT and data.get("conflict"):
            question = data["conflict"]
            if isinstance(question, Mapping):
                question = ConflictQuestion.from_dict(dict(question))
            asked[data["request_id"]] = ConflictRecord(
                task_id=str(data.get("task_id") or ""), request_id=str(data["request_id"]),
                question=question, asked=float(data.get("ts") or 0.0))
        elif kind == ApprovalResolved.kind and data.get("request_id") in asked:
            record = asked[data["request_id"]]
            asked[data["request_id"]] = ConflictRecord(
                record.task_id, record.request_id, record.question, record.asked,
                action=str(data.get("action") or ""), text=str(data.get("text") or ""),
                answered=float(data.get("ts") or 0.0))
    records = list(asked.values())
    return [r for i, r in enumerate(records)
            if r.action is not None or not any(later.task_id == r.task_id for later in records[i + 1:])]


def stored_conflicts(store: Store, run_id: str) -> list[ConflictRecord]:
    return conflicts_from_events(store.events(run_id))


def step_to_dict(step: StepState) -> dict[str, Any]:
    """A step in `troupe show --json` and the json export (its output in full)."""
    return {"step": step.step, "agent": step.agent, "status": step.status.value, "note": step.note or None,
            "output": step.output, "error": step.error or None, "cost": step.cost, "replayed": step.replayed}


def short_text(text: str, width: int = 60) -> str:
    """`text` on one line, at most `width` characters ("…" where cut)."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def step_line(step: StepState, width: int = 60) -> str:
    """One step for `troupe show`: key, agent, note (or status), short output."""
    what = step.note or ("failed" if step.status == "failed" else "unfinished" if step.status == "running" else "")
    said = step.error if step.status == "failed" else step.output
    replayed = " (replayed)" if step.replayed else ""
    return f"{step.step:<13} {step.agent:<11} {what:<15} {short_text(said, width)}{replayed}".rstrip()


SHOWN_STEPS = 12
"""`troupe show` lists at most this many steps of a task (failed ones always)."""


def steps_to_show(steps: Iterable[StepState], limit: int = SHOWN_STEPS) -> tuple[list[StepState], int]:
    """The steps `troupe show` lists (the first ones, and every one not done) and how many it leaves out."""
    steps = list(steps)
    if len(steps) <= limit:
        return steps, 0
    keep = {id(s) for s in steps if s.status != "done"}
    for step in steps:
        if len(keep) >= limit:
            break
        keep.add(id(step))
    shown = [s for s in steps if id(s) in keep]
    return shown, len(steps) - len(shown)


__all__ = ["ConflictRecord", "conflicts_from_events", "short_text", "step_line", "step_to_dict",
           "steps_to_show", "stored_conflicts"]
