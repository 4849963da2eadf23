"""The agent roster: the roles a plan's tasks are assigned to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class _RoleModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1)
    system_prompt: str = Field(min_length=1)
    description: str = ""
    model: str | None = None
    temperature: float = Field(default=0.3, ge=0, le=2)
    tools: list[str] = Field(default_factory=list)


class _RosterModel(BaseModel):
    roles: list[_RoleModel]


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
                }
                for r in self.roles
            ]
        }

    @classmethod
    def from_dict(cls, data: Any) -> Roster:
        try:
            model = _RosterModel.model_validate(data)
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
                )
                for r in model.roles
            )
        )


def default_roster_path() -> Path:
    # resources/ is data shipped beside the code; the core reads the file
    # by path so it stays independent of how the app packages it.
    return Path(__file__).resolve().parent.parent / "resources" / "roster.json"


def load_roster(path: Path | None = None) -> Roster:
    path = path or default_roster_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RosterError(f"roster file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise RosterError(f"roster file {path} is not valid JSON: {exc}") from None
    return Roster.from_dict(data)
