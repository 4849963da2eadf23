"""Built-in plan shapes, for orchestrators too small to plan (the embedded model).

A 135M model asked for a plan writes five identical tasks; a template written
here, picked from the goal's words and filled in with the goal, gives it tasks
it can do one at a time:

    shape = choose_shape("How to bake bread")      # the how-to shape
    plan = template_plan("How to bake bread", roster.names)

The person edits a template plan like any other (the plan card says what it is).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.plan.model import Plan, Task

__all__ = ["SHAPES", "PlanShape", "Step", "choose_shape", "goal_topic", "template_notice",
           "template_plan"]


@dataclass(frozen=True)
class Step:
    """One task of a shape; its texts are filled in from the goal."""

    title: str
    """The task's title; "{topic}" becomes the goal's subject."""
    roles: tuple[str, ...]
    """Roles that fit, best first; the first the roster has does it (else its first worker)."""
    instructions: str
    """What the agent is told; "{goal}" becomes the person's goal (without its full stop).
    Short and direct: a tiny model follows one plain request, and repeats a long brief."""
    after: tuple[int, ...] = ()
    """Indexes of earlier steps whose output this one reads."""


@dataclass(frozen=True)
class PlanShape:
    """A plan for one kind of goal, and the words that point to it."""

    name: str
    """A short name ("how-to"): shown in logs, kept on the PlanProposed event."""
    words: re.Pattern[str]
    """Matches goals of this kind (case-insensitive, whole words)."""
    steps: tuple[Step, ...]
    """The tasks, in order."""


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)


_FACTS = ("researcher", "analyst", "writer")
_WRITE = ("writer", "researcher")
_CHECK = ("reviewer", "analyst", "writer")
_CODE = ("coder", "writer")
_TIPS = ("researcher", "writer")

SHAPES: tuple[PlanShape, ...] = (
    PlanShape("code", _words(r"python", r"javascript", r"typescript", r"java", r"rust", r"golang",
                             r"c\+\+", r"sql", r"regex", r"function", r"code", r"script", r"program",
                             r"class", r"unit tests?", r"implement\w*", r"algorithm"), (
        Step("Code: {topic}", _CODE, "{goal}. Write the code in one code block."),
        Step("Tests: {topic}", _CODE,
             "Write a short test for the code you are given, in one code block. The goal: {goal}.",
             (0,)),
        Step("Explanation: {topic}", ("writer", "coder"),
             "Explain in three plain sentences how the code you are given works. The goal: {goal}.",
             (0,)),
    )),
    PlanShape("compare", _words(r"compare\w*", r"comparison", r"vs\.?", r"versus", r"better",
                                r"best", r"choose", r"which", r"pros and cons", r"difference\w*"), (
        Step("Comparison: {topic}", ("analyst", "researcher", "writer"),
             "{goal}. For each option, list its strengths and weaknesses as short bullet points."),
        Step("Recommendation: {topic}", _WRITE,
             "Using the comparison you are given, recommend one option for this goal and say why "
             "in three sentences: {goal}.", (0,)),
    )),
    PlanShape("how-to", _words(r"how to", r"how do", r"how can", r"steps?", r"guide", r"tutorial",
                               r"recipe", r"bake", r"cook", r"install", r"set up", r"setup",
                               r"build", r"make", r"fix", r"repair", r"learn"), (
        Step("What you need: {topic}", _FACTS,
             "List what you need for this: {goal}. Short bullet points: materials, tools or "
             "ingredients."),
        Step("Steps: {topic}", _WRITE,
             "{goal}. Write clear numbered steps, one short sentence each.", (0,)),
        # not "read the steps": told to, a tiny reviewer reviewed the writing, not the bread
        Step("Tips and common mistakes: {topic}", _TIPS,
             "Give 3 short tips and 2 common mistakes to avoid for this: {goal}. Bullet points."),
    )),
    PlanShape("plan", _words(r"plan\w*", r"trip", r"travel", r"itinerary", r"schedule",
                             r"weekend", r"holiday", r"vacation", r"visit", r"event", r"party",
                             r"routine", r"week"), (
        Step("Ideas: {topic}", _FACTS, "List 5 ideas for this: {goal}. One per line."),
        Step("Plan: {topic}", _WRITE,
             "{goal}. Write a simple plan in order, as a Markdown list. Use the ideas you are "
             "given where they help.", (0,)),
        Step("Checklist: {topic}", _TIPS,
             "Write a short checklist of what to pack, prepare or book for this: {goal}. "
             "Bullet points."),
    )),
    PlanShape("research-draft-review", _words(r"\w+"), (
        Step("Key facts: {topic}", _FACTS,
             "List 5 short facts that help with this: {goal}. One per line."),
        Step("Draft: {topic}", _WRITE,
             "{goal}. Use the facts you are given where they help.", (0,)),
        Step("Review: {topic}", _CHECK,
             "Read the answer you are given for this goal: {goal}. In two sentences, say one "
             "thing it does well and one thing to improve.", (1,)),
    )),
)
"""Tried in order: the first whose words the goal has wins; the last matches any goal."""


def choose_shape(goal: str) -> PlanShape:
    """The first shape whose words appear in the goal (the last one otherwise)."""
    return next((s for s in SHAPES if s.words.search(goal)), SHAPES[-1])


_LEAD = re.compile(
    r"^(?:please|kindly|can you|could you|help me|i want to|i need to|i'd like to|let's|"
    r"write|give me|give|list|tell me|explain|describe|create|make me|draft|produce|suggest|"
    r"find|show me|compare|plan|how to|how do i|how can i|"
    r"(?:a|an|the|some|\w+) (?:tips|ideas|ways|reasons|facts|steps|things) (?:for|on|about|to)"
    r")\s+", re.IGNORECASE)
_CLAUSE = re.compile(r"\s*[:;,(]\s*|\s+and\s+")
_TOPIC_WORDS = 8


def goal_topic(goal: str) -> str:
    """The goal's subject, short, for task titles ("three tips for keeping houseplants
    alive" -> "keeping houseplants alive")."""
    topic = " ".join(goal.split()).strip(" .!?:;")
    while (lead := _LEAD.match(topic)) and lead.end() < len(topic):
        topic = topic[lead.end():]
    head = _CLAUSE.split(topic, maxsplit=1)[0]
    if len(head.split()) >= 2:  # "two laptops for a student: a MacBook or ..." -> its head
        topic = head
    words = topic.split()
    if len(words) > _TOPIC_WORDS:
        topic = " ".join(words[:_TOPIC_WORDS]) + "…"
    return topic or goal.strip()


def template_plan(goal: str, roles: Sequence[str], shape: PlanShape | None = None) -> Plan:
    """`shape` (by default the one the goal's words choose) filled in from `goal`, each
    task given the first of its roles in `roles` (the roster's workers)."""
    if not roles:
        raise ValueError("a template plan needs at least one role")
    shape = shape or choose_shape(goal)
    topic = goal_topic(goal)
    tasks = tuple(
        Task(id=f"t{i}", title=step.title.format(topic=topic),
             instructions=step.instructions.format(goal=goal.strip().rstrip(".!?;:")),
             agent=next((r for r in step.roles if r in roles), roles[0]),
             depends_on=tuple(f"t{j + 1}" for j in step.after))
        for i, step in enumerate(shape.steps, start=1)
    )
    return Plan(goal=goal, tasks=tasks)


def template_notice(who: str) -> str:
    """What the plan card and the CLI say about a template plan; `who` names the model
    ("the embedded model")."""
    return f"Offline template plan: {who} is too small to plan; edit it as you like."
