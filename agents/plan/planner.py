"""The planner: asks the orchestrator model for a plan, validates, repairs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.errors import PlanError, PlannerError
from agents.events import PlanProposed, PlanRejectedByModel
from agents.llm.calls import CallContext, RetryPolicy
from agents.plan import Plan, plan_json_schema, validate_plan
from agents.plan.roster import ORCHESTRATOR, Roster
from agents.plan.templates import choose_shape, template_notice, template_plan
from agents.ports import LLMClient, Message, Usage
from agents.run.agent import ModelSettings, call_with_fallbacks

_FORMAT = """Reply with one JSON object and nothing else, in this shape:
{"goal": "<the goal>", "tasks": [{"id": "t1", "title": "...", "instructions": "...",
  "agent": "<role>", "depends_on": [], "requires_approval": false, "children": []}]}
Rules: ids are short and unique; depends_on lists ids of tasks whose output this
task needs (no cycles); agent is one of the roles listed; use children only to
group closely related sub-tasks; 2 to 8 tasks is usually right. Do not include a
final "compile the report" task: the team's results are combined automatically.
A task without children may have a pattern: several agents work on it. Add its
fields to the task only where it clearly helps (most tasks need none):
- "pattern": "review", "reviewer": "<role>", "max_rounds": 3: a deliverable that
  must be right (a report, code): the reviewer checks drafts until it approves.
- "pattern": "vote", "voters": ["<role>", "<role>", "<role>"] (or "samples": 3),
  optional "judge": "<role>": a factual judgement or a choice where independent
  answers help; short answers are counted, else the judge picks.
- "pattern": "debate", "debaters": ["<role>", "<role>"], "rounds": 2, "judge":
  "<role>": a contested question with two sides worth arguing.
- "pattern": "map", "over": "<id>", "max_items": 50: "for each of these items":
  the task <id> (listed in depends_on) writes a Markdown or JSON list, and this
  task's instructions run once per item, in parallel.
- "pattern": "route", "routes": {"<label>": "<task id>", ...}: only one of
  several approaches should run; each routed task lists this task in depends_on."""


@dataclass(frozen=True)
class PlanResult:
    """A validated plan and what it cost to get."""

    plan: Plan
    attempts: int
    """Planner calls it took (0: a template plan, no call)."""
    usage: Usage
    cost: float
    template_notice: str = ""
    """Said on the plan card and by the CLI when the plan is a built-in template
    (the orchestrator is too small to plan); "": the orchestrator planned it."""


def planner_messages(roster: Roster, goal: str, context: str = "") -> list[Message]:
    roles = "\n".join(f"- {r.name}: {r.description}" for r in roster.workers())
    system = f"{roster.get(ORCHESTRATOR).system_prompt}\n\nYour team:\n{roles}\n\n{_FORMAT}"
    user = f"Goal: {goal}"
    if context.strip():
        user += f"\n\nContext from earlier work in this project:\n{context.strip()}"
    return [Message("system", system), Message("user", user)]


def parse_plan_text(text: str, goal: str) -> Plan:
    """A model's reply as a Plan, not yet validated; raises PlanError."""
    data = extract_json(text)
    if isinstance(data, dict):
        data["goal"] = goal  # the person's words win over the model's paraphrase
    return Plan.from_dict(data)


def parse_plan_reply(text: str, goal: str, role_names: list[str]) -> Plan:
    """Turn a model's reply into a valid Plan or raise PlanError saying why."""
    plan = parse_plan_text(text, goal)
    validate_plan(plan, role_names)
    return plan


PlanFix = Callable[[Plan], Plan]
"""Changes a parsed plan before validation, or raises PlanError (sent back to the model)."""


def extract_json(text: str) -> Any:
    """The JSON in a model's reply (bare, fenced, or between its first { and last })."""
    cleaned = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", cleaned, re.DOTALL)
    if fence:
        cleaned = fence.group(1).strip()
    elif not cleaned.startswith("{") and "{" in cleaned and "}" in cleaned:
        cleaned = cleaned[cleaned.index("{") : cleaned.rindex("}") + 1]
    try:
        # strict=False: small local models write raw newlines inside strings (the grammar allows them)
        return json.loads(cleaned, strict=False)
    except json.JSONDecodeError as exc:
        raise PlanError(f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # Python's parser gives up about a thousand levels down
        raise PlanError("the reply is nested too deeply to be a plan") from None


class Planner:
    """Asks for a plan, re-asking with the error when the answer is unusable."""

    def __init__(
        self,
        llm: LLMClient,
        roster: Roster,
        settings: ModelSettings,
        *,
        max_attempts: int = 3,
        retry: RetryPolicy | None = None,
        fix: PlanFix | None = None,
    ) -> None:
        self._fix = fix
        self._llm = llm
        self._roster = roster
        self._settings = settings
        self._max_attempts = max_attempts
        self._retry = retry or RetryPolicy()

    async def plan(self, ctx: CallContext, goal: str, context: str = "") -> PlanResult:
        model = self._settings.models_for(self._roster.get(ORCHESTRATOR),
                                          self._settings.orchestrator_model)[0]
        who = self._settings.too_small.get(model)
        if who:  # its own plans repeat one task or break the JSON: a built-in shape
            return self.template(ctx, goal, who)
        messages = planner_messages(self._roster, goal, context)
        return await self.plan_from_messages(ctx, goal, messages, fix=self._fix)

    def template(self, ctx: CallContext, goal: str, who: str) -> PlanResult:
        """A built-in plan shape filled in from `goal` (no model call): a tiny model's own
        plans repeat one task or break the JSON; it can still write each task."""
        workers = [r.name for r in self._roster.workers()]
        shape = choose_shape(goal)
        plan = template_plan(goal, workers, shape)
        validate_plan(plan, workers)
        ctx.sink.emit(PlanProposed(run_id=ctx.run_id, plan=plan.to_dict(), attempts=0,
                                   template=shape.name))
        return PlanResult(plan=plan, attempts=0, usage=Usage(), cost=0.0,
                          template_notice=template_notice(who))

    async def plan_from_messages(
        self,
        ctx: CallContext,
        goal: str,
        messages: list[Message],
        *,
        fix: PlanFix | None = None,
        announce: bool = True,
    ) -> PlanResult:
        """Ask with `messages` until a valid plan comes back (the loop behind `plan`).

        `fix` gets every parsed plan before validation; `announce=False`
        emits no PlanProposed (storage makes that event a plan version).
        """
        role = self._roster.get(ORCHESTRATOR)
        models = self._settings.models_for(role, self._settings.orchestrator_model)
        model = models[0]
        workers = [r.name for r in self._roster.workers()]
        usage, cost, last_error = Usage(), 0.0, ""
        for attempt in range(1, self._max_attempts + 1):
            response, _ = await call_with_fallbacks(
                self._llm, self._settings, models, messages, ctx, self._retry,
                temperature=role.temperature, json_schema=plan_json_schema(workers),
            )
            usage, cost = usage + response.usage, cost + response.cost
            try:
                plan = parse_plan_text(response.text, goal)
                if fix is not None:
                    plan = fix(plan)
                validate_plan(plan, workers)
            except PlanError as exc:
                last_error = str(exc)
                ctx.sink.emit(PlanRejectedByModel(run_id=ctx.run_id, error=last_error, attempt=attempt))
                messages = messages + [
                    Message("assistant", response.text),
                    Message("user", f"That is not a usable plan: {last_error}. "
                                    "Reply with the corrected JSON object only."),
                ]
                continue
            if announce:
                ctx.sink.emit(PlanProposed(run_id=ctx.run_id, plan=plan.to_dict(), attempts=attempt))
            return PlanResult(plan=plan, attempts=attempt, usage=usage, cost=cost)
        raise PlannerError(
            f"{model} did not produce a valid plan in {self._max_attempts} attempts; "
            f"last problem: {last_error}. Try a stronger model (--planner-model) or a plan file (--plan)."
        )
