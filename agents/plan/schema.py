"""Pydantic models of an untrusted plan (imported on first use by agents.plan)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PatternName = Literal["single", "review", "vote", "debate", "delegate", "map", "route"]


class TaskModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    instructions: str = ""
    agent: str = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list)
    requires_approval: bool = False
    children: list[TaskModel] = Field(default_factory=list)
    # a pattern and its options (agents/plan/patterns.py); absent: single
    pattern: PatternName | None = None
    reviewer: str | None = None
    max_rounds: int | None = None
    voters: list[str] | None = None
    samples: int | None = None
    judge: str | None = None
    debaters: list[str] | None = None
    rounds: int | None = None
    max_subtasks: int | None = None
    max_depth: int | None = None
    over: str | None = None
    max_items: int | None = None
    routes: dict[str, str] | None = None


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    goal: str
    tasks: list[TaskModel]
