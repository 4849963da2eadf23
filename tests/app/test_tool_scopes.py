"""What Settings › Tools reads about scopes: inherited rules and where from, projects, roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.tools.base import Permission
from agents.tools.builtin import builtin_registry
from app.storage import open_database
from app.tools.settings import ToolPolicies, project_names, scope_label

ALLOW, ASK, DENY = Permission.ALLOW, Permission.ASK, Permission.DENY


def layered(tool: str = "t") -> ToolPolicies:
    return (ToolPolicies()
            .set(tool, DENY)
            .set(tool, ASK, project="Essay")
            .set(tool, ALLOW, role="coder")
            .set(tool, DENY, project="Essay", role="coder"))


@pytest.mark.parametrize(("project", "role", "expected"), [
    (None, None, None),
    (None, "coder", (DENY, "all projects")),
    ("Essay", None, (DENY, "all projects")),
    ("Essay", "coder", (ALLOW, "role coder in all projects")),
    ("Essay", "writer", (ASK, "project Essay")),
    ("Other", "coder", (ALLOW, "role coder in all projects")),
])
def test_inherited_is_the_nearest_wider_rule(project, role, expected):
    assert layered().inherited("t", project, role) == expected
    assert ToolPolicies().inherited("t", project, role) is None


def test_inherited_agrees_with_the_policy_a_run_uses():
    """Removing a scope's own rule leaves exactly what `inherited` reports."""
    tool = builtin_registry().get("write_file")
    assert tool is not None
    full = layered("write_file")
    for project, role in ((None, None), ("Essay", None), (None, "coder"), ("Essay", "coder"), ("Essay", "writer")):
        without = full.set("write_file", None, project=project, role=role)
        inherited = full.inherited("write_file", project, role)
        assert without.policy(project).permission(tool, role or "") is (inherited[0] if inherited else ASK)


def test_names_of_tools_and_roles_in_any_rule():
    policies = layered().set("mcp__gh__issue", ALLOW, project="Notes", role="writer")
    assert policies.tool_names() == {"t", "mcp__gh__issue"}
    assert policies.role_names() == {"coder", "writer"}


def test_scope_labels():
    assert [scope_label(p, r) for p, r in ((None, None), ("Essay", None), (None, "coder"), ("Essay", "coder"))] == [
        "all projects", "project Essay", "role coder in all projects", "role coder in project Essay"]


def test_projects_from_the_history_and_the_rules(tmp_path: Path):
    db = tmp_path / "troupe.db"
    policies = ToolPolicies().set("t", ALLOW, project="notes")
    assert project_names(policies, db) == ["notes"]
    assert not db.exists()  # reading never creates the database
    store = open_database(db)
    for name in ("Zebra", "essay"):
        store.create_project(name)
    store.close()
    assert project_names(policies, db) == ["essay", "notes", "Zebra"]


def test_an_unreadable_history_leaves_the_rules_projects(tmp_path: Path, caplog):
    db = tmp_path / "troupe.db"
    db.write_bytes(b"not a database at all" * 100)
    assert project_names(ToolPolicies().set("t", ALLOW, project="Essay"), db) == ["Essay"]
    assert "could not read the projects" in caplog.text
