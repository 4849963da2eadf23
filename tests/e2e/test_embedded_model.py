"""`troupe run GOAL --yes` on a fresh data dir with no provider: the embedded
SmolLM2-135M-Instruct runs the goal offline, in process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_a_fresh_install_runs_a_goal_on_the_embedded_model(troupe_home: Path):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "TROUPE_MODEL"}
    env.update(TROUPE_HOME=str(troupe_home), LITELLM_LOCAL_MODEL_COST_MAP="True",
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")

    def troupe(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, capture_output=True,
                              text=True, timeout=400)

    # few tokens per call: the test is about the path, not the prose
    result = troupe("run", "Say hello", "--yes", "--max-tokens", "200")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "default model: local/smollm2-135m" in result.stderr  # nothing else was found
    assert "embedded offline model" in result.stderr and "troupe providers add" in result.stderr
    assert result.stdout.strip()  # the deliverable

    runs = json.loads(troupe("runs", "--json").stdout)
    shown = json.loads(troupe("show", runs[0]["id"], "--json").stdout)
    assert shown["status"] == "completed"
    assert shown["settings"]["model"] == "local/smollm2-135m"
    assert shown["tasks"] and all(t["status"] == "completed" for t in shown["tasks"])
    assert shown["cost"] == 0
    assert not (troupe_home / "models").exists()  # read from its package, never copied
