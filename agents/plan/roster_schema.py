"""Pydantic models of an untrusted roster (imported by agents.plan.roster when needed)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RoleModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1)
    system_prompt: str = Field(min_length=1)
    description: str = ""
    model: str | None = None
    temperature: float = Field(default=0.3, ge=0, le=2)
    tools: list[str] = Field(default_factory=list)
    fallbacks: list[str] = Field(default_factory=list)


class RosterModel(BaseModel):
    roles: list[RoleModel]
