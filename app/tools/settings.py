"""Who may run which tool, and where: <data dir>/tool_policies.json and workspaces.

The file holds rules for every project ("rules", "roles") and, under
"projects", rules for one project by name:

    {"rules": {"write_file": "allow"},
     "roles": {"coder": {"run_shell": "allow"}},
     "projects": {"Essay": {"rules": {...}, "roles": {...}}}}

For a project, its own rules beat the all-projects ones, and (as in
`ToolPolicy`) a role's rule beats a project-wide one. A tool with no rule
gets the default: READ tools run, everything else (and every MCP tool) asks.

Each project works in its own folder, <data dir>/workspaces/<safe name>.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.tools.base import Permission, ToolPolicy
from app.paths import data_dir, db_path

__all__ = [
    "PolicyScope",
    "ToolPolicies",
    "load_policies",
    "policies_path",
    "project_names",
    "save_policies",
    "scope_label",
    "workspace_dir",
    "workspace_name",
]

log = logging.getLogger(__name__)

Rules = Mapping[str, Permission]


@dataclass(frozen=True)
class PolicyScope:
    """Rules for all projects, or for one."""

    rules: Rules = field(default_factory=dict)
    """Tool name -> permission, for every role."""
    roles: Mapping[str, Rules] = field(default_factory=dict)
    """Role name -> tool name -> permission."""

    def set(self, tool: str, permission: Permission | None, role: str | None) -> PolicyScope:
        """This scope with one rule set (None: removed)."""
        if role is None:
            return replace(self, rules=_with(self.rules, tool, permission))
        roles = dict(self.roles)
        roles[role] = _with(roles.get(role, {}), tool, permission)
        return replace(self, roles={r: v for r, v in roles.items() if v})

    def rule(self, tool: str, role: str | None) -> Permission | None:
        return (self.roles.get(role, {}) if role is not None else self.rules).get(tool)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": {t: p.value for t, p in self.rules.items()},
                "roles": {r: {t: p.value for t, p in v.items()} for r, v in self.roles.items()}}


@dataclass(frozen=True)
class ToolPolicies:
    """Every stored rule: for all projects and per project."""

    everywhere: PolicyScope = field(default_factory=PolicyScope)
    projects: Mapping[str, PolicyScope] = field(default_factory=dict)

    def scope(self, project: str | None) -> PolicyScope:
        return self.everywhere if project is None else self.projects.get(project, PolicyScope())

    def set(self, tool: str, permission: Permission | None, *, project: str | None = None,
            role: str | None = None) -> ToolPolicies:
        """A rule for the project (None: all projects) and role (None: every role)."""
        scope = self.scope(project).set(tool, permission, role)
        if project is None:
            return replace(self, everywhere=scope)
        projects = {**self.projects, project: scope}
        return replace(self, projects={p: s for p, s in projects.items() if s.rules or s.roles})

    def inherited(self, tool: str, project: str | None, role: str | None) -> tuple[Permission, str] | None:
        """The rule `tool` gets in this scope from wider ones, and where it is set; None: the default.

        Wider scopes, nearest first (as `policy()` ranks them): the role in
        all projects, the whole project, all projects.
        """
        wider: list[tuple[str | None, str | None]] = []
        if project is not None and role is not None:
            wider += [(None, role), (project, None)]
        if (project, role) != (None, None):
            wider.append((None, None))
        for p, r in wider:
            rule = self.scope(p).rule(tool, r)
            if rule is not None:
                return rule, scope_label(p, r)
        return None

    def tool_names(self) -> frozenset[str]:
        """Every tool some rule names."""
        scopes = [self.everywhere, *self.projects.values()]
        return frozenset(t for s in scopes for rules in (s.rules, *s.roles.values()) for t in rules)

    def role_names(self) -> frozenset[str]:
        """Every role some rule is for."""
        return frozenset(r for s in (self.everywhere, *self.projects.values()) for r in s.roles)

    def policy(self, project: str | None = None) -> ToolPolicy:
        """The ToolPolicy a run of `project` uses."""
        mine = self.scope(project) if project is not None else PolicyScope()
        roles = {r: dict(v) for r, v in self.everywhere.roles.items()}
        for role, rules in mine.roles.items():
            roles[role] = {**roles.get(role, {}), **rules}
        return ToolPolicy(rules={**self.everywhere.rules, **mine.rules}, roles=roles)

    def to_dict(self) -> dict[str, Any]:
        return {**self.everywhere.to_dict(),
                "projects": {p: s.to_dict() for p, s in self.projects.items()}}


def scope_label(project: str | None, role: str | None) -> str:
    """"all projects", "project Essay", "role coder in all projects", "role coder in project Essay"."""
    where = "all projects" if project is None else f"project {project}"
    return where if role is None else f"role {role} in {where}"


def _with(rules: Rules, tool: str, permission: Permission | None) -> dict[str, Permission]:
    out = {t: p for t, p in rules.items() if t != tool}
    if permission is not None:
        out[tool] = permission
    return out


# --- the file ------------------------------------------------------------------------


def policies_path() -> Path:
    return data_dir() / "tool_policies.json"


def load_policies(path: Path | None = None) -> ToolPolicies:
    """The stored rules; none when the file is missing, unreadable rules are skipped (logged)."""
    path = path or policies_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ToolPolicies()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable tool policies %s: %s", path, exc)
        return ToolPolicies()
    if not isinstance(data, dict):
        return ToolPolicies()
    projects = data.get("projects")
    projects = projects if isinstance(projects, dict) else {}
    return ToolPolicies(_scope(data), {str(p): _scope(s) for p, s in projects.items()})


def save_policies(policies: ToolPolicies, path: Path | None = None) -> Path:
    path = path or policies_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(policies.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a file
    return path


def _scope(data: Any) -> PolicyScope:
    if not isinstance(data, dict):
        return PolicyScope()
    roles = data.get("roles")
    roles = roles if isinstance(roles, dict) else {}
    return PolicyScope(_rules(data.get("rules")), {str(r): _rules(v) for r, v in roles.items()})


def _rules(data: Any) -> dict[str, Permission]:
    if not isinstance(data, dict):
        return {}
    good = {str(t): p for t, p in data.items() if p in Permission._value2member_map_}
    if len(good) != len(data):
        log.warning("ignoring tool rules that are not ask/allow/deny: %s", sorted(set(data) - set(good)))
    return {t: Permission(p) for t, p in good.items()}


def project_names(policies: ToolPolicies, history: Path | None = None) -> list[str]:
    """The projects of the history database and of the stored rules, sorted."""
    return sorted({*_history_projects(history or db_path()), *policies.projects}, key=str.casefold)


def _history_projects(path: Path) -> Iterable[str]:
    # read-only and without migrating: Settings must not create or change the database
    if not path.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=2)) as conn:
            return [str(name) for (name,) in conn.execute("SELECT name FROM projects")]
    except sqlite3.Error as exc:
        log.warning("could not read the projects of %s: %s", path, exc)
        return []


# --- workspaces ------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_MAX_NAME = 60


def workspace_name(project: str) -> str:
    """A folder name for the project, safe on every OS, never the same for two projects.

    A name that is already safe (lowercase letters, digits, `._-`) is kept;
    any other gets a hash of the exact name, so "My Notes" and "my_notes"
    (or "A" and "a" on a case-insensitive disk) stay apart.
    """
    safe = _UNSAFE.sub("_", project.lower()).strip("._") or "project"
    if safe == project and safe.split(".")[0] not in _RESERVED and len(safe) <= _MAX_NAME:
        return safe
    digest = hashlib.sha256(project.encode("utf-8")).hexdigest()[:10]
    return f"{safe[:_MAX_NAME]}-{digest}"


def workspace_dir(project: str) -> Path:
    """<data dir>/workspaces/<safe name>: where the project's file tools work; created now."""
    path = data_dir() / "workspaces" / workspace_name(project)
    path.mkdir(parents=True, exist_ok=True)
    return path
