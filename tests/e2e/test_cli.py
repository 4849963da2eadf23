"""The `troupe` command line as scripts use it: real subprocesses, a real
SQLite file and the local scripted LLM server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.storage import open_database
from tests.support.scripted_server import Gate, Reply, ScriptedServer

MODEL = "openai/test-model"
SECRET = "sk-test-DO-NOT-LEAK-4f9a8b7c6d5e"


@pytest.fixture
def env(troupe_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(TROUPE_HOME=str(troupe_home), OPENAI_API_KEY=SECRET,
               LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1")
    return env


def troupe(env, *args, input_text: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, input=input_text,
        capture_output=True, text=True, timeout=timeout,
    )


def model_args(server: ScriptedServer) -> list[str]:
    return ["--model", MODEL, "--api-base", server.base_url]


def write_plan(path: Path, tasks: list[dict]) -> Path:
    path.write_text(json.dumps({"goal": "test goal", "tasks": tasks}))
    return path


def task(id: str, deps=(), title=None, approval=False) -> dict:
    return {"id": id, "title": title or f"Task {id}", "instructions": f"Do {id}.", "agent": "writer",
            "depends_on": list(deps), "requires_approval": approval, "children": []}


def requests_for(server: ScriptedServer, task_id: str) -> int:
    return sum(f"Your task ({task_id})" in r.last_user for r in server.chat_requests)


PLAN_REPLY = json.dumps({"goal": "g", "tasks": [
    {"id": "r", "title": "Research", "instructions": "Find facts.", "agent": "researcher"},
    {"id": "w", "title": "Write", "instructions": "Write it.", "agent": "writer", "depends_on": ["r"]},
]})


def test_run_plans_runs_and_prints_the_deliverable(llm_server, env, tmp_path):
    llm_server.on(predicate=lambda r: "Reply with one JSON object" in r.system, reply=PLAN_REPLY)
    llm_server.on(contains="Your task (r)", reply="FACTS-123")
    llm_server.on(contains="Your task (w)", reply="DRAFT-456")
    llm_server.on(contains="Compose the final deliverable", reply="# Final report\n\nAll good.")
    result = troupe(env, "run", "write a report", "--yes", *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "# Final report\n\nAll good."
    assert "w done" in result.stderr
    # context passing through the real HTTP path: w saw r's output
    writer_request = next(r for r in llm_server.chat_requests if "Your task (w)" in r.last_user)
    assert "FACTS-123" in writer_request.last_user
    assert writer_request.body.get("stream") is True

    listed = json.loads(troupe(env, "runs", "--json").stdout)
    assert [r["goal"] for r in listed] == ["write a report"]
    assert {"id", "goal", "status", "created"} <= set(listed[0])
    assert listed[0]["partial"] is False
    assert troupe(env, "runs").stdout.split()[3] == "completed"
    shown = json.loads(troupe(env, "show", listed[0]["id"], "--json").stdout)
    assert shown["status"] == "completed" and shown["deliverable"].startswith("# Final report")
    assert [t["id"] for t in shown["tasks"]] == ["r", "w"]
    assert shown["tasks"][1]["output"] == "DRAFT-456" and shown["tasks"][1]["attempts"] == 1
    assert shown["tokens"] > 0
    assert json.loads(troupe(env, "runs", "--search", "DRAFT", "--json").stdout)[0]["id"] == shown["id"]
    assert json.loads(troupe(env, "runs", "--search", "nothing-like-this", "--json").stdout) == []


def test_json_mode_prints_one_event_per_line(llm_server, env, tmp_path):
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b", ["a"])])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", "--json", *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "RunStarted" and types[-1] == "RunFinished"
    assert {"TaskStarted", "TokenDelta", "TaskFinished", "DeliverableReady"} <= set(types)
    assert events[-1]["status"] == "completed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "g", "--bogus"], "unrecognized arguments"),
        (["show", "nope"], "no run with id 'nope'"),
        (["resume", "nope"], "no run with id 'nope'"),
        (["export", "nope", "--format", "md"], "no run with id 'nope'"),
        (["run", "g", "--plan", "/does/not/exist.json"], "plan file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(env, args, message):
    result = troupe(env, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_cyclic_plan_file_exits_2_naming_the_cycle(env, tmp_path, llm_server):
    plan = write_plan(tmp_path / "cyclic.json", [task("a", ["c"]), task("b", ["a"]), task("c", ["b"])])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", *model_args(llm_server))
    assert result.returncode == 2
    assert "dependency cycle" in result.stderr and "a" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not llm_server.chat_requests


def test_failed_run_exits_1_and_keeps_sibling_output(llm_server, env, tmp_path):
    llm_server.on(contains="Your task (bad)", reply=Reply.unauthorized())
    llm_server.on(contains="Your task (ok)", reply="fine")
    plan = write_plan(tmp_path / "p.json", [task("bad"), task("after", ["bad"]), task("ok")])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", *model_args(llm_server))
    assert result.returncode == 1
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    shown = json.loads(troupe(env, "show", run_id, "--json").stdout)
    status = {t["id"]: t["status"] for t in shown["tasks"]}
    assert status == {"bad": "failed", "after": "blocked", "ok": "completed"}
    assert shown["status"] == "failed"


def test_terminal_approvals(llm_server, env, tmp_path):
    llm_server.script(lambda r: "did: " + r.last_user.split("Instructions:\n")[1].split("\n")[0]
                      if "Instructions:" in r.last_user else "deliverable")
    plan = write_plan(tmp_path / "p.json", [task("a", approval=True), task("b", approval=True),
                                            task("c", approval=True)])
    # plan approval, then a: edit, b: override, c: reject with a reason (tasks run concurrently;
    # the prompts are serialised, so answer by the order they are asked in)
    answers = "y\n" + "\n".join(["e", "EDITED", "o", "MINE", "r", "not needed"]) + "\n"
    result = troupe(env, "run", "g", "--plan", str(plan), *model_args(llm_server), input_text=answers)
    assert result.returncode == 0, result.stderr
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    tasks = {t["id"]: t for t in json.loads(troupe(env, "show", run_id, "--json").stdout)["tasks"]}
    order = [line.split("Approval needed for ")[1].split(":")[0]
             for line in result.stderr.splitlines() if "Approval needed for" in line]
    edited, overridden, rejected = (tasks[order[0]], tasks[order[1]], tasks[order[2]])
    assert edited["output"] == "did: EDITED"
    assert overridden["output"] == "MINE" and requests_for(llm_server, order[1]) == 0
    assert rejected["status"] == "skipped" and rejected["error"] == "rejected by the person: not needed"
    assert "Why? (optional" in result.stderr
    # the rest made a partial deliverable; `troupe show` says so (the fold of the stored events)
    assert json.loads(troupe(env, "show", run_id, "--json").stdout)["partial"] is True
    assert troupe(env, "show", run_id).stdout.splitlines()[0].startswith(f"{run_id}  completed (partial)  ")
    # and so does the history: `troupe runs` (status column) and `troupe runs --json`
    [listed] = json.loads(troupe(env, "runs", "--json").stdout)
    assert (listed["status"], listed["partial"]) == ("completed", True)
    assert troupe(env, "runs").stdout.split()[3] == "partial"


def test_plan_command_writes_a_plan_file(llm_server, env, tmp_path):
    llm_server.enqueue("this is not json {", PLAN_REPLY)
    out = tmp_path / "plan.json"
    result = troupe(env, "plan", "write a report", "--out", str(out), *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["goal"] == "write a report" and [t["id"] for t in data["tasks"]] == ["r", "w"]
    assert len(llm_server.chat_requests) == 2  # repaired once
    rerun = troupe(env, "run", "write a report", "--plan", str(out), "--yes", *model_args(llm_server))
    assert rerun.returncode == 0, rerun.stderr


def _wait_for(predicate, timeout=60.0, proc=None):
    """Poll `predicate`; with `proc`, fail at once (with its stderr) if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"troupe exited ({proc.returncode}) first: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_kill_9_then_resume_does_not_repeat_finished_tasks(llm_server, env, tmp_path, troupe_home):
    hold = Gate()
    llm_server.on(contains="Your task (slow)", reply=Reply("SLOW DONE", wait=hold), times=1)
    plan = write_plan(tmp_path / "p.json", [
        task("a"), task("b"), task("slow", ["a", "b"]), task("last", ["slow"]),
    ])
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "g", "--plan", str(plan), "--yes",
         *model_args(llm_server)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(lambda: requests_for(llm_server, "slow") == 1, proc=proc)
        store = open_database(troupe_home / "troupe.db")
        run_id = store.list_runs()[0].id
        _wait_for(lambda: {t.task_id: t.status for t in store.get_run(run_id).tasks}["b"] == "completed")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    hold.open()
    assert requests_for(llm_server, "a") == 1 and requests_for(llm_server, "b") == 1

    result = troupe(env, "resume", run_id, "--yes")
    assert result.returncode == 0, result.stderr
    assert requests_for(llm_server, "a") == 1 and requests_for(llm_server, "b") == 1
    assert requests_for(llm_server, "slow") == 2 and requests_for(llm_server, "last") == 1
    run = store.get_run(run_id)
    assert run.status == "completed" and run.deliverable
    store.close()


def test_api_key_never_reaches_disk(llm_server, env, tmp_path, troupe_home):
    llm_server.on(contains="Your task (a)", reply=Reply.server_error(), times=1)
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b", ["a"])])
    result = troupe(env, "run", "g", "--plan", str(plan), "--yes", *model_args(llm_server))
    assert result.returncode == 0, result.stderr
    assert any(SECRET in r.headers.get("authorization", "") for r in llm_server.chat_requests)
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    for fmt in ("md", "html", "json"):
        out = tmp_path / f"export.{fmt}"
        assert troupe(env, "export", run_id, "--format", fmt, "--out", str(out)).returncode == 0
        assert out.stat().st_size > 100
    files = [p for p in list(troupe_home.rglob("*")) + list(tmp_path.glob("export.*")) if p.is_file()]
    assert any(p.name.startswith("troupe.db") for p in files)
    assert any(p.suffix == ".log" for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), f"key found in {path}"
    assert SECRET not in result.stderr + result.stdout


def test_ctrl_c_exits_130_and_the_run_can_be_resumed(llm_server, env, tmp_path, troupe_home):
    hold = Gate()
    llm_server.on(contains="Your task (slow)", reply=Reply("SLOW DONE", wait=hold), times=1)
    plan = write_plan(tmp_path / "p.json", [task("a"), task("slow", ["a"])])
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "g", "--plan", str(plan), "--yes",
         *model_args(llm_server)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(lambda: requests_for(llm_server, "slow") == 1)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    hold.open()
    assert proc.returncode == 130
    assert "troupe resume" in err and "Traceback" not in err
    store = open_database(troupe_home / "troupe.db")
    run = store.list_runs()[0]
    assert run.status == "interrupted"
    store.close()
    result = troupe(env, "resume", run.id, "--yes")
    assert result.returncode == 0, result.stderr
    assert requests_for(llm_server, "a") == 1


def test_crossing_the_budget_asks_and_stop_keeps_finished_work(llm_server, env, tmp_path, troupe_home):
    # gpt-4o-mini is in litellm's price list: the server's token counts cost real (tiny) money
    llm_server.default = Reply("done", prompt_tokens=1000, completion_tokens=1000)
    (troupe_home / "settings.json").write_text(json.dumps({"budget_usd": 0.001}))
    plan = write_plan(tmp_path / "p.json", [task("a"), task("b", deps=("a",)), task("c", deps=("b",))])
    result = troupe(env, "run", "g", "--plan", str(plan), "--model", "openai/gpt-4o-mini",
                    "--api-base", llm_server.base_url, input_text="y\ns\n")
    assert result.returncode == 1
    assert "The $0.0010 budget is spent" in result.stderr and "[c]ontinue or [s]top?" in result.stderr
    assert "run cancelled: stopped at the $0.0010 budget" in result.stderr
    run_id = json.loads(troupe(env, "runs", "--json").stdout)[0]["id"]
    tasks = {t["id"]: t["status"] for t in json.loads(troupe(env, "show", run_id, "--json").stdout)["tasks"]}
    assert tasks == {"a": "completed", "b": "completed", "c": "cancelled"}  # $0.00075 per call
    assert requests_for(llm_server, "c") == 0
