"""`troupe --self-test` from source: the venv's `troupe` script, as a person runs it.

The passing case runs the real window offscreen on the embedded model (a
couple of minutes on two cores); the failing ones end within seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TROUPE = Path(sys.executable).parent / "troupe"


def self_test(*args: str, home: Path, tmp: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `troupe --self-test ARGS` with `home` as the person's data dir and `tmp` as TMPDIR."""
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # offscreen is its own doing
    env.update(TROUPE_HOME=str(home), TMPDIR=str(tmp), LITELLM_LOCAL_MODEL_COST_MAP="True")
    return subprocess.run([str(TROUPE), "--self-test", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("self-test: ")]


@pytest.mark.slow
@pytest.mark.timeout(960)  # a couple of minutes; its own limit (480 s) fails it first
def test_the_self_test_plans_and_runs_a_goal_in_the_window(troupe_home: Path, tmp_path: Path,
                                                            embedded_gguf: Path):
    result = self_test(home=troupe_home, tmp=tmp_path / "tmp", timeout=900)

    assert result.returncode == 0, result.stderr[-3000:]
    said = lines(result)
    assert said[-1].startswith("self-test: OK (") and said[-1].endswith(" s)")
    assert f"self-test: embedded model: {embedded_gguf}" in said  # read in place, never copied
    assert "self-test: window opened" in result.stderr
    assert "self-test: fresh database troupe.db opened" in result.stderr
    assert any(line.startswith("self-test: planned ") for line in said)
    assert any(line.startswith("self-test: completed: ") for line in said)
    assert not list((tmp_path / "tmp").iterdir())  # its data dir is gone
    assert not list(troupe_home.iterdir())  # the person's data dir: untouched


def test_running_out_of_time_fails_with_the_reason_and_keeps_the_log(troupe_home: Path,
                                                                     tmp_path: Path):
    result = self_test("--timeout", "1", home=troupe_home, tmp=tmp_path / "tmp")

    assert result.returncode == 1, result.stderr[-3000:]
    said = lines(result)
    assert said[-1].startswith("self-test: FAILED: timed out after 1 s while "), said
    [kept] = (tmp_path / "tmp").iterdir()
    assert f"self-test: kept {kept} for a look (logs/troupe.log, window.png)" in said
    assert "timed out after 1 s" in (kept / "logs" / "troupe.log").read_text(encoding="utf-8")
    assert (kept / "troupe.db").is_file()
    assert not (kept / "models").exists()  # the big file does not stay behind
    assert not list(troupe_home.iterdir())


def test_a_bad_option_is_one_line_and_exit_2(troupe_home: Path, tmp_path: Path):
    result = self_test("--timeout", "0", home=troupe_home, tmp=tmp_path / "tmp")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "troupe --self-test: argument --timeout: must be more than 0 seconds"]
    assert not list((tmp_path / "tmp").iterdir())
