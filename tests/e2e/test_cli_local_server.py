"""`troupe run` against a server that answers as llama-cpp-python's does (the scripted
LLAMA_CPP dialect): the plan comes through json_object after json_schema's 500, steps
offering tools go unstreamed after its empty stream, token counts Troupe made itself
say "~", and the history names the model as the person did (llm/smol)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.scripted_server import Reply, ScriptedServer
from tests.support.server_dialects import LLAMA_CPP

PLAN = json.dumps({"goal": "g", "tasks": [
    {"id": "t1", "title": "Find facts", "instructions": "Find them.", "agent": "researcher", "depends_on": []},
    {"id": "t2", "title": "Compare", "instructions": "Compare them.", "agent": "analyst", "depends_on": []},
]})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(models=("smol",), dialect=LLAMA_CPP) as server:
        yield server


@pytest.fixture
def env(troupe_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TROUPE_HOME=str(troupe_home), LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1")
    return env


def troupe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_run_plans_and_finishes_with_honest_numbers(server, env, troupe_home):
    server.on(predicate=lambda r: "response_format" in (r.body or {}), reply=PLAN)
    server.on(contains="Compose the final deliverable", reply="# Done")
    server.default = Reply("a whole answer of several words", chunk_delay=0.005)
    added = troupe(env, "providers", "add", "llm", "--kind", "openai_compatible", "--base", server.base_url,
                   "--model", "smol")
    assert added.returncode == 0, added.stderr

    ran = troupe(env, "run", "Compare two teas", "--yes", "--model", "llm/smol")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "# Done" and "Traceback" not in ran.stderr
    # its streams carry no usage (the plan's, the synthesis'): Troupe counted, and says so; the
    # tasks' tool-offering steps went unstreamed after an empty stream, and those report usage
    assert "completed: ~" in ran.stderr and "t1 done: ~" not in ran.stderr
    sent = [(r.stream, (r.body or {}).get("response_format", {}).get("type")) for r in server.chat_requests]
    assert sent[:2] == [(True, "json_schema"), (True, "json_object")]  # refused (500), then taken at once
    assert sent[2:6] == [(True, None), (True, None), (False, None), (False, None)]

    [listed] = json.loads(troupe(env, "runs", "--json").stdout)
    run_id = listed["id"]
    assert listed["tokens_estimated"]
    shown = troupe(env, "show", run_id)
    assert f"{run_id}  completed  ~" in shown.stdout
    assert ", completed; ~" in troupe(env, "export", run_id, "--format", "md").stdout
    assert json.loads(troupe(env, "export", run_id, "--format", "json").stdout)["tokens_estimated"]
    with sqlite3.connect(troupe_home / "troupe.db") as db:  # named as the person did, not openai/smol
        models = {r[0] for r in db.execute("SELECT model FROM llm_calls")}
        estimated = {r[0] for r in db.execute("SELECT purpose FROM llm_calls WHERE tokens_estimated")}
    assert models == {"llm/smol"} and estimated == {"plan", "synthesis"}
