"""A scripted team for the pattern tests that run `troupe` itself (issue 14).

`TeamScript` answers every step of the plans in PLANS from the request's own
text (who asks, which draft, which item), so the answers do not depend on
the order requests arrive in; `step_of` names the step a request belongs to,
as agents/run/team.py keys them ("draft 2", "answer 3", "item 17"), so a test
counts requests per step at the server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.support.scripted_server import RecordedRequest, Reply

ROLES = ("analyst", "researcher", "writer", "reviewer", "coder")


def text_of(request: RecordedRequest) -> str:
    return "\n".join(str(m.get("content") or "") for m in request.messages)


def role_of(request: RecordedRequest) -> str:
    """The role asking, by its system prompt's first sentence ("You are a sharp analyst.")."""
    first = request.system.lower().split(".")[0]
    return next((role for role in ROLES if role in first), "?")


def task_of(request: RecordedRequest) -> str:
    match = re.search(r"Your task \(([^)]+)\)|The task \(([^)]+)\)", text_of(request))
    return next((g for g in match.groups() if g), "") if match else ""


@dataclass
class TeamScript:
    """Answers for every pattern; each knob picks how its agents behave."""

    approve_draft: int | None = 2
    """The draft number the reviewer approves (None: never)."""
    votes: dict[str, str] = field(default_factory=lambda: {
        "analyst": "Emperor penguin", "researcher": "emperor penguin.", "writer": "King penguin"})
    judge: str = "WINNER: 1\nThe first debater had the evidence.\nEmperor penguins are the largest."
    route: str = "prose\nThe goal asks for an essay."
    items: int = 5
    """How many items the `list` task lists."""
    item_latency: float = 0.0

    def __call__(self, request: RecordedRequest) -> Reply:
        text = text_of(request)
        if "Compose the final deliverable" in text:
            return Reply("# Deliverable\n\nThe team's results, combined.")
        if "The draft to review:" in text:
            number = _draft_number(text.split("The draft to review:\n\n", 1)[1])
            return Reply("APPROVE" if number == self.approve_draft else f"REVISE\nAdd a source to draft {number}.")
        if "The debaters' final arguments" in text:
            return Reply(self.judge)
        if "Choose exactly one of these routes" in text:
            return Reply(self.route)
        if match := re.search(r"Do this for one item only, item (\d+) of (\d+)", text):
            return Reply(f"summary of item {match.group(1)}", latency=self.item_latency)
        if match := re.search(r"You are debater (\d+) of \d+, round (\d+)", text):
            return Reply(f"debater {match.group(1)} argues in round {match.group(2)}")
        task = task_of(request)
        if task == "list":
            return Reply(json.dumps([f"penguin colony {i}" for i in range(1, self.items + 1)]))
        if task == "essay":
            return Reply(f"draft {draft_of(text)} about penguins")
        if task == "q":
            return Reply(self.votes.get(role_of(request), "no idea"))
        return Reply(f"done {task or '?'}")


def draft_of(text: str) -> int:
    """Which draft a maker's request asks for: one more than the previous draft it was shown."""
    if "Your previous draft:" not in text:
        return 1
    return _draft_number(text.split("Your previous draft:\n\n", 1)[1]) + 1


def _draft_number(text: str) -> int:
    match = re.match(r"draft (\d+)", text.strip())
    return int(match.group(1)) if match else 0


VOTERS = ("analyst", "researcher", "writer")


def step_of(request: RecordedRequest) -> tuple[str, str]:
    """(task id, step key) of a request to the scripted team, as the runner keys steps."""
    text = text_of(request)
    if "Compose the final deliverable" in text:
        return "", "deliverable"
    if "The draft to review:" in text:
        return "essay", f"review {_draft_number(text.split('The draft to review:', 1)[1])}"
    if match := re.search(r"Do this for one item only, item (\d+) of", text):
        return "each", f"item {match.group(1)}"
    task = task_of(request)
    if task == "essay":
        return "essay", f"draft {draft_of(text)}"
    if task == "q":
        return "q", f"answer {VOTERS.index(role_of(request)) + 1}"
    return task, "task"


def task(id: str, agent: str = "writer", deps: tuple[str, ...] = (), **fields: object) -> dict:
    return {"id": id, "title": f"Task {id}", "instructions": f"Do {id}.", "agent": agent,
            "depends_on": list(deps), "children": [], **fields}


ESSAY = task("essay", "writer", pattern="review", reviewer="reviewer", max_rounds=3)
VOTE = task("q", "analyst", pattern="vote", voters=list(VOTERS))
DEBATE = task("d", "analyst", pattern="debate", debaters=["analyst", "researcher"], rounds=2, judge="reviewer")
LIST = task("list", "researcher")
MAP = task("each", "analyst", ("list",), pattern="map", over="list", max_items=300)
ROUTER = task("pick", "analyst", pattern="route", routes={"code": "build", "prose": "write"})
ROUTED = (task("build", "coder", ("pick",)), task("write", "writer", ("pick",)))

PLANS: dict[str, list[dict]] = {
    "review": [ESSAY],
    "vote": [VOTE],
    "debate": [DEBATE],
    "map": [LIST, MAP],
    "route": [ROUTER, *ROUTED, task("final", "writer", ("build", "write"))],
}
