"""How a task with a pattern is worked on by several agents (issue 14).

A pattern task runs as *steps*: each one agent's turn (a draft, a review, a
vote, a debater's argument, a router's choice, one item of a map). Every step
is announced (StepStarted) and recorded with its output (StepFinished); a
resumed run replays recorded steps instead of asking the model again, so a
kill -9 in the middle of a review loop or a map of 300 repeats no finished
model call. A disagreement the pattern cannot settle on its own is a
conflict: the person is asked (Subject.CONFLICT) and the answer is recorded
as a step too, so a resume does not ask again.

The runner owns scheduling, slots, budget and events; `TeamHost` is what it
lends a pattern. Agreement of a vote is measured as stated in the README:
for short answers (all of at most SHORT characters) the share of answers equal
to the most common one after normalising case, spaces and punctuation; for
longer ones the mean pairwise overlap of their word sets (Jaccard). Below
LOW_AGREEMENT (short answers) or LOW_OVERLAP (long ones: two good essays on one
question share far fewer words than two short answers share whole) it is a
conflict.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

from agents.approvals import Claim, ConflictQuestion, Subject, TaskQuestion, TaskRef
from agents.errors import PlanError
from agents.events import (
    ApprovalResolved,
    RunEvent,
    StepFailed,
    StepFinished,
    StepStarted,
    SubtasksPlanned,
)
from agents.plan import Plan, Task, validate_plan
from agents.plan.patterns import Debate, Delegate, Map, Pattern, Review, Route, Vote, to_fields
from agents.plan.roster import Role
from agents.ports import Action, ApprovalRequest, Decision, Message, Usage, requested_event
from agents.run.agent import CONTRADICTION, Input, task_messages

SHORT = 200
"""Answers up to this many characters are compared whole (a majority can be counted)."""
LOW_AGREEMENT = 0.5
"""A vote of short answers whose agreement is below this is a conflict."""
LOW_OVERLAP = 0.2
"""A vote of longer answers whose word overlap is below this is a conflict."""


def _too_low(answers: Sequence[str], level: float) -> bool:
    short = all(len(a.strip()) <= SHORT for a in answers)
    return level < (LOW_AGREEMENT if short else LOW_OVERLAP)


@dataclass(frozen=True)
class PriorStep:
    """A step recorded by an earlier start of the run."""

    output: str
    note: str = ""


@dataclass(frozen=True)
class Answer:
    text: str
    usage: Usage
    cost: float


AskFn = Callable[[Role, tuple[str, ...], list[Message], str, Callable[[], None], bool], Awaitable[Answer]]
"""(role, models to try, messages, step key, started, stream) -> the answer; the runner's
model call (slots, pause, budget, retries, fallbacks, tools). It calls `started` once the
call has a slot, so a step waiting for one is not shown as running; `stream` says whether
its text streams to the live output (steps that run side by side would interleave)."""


class TaskSkippedByPerson(Exception):  # noqa: N818 - a signal, not an error
    """The person rejected the conflict's outcome: the task is skipped with this reason."""


class PatternError(Exception):
    """A pattern task cannot go on (nothing to map over, items that failed): its reason."""


@dataclass(frozen=True)
class RouteChoice:
    label: str
    target: str
    reason: str


@dataclass
class Spend:
    """What a pattern task's model calls cost (shared with its delegated sub-tasks)."""

    usage: Usage = Usage()
    cost: float = 0.0


@dataclass
class TeamHost:
    """What the runner lends a pattern task."""

    run_id: str
    goal: str
    task: Task
    inputs: Sequence[Input]
    roles: Callable[[str], Role]
    models: Callable[[Role, str | None], tuple[str, ...]]
    """A role's models: (role, "model" from "role@model" or None) -> models to try."""
    ask: AskFn
    emit: Callable[[RunEvent], None]
    decide: Callable[[ApprovalRequest], Awaitable[Decision]]
    prior: Mapping[str, PriorStep]
    titles: Mapping[str, str]
    """Task titles by id (for routes and messages)."""
    warn: Callable[[str], None]
    """A problem that does not stop the task (a list cut at max_items)."""
    owner: str = ""
    """The plan's task the steps belong to (a delegated sub-task's host: its manager's)."""
    prefix: str = ""
    """Before every step key of a delegated sub-task: "sub a"."""
    depth: int = 0
    """How deep in delegation this host is (0: a task of the plan)."""
    team: Sequence[Role] = ()
    """The roles a manager may give sub-tasks to (the roster's workers)."""
    spend: Spend = field(default_factory=lambda: Spend())

    def __post_init__(self) -> None:
        self.owner = self.owner or self.task.id

    @property
    def usage(self) -> Usage:
        return self.spend.usage

    @property
    def cost(self) -> float:
        return self.spend.cost

    def nested(self, task: Task, inputs: Sequence[Input]) -> TeamHost:
        """The host of a sub-task a manager delegated: its steps are its manager's."""
        return replace(self, task=task, inputs=inputs, prefix=self.key(f"sub {task.id}"), depth=self.depth + 1)

    def key(self, key: str) -> str:
        return f"{self.prefix} · {key}" if self.prefix and key else self.prefix or key

    # --- steps ---------------------------------------------------------------------

    async def step(self, key: str, who: str, messages: list[Message],
                   note: Callable[[str], str] | None = None, *, alone: bool = True) -> str:
        """One agent's turn, or its recorded result when an earlier start finished it."""
        key = self.key(key)
        prior = self.prior.get(key)
        if prior is not None:
            self.emit(StepFinished(run_id=self.run_id, task_id=self.owner, step=key, agent=who,
                                   output=prior.output, note=prior.note, replayed=True))
            return prior.output
        name, _, model = who.partition("@")
        role = self.roles(name)

        def started() -> None:
            self.emit(StepStarted(run_id=self.run_id, task_id=self.owner, step=key, agent=who))

        try:
            # a delegated sub-task runs beside its siblings: only the manager's own steps stream
            stream = alone and not self.prefix
            answer = await self.ask(role, self.models(role, model or None), messages, key, started, stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.emit(StepFailed(run_id=self.run_id, task_id=self.owner, step=key, agent=who,
                                 error=str(exc)))
            raise
        self.spend.usage += answer.usage
        self.spend.cost += answer.cost
        self.emit(StepFinished(
            run_id=self.run_id, task_id=self.owner, step=key, agent=who, output=answer.text,
            note=note(answer.text) if note else "", prompt_tokens=answer.usage.prompt_tokens,
            completion_tokens=answer.usage.completion_tokens, cost=answer.cost,
        ))
        return answer.text

    def record(self, key: str, who: str, output: str, note: str = "") -> None:
        """A step no model takes (a tally): recorded so history shows it."""
        key = self.key(key)
        self.emit(StepFinished(run_id=self.run_id, task_id=self.owner, step=key, agent=who,
                               output=output, note=note, replayed=key in self.prior))

    async def settle(self, number: int, question: ConflictQuestion) -> Decision:
        """Ask the person about a conflict, once: a resumed run replays the answer."""
        key = f"decision {number}"
        prior = self.prior.get(self.key(key))
        if prior is not None:
            self.record(key, "person", prior.output, prior.note)
            return Decision(Action(prior.note), prior.output)
        title = self.titles.get(self.owner, self.owner)
        request = ApprovalRequest(
            request_id=uuid.uuid4().hex[:12], run_id=self.run_id, task_id=self.owner,
            subject=Subject.CONFLICT, title=title if not self.prefix else f"{title} › {self.task.title}",
            conflict=question,
        )
        self.emit(requested_event(request))
        decision = await self.decide(request)
        self.emit(ApprovalResolved(run_id=self.run_id, request_id=request.request_id,
                                   task_id=self.owner, action=decision.action.value, text=decision.text))
        self.record(key, "person", decision.text, decision.action.value)
        return decision

    def base_messages(self, role: Role) -> list[Message]:
        # contradicting inputs are a single task's conflict to raise; a pattern's steps
        # answer as they can (their disagreements are the pattern's own conflicts)
        return task_messages(role, self.goal, self.task, self.inputs, contradictions=False)


async def together(*steps: Awaitable[str]) -> list[str]:
    """Steps in parallel; when one fails the others are cancelled (not left running,
    holding slots and spending, after their task has ended), then its error is raised."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# --- running a pattern -----------------------------------------------------------------


async def run_pattern(host: TeamHost, pattern: Pattern) -> str | RouteChoice:
    """The task's output (a route: the choice), after every step and conflict."""
    match pattern:
        case Review():
            return await _review(host, pattern)
        case Vote():
            return await _vote(host, pattern)
        case Debate():
            return await _debate(host, pattern)
        case Map():
            return await _map(host, pattern)
        case Route():
            return await _route(host, pattern)
        case Delegate():
            return await _delegate(host, pattern)
    raise AssertionError(pattern)


def _outcome(decision: Decision, question: ConflictQuestion) -> str | None:
    """The text a conflict's answer settles on; None for "run another round"."""
    match decision.action:
        case Action.PICK:
            index = int(decision.text) - 1 if decision.text.strip().isdigit() else -1
            if not 0 <= index < len(question.claims):
                raise ValueError(f"no claim number {decision.text!r} to pick")
            return question.claims[index].text
        case Action.OVERRIDE | Action.EDIT:
            return decision.text
        case Action.RETRY:
            return None
        case Action.REJECT:
            raise TaskSkippedByPerson("the person rejected the outcome of the "
                                      f"{question.kind}" + (f": {decision.text}" if decision.text else ""))
    return question.proposed


# --- contradicting inputs ------------------------------------------------------------


def contradiction(text: str) -> tuple[str, str] | None:
    """(what contradicts, the rest of the answer) when an answer reports contradicting inputs."""
    lines = text.strip().splitlines()
    first = lines[0].strip().strip("*_#> ") if lines else ""
    if not first.upper().startswith(CONTRADICTION):
        return None
    return first[len(CONTRADICTION):].strip(" *_"), "\n".join(lines[1:]).strip()


async def settle_contradiction(host: TeamHost, what: str, answer: str) -> str | Input:
    """Ask the person about inputs an agent found contradicting: the text to keep, or the
    input to trust (the task is then asked again, told so)."""
    question = ConflictQuestion(
        kind="inputs", why=f"the {host.task.agent} found its inputs contradict: {what}",
        claims=tuple(Claim(f"{i.title} ({i.task_id})", i.output) for i in host.inputs),
        proposed=answer, can_retry=False,
    )
    decision = await host.settle(1, question)
    if decision.action is Action.PICK and decision.text.strip().isdigit():
        index = int(decision.text) - 1
        if 0 <= index < len(host.inputs):
            return host.inputs[index]
    return _outcome(decision, question) or answer


def trusting(task: Task, source: Input) -> Task:
    """The task told which of its contradicting inputs the person trusts."""
    note = (f"The person settled a contradiction between your inputs: trust “{source.title}” "
            f"({source.task_id}) where they disagree. Do not report the contradiction again.")
    return replace(task, instructions=f"{task.instructions.strip()}\n\n{note}".strip())


# --- review ----------------------------------------------------------------------------

_REVIEW_ASK = (
    "You review another agent's work for the task below. If it fully meets the task's "
    "instructions, answer APPROVE on the first line. Otherwise answer REVISE on the first "
    "line, then specific, actionable feedback: what is wrong or missing and how to fix it."
)


_NEGATION = re.compile(r"\b(NOT|NO|CANNOT|CAN'T|CAN NOT|DON'T|DO NOT|WON'T|UNABLE)\b")


def verdict(text: str) -> bool:
    """True only when a review clearly approves: its first line starts with APPROVE, or
    says approve(d) with no revise and no negation. Anything unclear asks for a revision:
    a silent pass is worse than one more round."""
    first = _first_line(text).upper()
    if first.startswith("APPROVE"):
        return True
    if "REVISE" in first or "REVISION" in first:
        return False
    return "APPROV" in first and not _NEGATION.search(first)


def _rounds(n: int) -> str:
    return "1 round" if n == 1 else f"{n} rounds"


def _without_verdict(review: str) -> str:
    """A review's feedback without its REVISE line."""
    lines = review.strip().splitlines()
    if lines and _first_line(lines[0]).upper().startswith(("REVISE", "APPROVE")):
        lines = lines[1:]
    return "\n".join(lines).strip() or review.strip()


def _first_line(text: str) -> str:
    """The first non-empty line, without Markdown emphasis, headings or quotes around it."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    return line.strip().strip("*#`_>\"' :.").replace("**", "").replace("__", "").strip()


async def _review(host: TeamHost, review: Review) -> str:
    maker = host.roles(host.task.agent)
    draft, feedback, rounds, round_ = "", "", review.max_rounds, 0
    conflicts, drafts = 0, []
    while True:
        round_ += 1
        messages = host.base_messages(maker)
        if feedback:
            messages.append(Message("user", f"Your previous draft:\n\n{draft}\n\nThe reviewer asked for "
                                            f"a revision:\n\n{feedback}\n\nWrite the revised result in full."))
        draft = await host.step(f"draft {round_}", host.task.agent, messages)
        drafts.append(draft)
        feedback = await host.step(f"review {round_}", review.reviewer,
                                   _review_messages(host, review.reviewer, draft),
                                   note=lambda t: "approved" if verdict(t) else "revise")
        if verdict(feedback):
            return draft
        if round_ < rounds:
            continue
        conflicts += 1
        # what can be picked is a draft (the output); the reviewer's objection is the why
        question = ConflictQuestion(
            kind="review",
            why=(f"the {review.reviewer} did not approve after {_rounds(round_)}; its last review: "
                 f"{_headline(_without_verdict(feedback), 300)}"),
            claims=tuple(Claim(f"{host.task.agent}, draft {n}", text)
                         for n, text in list(enumerate(drafts, 1))[-3:][::-1]),
            proposed=draft,
        )
        settled = _outcome(await host.settle(conflicts, question), question)
        if settled is not None:
            return settled
        rounds += 1  # another round, as the person asked


def _review_messages(host: TeamHost, reviewer: str, draft: str) -> list[Message]:
    role = host.roles(reviewer.partition("@")[0])
    task = host.task
    parts = [f"Overall goal of the team: {host.goal}", f"The task ({task.id}): {task.title}"]
    if task.instructions.strip():
        parts.append(f"Its instructions:\n{task.instructions.strip()}")
    parts += [f"The draft to review:\n\n{draft}", _REVIEW_ASK]
    return [Message("system", role.system_prompt), Message("user", "\n\n".join(parts))]


# --- vote ------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def agreement(answers: Sequence[str]) -> float:
    """How much the answers agree, 0 to 1 (the measure in the module's docstring)."""
    if len(answers) < 2:
        return 1.0
    if all(len(a.strip()) <= SHORT for a in answers):
        counts = Counter(_normal(a) for a in answers)
        return counts.most_common(1)[0][1] / len(answers)
    words = [set(_normal(a).split()) for a in answers]
    pairs = [len(x & y) / len(x | y) if x | y else 1.0 for x, y in combinations(words, 2)]
    return sum(pairs) / len(pairs)


def _majority(answers: Sequence[str]) -> tuple[int | None, str]:
    """The index of the winning answer (None on a tie for first) and the tally in words."""
    if all(len(a.strip()) <= SHORT for a in answers):
        counts = Counter(_normal(a) for a in answers)
        ranked = counts.most_common()
        tally = ", ".join(f"{n}× {next(a.strip() for a in answers if _normal(a) == k)!r}" for k, n in ranked)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            return None, tally
        return next(i for i, a in enumerate(answers) if _normal(a) == ranked[0][0]), tally
    words = [set(_normal(a).split()) for a in answers]  # long answers: the one closest to the rest

    def closeness(i: int) -> float:
        return sum(len(words[i] & w) / len(words[i] | w) if words[i] | w else 1.0
                   for j, w in enumerate(words) if j != i)

    best = max(range(len(answers)), key=closeness)
    return best, f"answer {best + 1} is the closest to the others"


_WINNER = re.compile(r"WINNER\W*(?:(?:DEBATER|ANSWER|NUMBER|NO\.?)\W*)?(\d+)", re.IGNORECASE)


def _judge_pick(text: str, count: int) -> int | None:
    """The answer a judge picked (from 0): the first line that says WINNER or UNDECIDED
    decides ("**WINNER:** 2", "WINNER: Debater 2"); None when undecided or unreadable."""
    for raw in text.splitlines():
        line = raw.replace("*", "").replace("_", "").replace("`", "").strip().upper()
        if line.startswith("UNDECIDED") or (line.startswith("WINNER") and "UNDECIDED" in line):
            return None
        if "WINNER" in line:
            match = _WINNER.search(line)
            number = int(match.group(1)) if match else 0
            return number - 1 if 1 <= number <= count else None
    return None


async def _vote(host: TeamHost, vote: Vote) -> str:
    voters = vote.voters or tuple(host.task.agent for _ in range(vote.samples))
    round_, conflicts = 0, 0
    while True:
        round_ += 1
        suffix = f" (round {round_})" if round_ > 1 else ""
        answers = list(await together(*(
            host.step(f"answer {i}{suffix}", who, host.base_messages(host.roles(who.partition("@")[0])),
                      alone=False)
            for i, who in enumerate(voters, 1))))
        level = agreement(answers)
        if vote.judge:
            reasons = await host.step(f"judgement{suffix}", vote.judge, _judge_messages(host, vote.judge, answers),
                                      note=lambda t: _pick_note(t, len(voters)))
            pick, tally = _judge_pick(reasons, len(answers)), f"the {vote.judge} judged: {reasons.strip()}"
        else:
            pick, tally = _majority(answers)
        host.record(f"tally{suffix}", "vote", _tally_text(voters, answers, tally, level),
                    f"agreement {level:.0%}")
        if pick is not None and not _too_low(answers, level):
            return answers[pick]
        conflicts += 1
        floor = LOW_AGREEMENT if all(len(a.strip()) <= SHORT for a in answers) else LOW_OVERLAP
        why = (f"the answers agree {level:.0%} (below {floor:.0%})" if pick is not None
               else "the judge did not pick an answer" if vote.judge else "the vote is tied")
        question = ConflictQuestion(
            kind="vote", why=why,
            claims=tuple(Claim(f"{who} (answer {i})", a) for i, (who, a) in enumerate(zip(voters, answers,
                                                                                          strict=True), 1)),
            proposed=answers[pick if pick is not None else 0],
        )
        settled = _outcome(await host.settle(conflicts, question), question)
        if settled is not None:
            return settled


def _pick_note(text: str, count: int, what: str = "answer") -> str:
    pick = _judge_pick(text, count)
    return f"picked {what} {pick + 1}" if pick is not None else "no pick"


def _tally_text(voters: Sequence[str], answers: Sequence[str], tally: str, level: float) -> str:
    lines = [f"Agreement: {level:.0%}", f"Result: {tally}", ""]
    lines += [f"{i}. {who}: {a.strip()}" for i, (who, a) in enumerate(zip(voters, answers, strict=True), 1)]
    return "\n".join(lines)


def _judge_messages(host: TeamHost, judge: str, answers: Sequence[str]) -> list[Message]:
    role = host.roles(judge.partition("@")[0])
    numbered = "\n\n".join(f"### Answer {i}\n{a.strip()}" for i, a in enumerate(answers, 1))
    ask = (f"Several agents answered the task below independently.\n\nThe task: {host.task.title}\n"
           f"{host.task.instructions.strip()}\n\n{numbered}\n\nPick the best answer. Reply with "
           "WINNER: <its number> on the first line, then your reasons in a few sentences.")
    return [Message("system", role.system_prompt),
            Message("user", f"Overall goal of the team: {host.goal}\n\n{ask}")]


# --- debate ----------------------------------------------------------------------------


async def _debate(host: TeamHost, debate: Debate) -> str:
    last: list[str] = ["" for _ in debate.debaters]
    rounds, round_, conflicts = debate.rounds, 0, 0
    while True:
        while round_ < rounds:
            round_ += 1
            last = list(await together(*(
                host.step(f"round {round_} · {i}", who, _debater_messages(host, debate, i, round_, last),
                          alone=False)
                for i, who in enumerate(debate.debaters, 1))))
        decision = await host.step(f"judgement {round_}", debate.judge,
                                   _verdict_messages(host, debate, last),
                                   note=lambda t: _pick_note(t, len(debate.debaters), "debater"))
        if _judge_pick(decision, len(debate.debaters)) is not None:
            return decision
        conflicts += 1
        question = ConflictQuestion(
            kind="debate", why=f"the {debate.judge} could not decide",
            claims=tuple(Claim(f"{who}, round {round_}", text)
                         for who, text in zip(debate.debaters, last, strict=True)),
            proposed=decision,
        )
        settled = _outcome(await host.settle(conflicts, question), question)
        if settled is not None:
            return settled
        rounds += 1


def _debater_messages(host: TeamHost, debate: Debate, me: int, round_: int, last: Sequence[str]) -> list[Message]:
    who = debate.debaters[me - 1]
    messages = host.base_messages(host.roles(who.partition("@")[0]))
    note = f"You are debater {me} of {len(debate.debaters)}, round {round_} of at least {debate.rounds}."
    others = [f"### Debater {i} ({debate.debaters[i - 1]})\n{text.strip()}"
              for i, text in enumerate(last, 1) if i != me and text.strip()]
    if others:
        note += ("\n\nThe other debaters' last arguments:\n\n" + "\n\n".join(others)
                 + f"\n\nYour last argument:\n{last[me - 1].strip()}")
    note += "\n\nArgue for the answer you think is right: answer the task, and rebut what is wrong."
    messages.append(Message("user", note))
    return messages


def _verdict_messages(host: TeamHost, debate: Debate, last: Sequence[str]) -> list[Message]:
    role = host.roles(debate.judge.partition("@")[0])
    args = "\n\n".join(f"### Debater {i} ({who})\n{text.strip()}"
                       for i, (who, text) in enumerate(zip(debate.debaters, last, strict=True), 1))
    ask = (f"The task: {host.task.title}\n{host.task.instructions.strip()}\n\nThe debaters' final "
           f"arguments:\n\n{args}\n\nDecide. Reply with WINNER: <debater number> on the first line "
           "(or UNDECIDED if you cannot), then why, then the final answer to the task.")
    return [Message("system", role.system_prompt),
            Message("user", f"Overall goal of the team: {host.goal}\n\n{ask}")]


# --- route -----------------------------------------------------------------------------


def chosen_route(text: str, labels: Sequence[str]) -> str | None:
    """The label an answer names (its first line, else the one label it mentions)."""
    return _chosen(text, labels)


def _chosen(text: str, labels: Sequence[str]) -> str | None:
    first = next((line for line in text.splitlines() if line.strip()), "")
    cleaned = _normal(first)
    for label in labels:
        if cleaned == _normal(label) or cleaned.startswith(_normal(label) + " "):
            return label
    found = [label for label in labels if re.search(rf"\b{re.escape(label)}\b", text, re.IGNORECASE)]
    return found[0] if len(found) == 1 else None


async def _route(host: TeamHost, route: Route) -> RouteChoice:
    labels = [label for label, _ in route.routes]
    targets = dict(route.routes)
    options = "\n".join(f"- {label}: {host.titles.get(t, t)}" for label, t in route.routes)
    messages = host.base_messages(host.roles(host.task.agent))
    messages.append(Message("user", f"Choose exactly one of these routes:\n{options}\n\nReply with the "
                                    "route's label alone on the first line, then one sentence why."))
    for attempt in (1, 2):
        key = "route" if attempt == 1 else "route (asked again)"
        text = await host.step(key, host.task.agent, messages,
                               note=lambda t: f"chose {_chosen(t, labels)}" if _chosen(t, labels) else "unclear")
        label = _chosen(text, labels)
        if label is not None:
            reason = "\n".join(text.splitlines()[1:]).strip() or text.strip()
            return RouteChoice(label, targets[label], reason)
        messages = [*messages, Message("assistant", text),
                    Message("user", f"Answer with one of: {', '.join(labels)}, alone on the first line.")]
    question = ConflictQuestion(
        kind="route", why=f"the {host.task.agent} did not choose one of the routes",
        claims=tuple(Claim(label, host.titles.get(t, t)) for label, t in route.routes),
        proposed=labels[0], can_retry=False,
    )
    decision = await host.settle(1, question)
    if decision.action is Action.PICK:
        label = labels[int(decision.text) - 1] if decision.text.strip().isdigit() else ""
        if label not in labels:
            raise PatternError(f"there is no route number {decision.text!r} to pick")
        return RouteChoice(label, targets[label], "chosen by the person")
    if decision.action is Action.APPROVE:  # the pattern's own proposal: the first route
        reason = decision.text.strip() or "the person accepted the first route"
        return RouteChoice(labels[0], targets[labels[0]], reason)
    written = _outcome(decision, question) or ""
    label = chosen_route(written, labels)
    if label is None:
        raise PatternError(f"the answer given names no route (one of: {', '.join(labels)})")
    return RouteChoice(label, targets[label], "chosen by the person")


def route_output(choice: RouteChoice, target_title: str) -> str:
    """A router task's output: what it chose and why (chosen_label reads it back)."""
    return f"Chose “{choice.label}” ({target_title}): {choice.reason}"


def chosen_label(output: str, route: Route) -> str | None:
    """The label a router's recorded output chose (a resumed run keeps its choice)."""
    match = re.match(r"Chose “(.*?)”", output)
    labels = {label for label, _ in route.routes}
    return match.group(1) if match and match.group(1) in labels else None


# --- map -------------------------------------------------------------------------------

_BULLET = re.compile(r"^(\s*)(?:[-*+•]|\d{1,4}[.)])\s+(.*\S)\s*$")


def split_items(text: str) -> list[str] | None:
    """A list's items: a JSON array (bare or in a ```json block), else the first Markdown
    list (nested bullets and wrapped lines belong to their item; a later list is not
    items). None when there is no list; [] for an empty JSON array."""
    for candidate in (text.strip(), *re.findall(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)):
        if candidate.strip().startswith("["):
            try:
                data = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(data, list):
                return [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in data
                        if x not in (None, "")]
    return _markdown_items(text.splitlines()) or None


def _markdown_items(lines: list[str]) -> list[str]:
    items: list[str] = []
    base: int | None = None  # the indentation of the list's own bullets
    for line in lines:
        match = _BULLET.match(line)
        indent = len(line) - len(line.lstrip())
        if match and (base is None or indent <= base + 1):
            base = indent if base is None else base
            items.append(match.group(2))
        elif base is None or not line.strip():
            continue
        elif match or indent > base:  # a nested bullet or a wrapped line: part of the item
            items[-1] += (" — " if match else " ") + (match.group(2) if match else line.strip())
        else:
            break  # the list ended: a later one is not part of it
    return items


async def _map(host: TeamHost, spec: Map) -> str:
    source = next((i for i in host.inputs if i.task_id == spec.over), None)
    title = host.titles.get(spec.over, spec.over)
    if source is None:
        raise PatternError(f"“{title}” has no output to work through")
    items = split_items(source.output)
    if items is None:
        raise PatternError(f"the output of “{title}” is not a list (a JSON array or a Markdown "
                           "list): nothing to work through")
    if not items:
        host.warn(f"“{title}” lists no items: there was nothing to do")
        return f"(“{title}” listed no items.)"
    if len(items) > spec.max_items:
        host.warn(f"“{title}” lists {len(items)} items; only the first {spec.max_items} run (max_items)")
        items = items[: spec.max_items]
    outputs = await asyncio.gather(*(
        host.step(f"item {i}", host.task.agent, item_messages(host, item, i, len(items)), alone=False)
        for i, item in enumerate(items, 1)), return_exceptions=True)
    failed = [(i, o) for i, o in enumerate(outputs, 1) if isinstance(o, BaseException)]
    if failed:
        numbers = ", ".join(str(i) for i, _ in failed[:10]) + (" …" if len(failed) > 10 else "")
        raise PatternError(f"{len(failed)} of {len(items)} items failed (item {numbers}): {failed[0][1]}; "
                           "the others are kept: resume runs only these")
    return gathered(items, [o for o in outputs if isinstance(o, str)])


def item_messages(host: TeamHost, item: str, number: int, total: int) -> list[Message]:
    """The task's instructions for one item alone (not the whole upstream list)."""
    role = host.roles(host.task.agent)
    task = host.task
    parts = [f"Overall goal of the team: {host.goal}", f"Your task ({task.id}): {task.title}"]
    if task.instructions.strip():
        parts.append(f"Instructions:\n{task.instructions.strip()}")
    parts.append(f"Do this for one item only, item {number} of {total}:\n\n{item}")
    parts.append("Reply with the result for this item only, in Markdown.")
    return [Message("system", role.system_prompt), Message("user", "\n\n".join(parts))]


def gathered(items: Sequence[str], outputs: Sequence[str]) -> str:
    """The map's output: each item's result, in item order."""
    return "\n\n".join(f"### {i}. {_headline(item)}\n\n{out.strip()}"
                       for i, (item, out) in enumerate(zip(items, outputs, strict=True), 1))


def _headline(item: str, width: int = 80) -> str:
    line = " ".join(item.split())
    return line if len(line) <= width else line[: width - 1] + "…"


# --- delegate --------------------------------------------------------------------------

_DELEGATE_ASK = """You manage this task. Break it into at most {most} sub-tasks for your team
and give each to the role that suits it:
{roles}

Reply with one JSON object and nothing else:
{{"tasks": [{{"id": "a", "title": "...", "instructions": "...", "agent": "<role>",
  "depends_on": [], "requires_approval": false}}]}}
Ids are short and unique; depends_on names sub-tasks whose results a sub-task needs;
requires_approval: true makes a sub-task wait for the person's go-ahead (use it for
anything that spends money, publishes, or cannot be undone).
A sub-task may carry a pattern as in a plan (review, vote, debate, map){nested}.
You will integrate their results yourself afterwards."""


async def _delegate(host: TeamHost, spec: Delegate) -> str:
    subtasks = await _sub_plan(host, spec)
    host.emit(SubtasksPlanned(run_id=host.run_id, task_id=host.owner, within=host.prefix,
                              tasks=[_plain(t) for t in subtasks]))
    results = await _run_subtasks(host, spec, subtasks)
    manager = host.task.agent
    blocks = "\n\n".join(f"### {t.title} ({t.agent})\n{results[t.id].strip()}" for t in subtasks)
    messages = host.base_messages(host.roles(manager))
    messages.append(Message("user", f"Your team's results:\n\n{blocks}\n\nIntegrate them into the "
                                    "result of your task. Reply with that result only, in Markdown."))
    return await host.step("integrate", manager, messages)


def _plain(task: Task) -> dict[str, Any]:
    data = {"id": task.id, "title": task.title, "agent": task.agent, "depends_on": list(task.depends_on)}
    return data | to_fields(task.pattern)


async def _sub_plan(host: TeamHost, spec: Delegate) -> list[Task]:
    """The manager's sub-tasks, validated; asked once more with the problem if unusable."""
    names = [r.name for r in host.team]
    nested = ("; a sub-task may delegate again" if host.depth + 1 < spec.max_depth
              else "; not delegate")
    roles = "\n".join(f"- {r.name}: {r.description}" for r in host.team)
    messages = host.base_messages(host.roles(host.task.agent))
    messages.append(Message("user", _DELEGATE_ASK.format(most=spec.max_subtasks, roles=roles, nested=nested)))
    problem = ""
    for key in ("plan", "plan (asked again)"):
        text = await host.step(key, host.task.agent, messages,
                               note=lambda t: _plan_note(t, host, spec, names))
        try:
            return _parse_sub_plan(text, host, spec, names)
        except PlanError as exc:
            problem = str(exc)
            messages = [*messages, Message("assistant", text),
                        Message("user", f"That is not a usable plan: {problem}. Reply with the corrected "
                                        "JSON object only.")]
    raise PatternError(f"the {host.task.agent} did not plan usable sub-tasks: {problem}")


def _plan_note(text: str, host: TeamHost, spec: Delegate, names: list[str]) -> str:
    try:
        return f"{len(_parse_sub_plan(text, host, spec, names))} sub-tasks"
    except PlanError as exc:
        return f"unusable: {exc}"


def _parse_sub_plan(text: str, host: TeamHost, spec: Delegate, names: list[str]) -> list[Task]:
    from agents.plan.planner import extract_json  # noqa: PLC0415 - the planner imports this module's package

    data = extract_json(text)
    tasks = data.get("tasks") if isinstance(data, dict) else data
    plan = Plan.from_dict({"goal": host.goal, "tasks": tasks if isinstance(tasks, list) else []})
    validate_plan(plan, names)
    subtasks = list(plan.tasks)
    problems = []
    if len(subtasks) > spec.max_subtasks:
        problems.append(f"{len(subtasks)} sub-tasks; at most {spec.max_subtasks}")
    for task in plan.iter_tasks():
        if task.children:
            problems.append(f"sub-task {task.id!r} has children: list every sub-task at the top")
        if isinstance(task.pattern, Route):
            problems.append(f"sub-task {task.id!r}: a route cannot be used inside a delegated task")
        if isinstance(task.pattern, Delegate) and host.depth + 1 >= spec.max_depth:
            problems.append(f"sub-task {task.id!r} delegates again, deeper than max_depth {spec.max_depth}")
    if problems:
        raise PlanError("; ".join(problems))
    return subtasks


async def _run_subtasks(host: TeamHost, spec: Delegate, subtasks: list[Task]) -> dict[str, str]:
    """Every sub-task, each as soon as the ones it depends on are done, in parallel."""
    by_id = {t.id: t for t in subtasks}
    results: dict[str, str] = {}
    waiting = dict(by_id)
    running: dict[str, asyncio.Future[str]] = {}
    try:
        while waiting or running:
            for tid, task in list(waiting.items()):
                if all(d in results for d in task.depends_on):
                    inputs = [*host.inputs, *(Input(d, by_id[d].title, results[d]) for d in task.depends_on)]
                    running[tid] = asyncio.ensure_future(_run_subtask(host.nested(task, inputs), task))
                    del waiting[tid]
            await asyncio.wait(running.values(), return_when=asyncio.FIRST_COMPLETED)
            for tid, future in list(running.items()):
                if future.done():
                    del running[tid]
                    results[tid] = future.result()  # a failed sub-task fails its manager's task
    finally:
        for future in running.values():
            future.cancel()
    return results


async def _run_subtask(host: TeamHost, task: Task) -> str:
    if task.requires_approval:
        approved = await _approve_subtask(host, task)
        if isinstance(approved, str):  # settled by the person: their text, or why it was left out
            return approved
        task = approved
        host = replace(host, task=task)  # its messages say the instructions as edited
    if task.pattern is None:
        return await host.step("", task.agent, host.base_messages(host.roles(task.agent)))
    result = await run_pattern(host, task.pattern)
    assert isinstance(result, str)  # a route is refused in a sub-plan
    return result


async def _approve_subtask(host: TeamHost, task: Task) -> Task | str:
    """Ask the person about a sub-task a manager marked as needing approval, once (a
    resume replays the answer): the task to run (maybe with new instructions), or the
    text that stands for it. The question belongs to no task row: the manager's task
    goes on running while the person decides."""
    key = "approval"
    prior = host.prior.get(host.key(key))
    if prior is not None:
        host.record(key, "person", prior.output, prior.note)
        decision = Decision(Action(prior.note), prior.output)
    else:
        inputs = tuple(TaskRef(i.task_id, i.title) for i in host.inputs)
        request = ApprovalRequest(
            request_id=uuid.uuid4().hex[:12], run_id=host.run_id, task_id="", subject=Subject.TASK,
            title=f"{host.titles.get(host.owner, host.owner)} › {task.title}",
            task=TaskQuestion(agent=task.agent, instructions=task.instructions.strip(), inputs=inputs),
        )
        host.emit(requested_event(request))
        decision = await host.decide(request)
        host.emit(ApprovalResolved(run_id=host.run_id, request_id=request.request_id, task_id="",
                                   action=decision.action.value, text=decision.text))
        host.record(key, "person", decision.text, decision.action.value)
    match decision.action:
        case Action.EDIT:
            return replace(task, instructions=decision.text)
        case Action.OVERRIDE:
            return decision.text
        case Action.REJECT:
            why = f": {decision.text.strip()}" if decision.text.strip() else ""
            return f"(Not done: the person rejected this sub-task{why}.)"
    return task
