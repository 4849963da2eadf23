"""The agent roster: the roles a plan's tasks are assigned to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agents.errors import RosterError

ORCHESTRATOR = "orchestrator"


@dataclass(frozen=True)
class Role:
    """One specialised agent."""

    name: str
    """Identifier used in plans ("researcher")."""
    system_prompt: str
    """The role's standing instructions."""
    description: str = ""
    """One line shown to the planner and in the UI."""
    model: str | None = None
    """A litellm model string; None means the run's default model."""
    temperature: float = 0.3
    tools: tuple[str, ...] = ()
    """Names of the tools this role may call."""
    fallbacks: tuple[str, ...] = ()
    """Models tried in order when `model` fails after its retries."""

    def models(self, default: str) -> tuple[str, ...]:
        """The models this role calls, first choice first."""
        primary = self.model or default
        return (primary, *(m for m in self.fallbacks if m != primary))


@dataclass(frozen=True)
class Roster:
    """The team: roles by name, in display order."""

    roles: tuple[Role, ...]

    def __iter__(self) -> Iterator[Role]:
        return iter(self.roles)

    def __contains__(self, name: object) -> bool:
        return any(r.name == name for r in self.roles)

    def get(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.roles]

    def workers(self) -> list[Role]:
        """Roles a plan's tasks may be assigned to (everyone but the orchestrator)."""
        return [r for r in self.roles if r.name != ORCHESTRATOR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": [
                {
                    "name": r.name,
                    "description": r.description,
                    "system_prompt": r.system_prompt,
                    "model": r.model,
                    "temperature": r.temperature,
                    "tools": list(r.tools),
                    "fallbacks": list(r.fallbacks),
                }
                for r in self.roles
            ]
        }

    @classmethod
    def from_dict(cls, data: Any) -> Roster:
        # A well-formed roster (the shipped one, nearly always) is checked by
        # hand: importing pydantic costs 0.1-0.2 s of start-up. Anything else
        # goes through the pydantic models, which coerce and word the errors.
        model = _plain_roster(data)
        if model is None:
            from pydantic import ValidationError  # noqa: PLC0415

            from agents.plan.roster_schema import RosterModel  # noqa: PLC0415

            try:
                model = RosterModel.model_validate(data)
            except ValidationError as exc:
                raise RosterError(f"invalid roster: {exc.errors()[0]['msg']}") from None
        names = [r.name for r in model.roles]
        if len(set(names)) != len(names):
            raise RosterError("invalid roster: role names must be unique")
        if ORCHESTRATOR not in names:
            raise RosterError(f"invalid roster: it needs an {ORCHESTRATOR!r} role")
        return cls(
            tuple(
                Role(
                    name=r.name,
                    system_prompt=r.system_prompt,
                    description=r.description,
                    model=r.model,
                    temperature=r.temperature,
                    tools=tuple(r.tools),
                    fallbacks=tuple(r.fallbacks),
                )
                for r in model.roles
            )
        )


def _plain_roster(data: Any) -> Any:
    """`data` as the pydantic model would give it, if it is exactly well-formed; else None."""
    if not isinstance(data, dict) or not isinstance(data.get("roles"), list):
        return None
    roles = []
    for r in data["roles"]:
        if not isinstance(r, dict):
            return None
        name, prompt = r.get("name"), r.get("system_prompt")
        description, model = r.get("description", ""), r.get("model")
        temperature, tools = r.get("temperature", 0.3), r.get("tools", [])
        fallbacks = r.get("fallbacks", [])
        if not (isinstance(fallbacks, list) and all(isinstance(f, str) and f for f in fallbacks)):
            return None
        if not (isinstance(name, str) and name and isinstance(prompt, str) and prompt
                and isinstance(description, str) and (model is None or isinstance(model, str))
                and type(temperature) in (int, float) and 0 <= temperature <= 2
                and isinstance(tools, list) and all(isinstance(t, str) for t in tools)):
            return None
        roles.append(SimpleNamespace(name=name, system_prompt=prompt, description=description,
                                     model=model, temperature=float(temperature), tools=tools,
                                     fallbacks=fallbacks))
    return SimpleNamespace(roles=roles)


def default_roster_path() -> Path:
    # resources/ is data shipped beside the code; the core reads the file
    # by path so it stays independent of how the app packages it.
    return Path(__file__).resolve().parents[2] / "resources" / "roster.json"


def load_roster(path: Path | None = None) -> Roster:
    path = path or default_roster_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RosterError(f"roster file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise RosterError(f"roster file {path} is not valid JSON: {exc}") from None
    return Roster.from_dict(data)
