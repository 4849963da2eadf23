"""`troupe models list|download|remove` as real subprocesses, against a fake hub and
a fake Ollama on 127.0.0.1 (TROUPE_HF_ENDPOINT, TROUPE_OLLAMA_URL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.models.catalog import find_entry
from tests.support.fake_hub import FakeHub
from tests.support.fake_ollama import FakeOllama

ENTRY = find_entry("qwen3-0.6b")
DATA = b"GGUF" + os.urandom(700_000)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add(ENTRY.repo, ENTRY.file, DATA)
        yield server


@pytest.fixture
def env(troupe_home: Path, hub: FakeHub) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")
           and k.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "TROUPE_MODEL")}
    env.update(TROUPE_HOME=str(troupe_home), TROUPE_HF_ENDPOINT=hub.url,
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return env


def troupe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", "models", *args], env=env,
                          capture_output=True, text=True, timeout=90)


def test_download_list_and_remove_a_catalog_model(env, hub: FakeHub, troupe_home: Path) -> None:
    got = troupe(env, "download", "qwen3-0.6b", "--default")
    assert got.returncode == 0, got.stderr
    assert "local/qwen3-0.6b is ready (SHA-256 checked)" in got.stdout
    assert "default model: local/qwen3-0.6b" in got.stdout
    assert "100%  700 kB of 700 kB" in got.stderr  # the progress lines (stderr is not a terminal)
    assert (troupe_home / "models" / ENTRY.file).read_bytes() == DATA
    assert json.loads((troupe_home / "settings.json").read_text())["default_model"] == "local/qwen3-0.6b"

    listed = troupe(env, "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.strip().startswith("qwen3-0.6b"))
    assert "397 MB" in row and "Apache-2.0" in row and "downloaded (local/qwen3-0.6b)" in row
    assert "Ollama: not running" in listed.stdout
    data = json.loads(troupe(env, "list", "--json").stdout)
    mine = next(m for m in data["catalog"] if m["name"] == "qwen3-0.6b")
    assert mine["downloaded"] and mine["fits"] in (True, False) and mine["licence"] == "Apache-2.0"

    gone = troupe(env, "remove", "qwen3-0.6b")
    assert gone.returncode == 0 and f"{ENTRY.file} deleted" in gone.stdout
    assert not (troupe_home / "models" / ENTRY.file).exists()


def test_errors_are_one_line(env, hub: FakeHub, troupe_home: Path) -> None:
    unknown = troupe(env, "download", "no-such-model")
    assert unknown.returncode == 2
    assert unknown.stderr == "troupe: no model 'no-such-model' in the catalog; `troupe models list` shows them\n"
    hub.faults.wrong_sha = True
    bad = troupe(env, "download", "qwen3-0.6b")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines()[-1].startswith("troupe: Qwen3-0.6B-Q4_K_M.gguf did not match the hub's SHA-256")
    assert list((troupe_home / "models").iterdir()) == []


def test_a_loose_gguf_file_is_listed(env, troupe_home: Path) -> None:
    (troupe_home / "models").mkdir()
    (troupe_home / "models" / "mine.gguf").write_bytes(b"GGUF" + bytes(10))
    (troupe_home / "models" / "half.gguf.part").write_bytes(b"GGUF")
    listed = troupe(env, "list")
    assert "mine.gguf" in listed.stdout and "half.gguf.part" not in listed.stdout


def test_pull_through_ollama(env) -> None:
    with FakeOllama() as ollama:
        env["TROUPE_OLLAMA_URL"] = ollama.url + "/v1"
        pulled = troupe(env, "download", "llama-3.2-1b-instruct", "--ollama")
        assert pulled.returncode == 0, pulled.stderr
        assert "ollama/llama3.2:1b is ready in Ollama" in pulled.stdout and "100%" in pulled.stderr
        listed = troupe(env, "list")
    assert f"Ollama ({ollama.url}): llama3.2:1b (4.0 MB)" in listed.stdout


def test_ctrl_c_pauses_and_the_next_process_resumes(env, hub: FakeHub, troupe_home: Path) -> None:
    hub.faults.delay = 0.08  # 16 kB every 80 ms: about four seconds, so Ctrl-C comes mid-way even under load
    part = troupe_home / "models" / (ENTRY.file + ".part")
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "models", "download", "qwen3-0.6b"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (part.is_file() and part.stat().st_size > 100_000) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.splitlines()[-1] == "troupe: paused; `troupe models download qwen3-0.6b` resumes it"
    kept = part.stat().st_size
    assert 100_000 < kept < len(DATA) and "Traceback" not in err
    assert "qwen3-0.6b" in troupe(env, "list").stdout.split("paused at ")[0].splitlines()[-1]

    hub.faults.delay = 0
    again = troupe(env, "download", "qwen3-0.6b")
    assert again.returncode == 0, again.stderr
    assert f"GET /cdn/{ENTRY.repo}/{ENTRY.file} bytes={kept}-" in hub.requests
    assert (troupe_home / "models" / ENTRY.file).read_bytes() == DATA and not part.exists()
