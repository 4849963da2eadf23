"""Window sessions that end well or badly, in real child processes.

`session_child(home, then)` starts a session as ui/gui.py does (faulthandler into
logs/fatal.log, then app.session_marker.begin) and then runs the Python `then`:
"start.marker.end()" quits cleanly, "os.kill(os.getpid(), signal.SIGSEGV)" is a
native crash, "os._exit(3)" an end that leaves no trace (as kill -9 or OOM).
`gui_process(home)` starts the real window (offscreen) in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def session_child(home: Path, then: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(f"""
        import faulthandler, os, signal, sys, time
        from pathlib import Path
        from app.session_marker import begin
        home = Path({str(home)!r})
        (home / "logs").mkdir(parents=True, exist_ok=True)
        fatal = (home / "logs" / "fatal.log").open("a", encoding="utf-8")
        faulthandler.enable(fatal, all_threads=True)
        start = begin(home)
    """) + textwrap.dedent(then)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def gui_process(home: Path) -> subprocess.Popen[str]:
    """`troupe` (the window) on data dir `home`, offscreen, no keychain, nothing probed."""
    env = os.environ | {
        "TROUPE_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "TROUPE_OLLAMA_URL": "http://127.0.0.1:9/v1",
        "TROUPE_LMSTUDIO_URL": "http://127.0.0.1:9/v1",
        "TROUPE_MODEL": "openai/test-model",
    }
    return subprocess.Popen([sys.executable, "-c", "import sys; from ui.gui import main; sys.exit(main())"],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until `path` exists (the window wrote it); fails if the process ended first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the window exited ({process.returncode}) before {path.name}:\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path} after {timeout} s")
        time.sleep(0.05)
