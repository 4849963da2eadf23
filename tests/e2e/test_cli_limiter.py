"""One rate limiter per provider through the real `troupe` command (issue 15): `troupe run
--plan FILE --yes` against the scripted server when it caps how many requests it answers
at once, what the live output says while a task waits, and `troupe providers limits`
editing providers.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.scripted_server import Reply

TASKS = 12


@pytest.fixture
def env(troupe_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TROUPE_HOME=str(troupe_home), LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1")
    return env


def troupe(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def add_server(env, server) -> None:
    added = troupe(env, "providers", "add", "work", "--kind", "openai_compatible", "--base", server.base_url,
                   "--model", "test-model")
    assert added.returncode == 0, added.stderr


def write_plan(path: Path, n: int) -> Path:
    tasks = [{"id": f"t{i}", "title": f"Task {i}", "instructions": f"Do {i}.", "agent": "writer"}
             for i in range(n)]
    path.write_text(json.dumps({"goal": "test goal", "tasks": tasks}))
    return path


SERVERS = {
    "caps at 5": {"cap": 5},
    "caps at 2": {"cap": 2},
    "drops from 10 to 3": {"cap": 10, "drop_to": 3, "after": 4},
}


@pytest.mark.parametrize("server", list(SERVERS))
def test_a_run_against_a_server_that_caps_its_requests_completes(server, llm_server, env, tmp_path):
    shape = SERVERS[server]
    add_server(env, llm_server)
    llm_server.on(contains="Compose the final deliverable", reply="# Done")
    llm_server.default = Reply("done", latency=0.05)
    llm_server.limit(shape["cap"], retry_after="0.2", drop_to=shape.get("drop_to"), after=shape.get("after", 0))
    plan = write_plan(tmp_path / "plan.json", TASKS)
    result = troupe(env, "run", "test goal", "--plan", str(plan), "--yes", "--model", "work/test-model")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "# Done"
    assert "Traceback" not in result.stderr
    assert "waiting for work rate limit (" in result.stderr  # the live output says why a task waits
    assert 0 < llm_server.refused < TASKS
    if server == "caps at 2":  # a task's time is its own work; its waits are said apart
        assert "s waiting for rate limits)" in result.stderr
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    shown = json.loads(troupe(env, "show", run_id, "--json").stdout)
    assert shown["status"] == "completed"
    assert {t["status"] for t in shown["tasks"]} == {"completed"}


def test_a_call_the_server_never_lets_through_fails_in_one_line(llm_server, env, tmp_path):
    add_server(env, llm_server)
    llm_server.limit(0, retry_after="0.01")  # every request refused
    changed = troupe(env, "providers", "limits", "work", "--concurrent", "1")
    assert changed.returncode == 0, changed.stderr
    plan = write_plan(tmp_path / "plan.json", 1)
    result = troupe(env, "run", "test goal", "--plan", str(plan), "--yes", "--model", "work/test-model")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("  x t0 failed: ")]
    assert len(failed) == 1 and "still rate limited by work after " in failed[0]
    assert "troupe providers limits work --concurrent N" in failed[0]


def test_limits_are_edited_with_troupe_providers_limits(llm_server, env, troupe_home):
    add_server(env, llm_server)
    shown = troupe(env, "providers", "limits", "work")
    assert shown.returncode == 0 and shown.stdout.strip() == "work: 16 at once (default)"
    changed = troupe(env, "providers", "limits", "work", "--concurrent", "3", "--rpm", "100")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "work: 3 at once, 100 requests/min"
    stored = json.loads((troupe_home / "providers.json").read_text())
    work = next(p for p in stored["providers"] if p["name"] == "work")
    assert work["limits"] == {"concurrent": 3, "rpm": 100, "tpm": None}
    listed = next(p for p in json.loads(troupe(env, "providers", "list", "--json").stdout) if p["name"] == "work")
    assert listed["limits"] == {"concurrent": 3, "rpm": 100, "tpm": None} and listed["default_limits"] is False
    assert "limits: 3 at once, 100 requests/min" in troupe(env, "providers", "list").stdout
    lifted = troupe(env, "providers", "limits", "work", "--rpm", "0", "--tpm", "50000")
    assert lifted.stdout.strip() == "work: 3 at once, 50000 tokens/min"
    back = troupe(env, "providers", "limits", "work", "--defaults")
    assert back.stdout.strip() == "work: 16 at once (default)"
    stored = json.loads((troupe_home / "providers.json").read_text())
    assert "limits" not in next(p for p in stored["providers"] if p["name"] == "work")
    cloud = troupe(env, "providers", "limits", "anthropic", "--concurrent", "2")  # a built-in kind gets an entry
    assert cloud.stdout.strip() == "anthropic: 2 at once, 50 requests/min"


@pytest.mark.parametrize(("args", "message"), [
    (["providers", "limits", "work", "--concurrent", "-1"], "must be 0 (no limit) or more, not -1"),
    (["providers", "limits", "work", "--rpm", "lots"], "not a whole number: 'lots'"),
    (["providers", "limits", "nowhere", "--rpm", "5"], "no provider named 'nowhere'"),
])
def test_bad_limits_exit_2_with_one_line(args, message, llm_server, env):
    add_server(env, llm_server)
    result = troupe(env, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("troupe: ")]) == 1
