"""Pydantic models of an untrusted plan (imported on first use by agents.plan)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TaskModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    instructions: str = ""
    agent: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    requires_approval: bool = False
    children: list[TaskModel] = Field(default_factory=list)


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    goal: str
    tasks: list[TaskModel]
