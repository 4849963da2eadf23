"""Tool policies on disk and one workspace folder per project."""

from __future__ import annotations

import json
from pathlib import Path

from agents.tools.base import Permission
from agents.tools.builtin import builtin_registry
from app.tools.settings import (
    ToolPolicies,
    load_policies,
    policies_path,
    save_policies,
    workspace_dir,
    workspace_name,
)

TOOLS = builtin_registry()
WRITE, READ = TOOLS.get("write_file"), TOOLS.get("read_file")


def test_policies_round_trip_through_the_file():
    policies = (ToolPolicies()
                .set("write_file", Permission.ALLOW)
                .set("run_shell", Permission.DENY, role="writer")
                .set("write_file", Permission.DENY, project="Essay")
                .set("fetch_url", Permission.ALLOW, project="Essay", role="researcher"))
    save_policies(policies)
    assert load_policies() == policies
    assert json.loads(policies_path().read_text())["projects"]["Essay"] == {
        "rules": {"write_file": "deny"}, "roles": {"researcher": {"fetch_url": "allow"}}}


def test_a_project_beats_all_projects_and_a_role_beats_its_project():
    policies = (ToolPolicies()
                .set("write_file", Permission.ALLOW)
                .set("write_file", Permission.DENY, project="Essay")
                .set("write_file", Permission.ASK, project="Essay", role="coder"))
    assert policies.policy("Other").permission(WRITE) is Permission.ALLOW
    assert policies.policy("Essay").permission(WRITE, "writer") is Permission.DENY
    assert policies.policy("Essay").permission(WRITE, "coder") is Permission.ASK
    assert policies.policy().permission(READ) is Permission.ALLOW  # the default for reads


def test_reset_removes_the_rule_and_empty_projects():
    policies = ToolPolicies().set("write_file", Permission.ALLOW, project="Essay")
    policies = policies.set("write_file", None, project="Essay")
    assert policies == ToolPolicies()
    assert policies.policy("Essay").permission(WRITE) is Permission.ASK


def test_a_broken_file_or_bad_rule_is_ignored(troupe_home: Path):
    policies_path().write_text("{not json")
    assert load_policies() == ToolPolicies()
    policies_path().write_text(json.dumps({"rules": {"write_file": "sure", "run_shell": "deny"}}))
    assert dict(load_policies().everywhere.rules) == {"run_shell": Permission.DENY}


def test_each_project_has_its_own_workspace(troupe_home: Path):
    essay = workspace_dir("essay")
    assert essay == troupe_home / "workspaces" / "essay" and essay.is_dir()
    names = ["My Notes", "my_notes", "my notes", "A", "a", "../../etc", "con", "", "é" * 200, "a/b", "a_b"]
    folders = {workspace_name(n) for n in names}
    assert len(folders) == len(names)  # never shared
    for folder in folders:
        assert folder and "/" not in folder and "\\" not in folder and not folder.startswith(".")
        assert len(folder) <= 80 and folder == folder.lower()
    assert workspace_dir("../../etc").parent == troupe_home / "workspaces"
