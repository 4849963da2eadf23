"""`troupe providers` and `troupe keys` as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.scripted_server import Reply

SECRET = "sk-test-KEYS-SET-9a8b7c6d5e4f"


@pytest.fixture
def env(troupe_home: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TROUPE_HOME=str(troupe_home), LITELLM_LOCAL_MODEL_COST_MAP="True",
               PYTHON_KEYRING_BACKEND="tests.support.file_keyring.FileKeyring",
               TROUPE_TEST_KEYRING=str(tmp_path / "keyring.json"))
    return env


def troupe(env, *args, input_text: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, input=input_text,
                          capture_output=True, text=True, timeout=90)


def test_add_list_test_and_remove_a_provider_with_a_stored_key(env, llm_server, troupe_home, tmp_path):
    added = troupe(env, "providers", "add", "work", "--kind", "openai_compatible",
                   "--base", llm_server.base_url)
    assert added.returncode == 0, added.stderr
    assert "work/test-model" in added.stdout  # the server's models were listed
    stored = troupe(env, "keys", "set", "work", input_text=SECRET + "\n")
    assert stored.returncode == 0, stored.stderr
    assert SECRET not in stored.stdout + stored.stderr  # never echoed
    assert json.loads((tmp_path / "keyring.json").read_text()) == {"troupe/work": SECRET}

    listed = json.loads(troupe(env, "providers", "list", "--json").stdout)
    assert [p["name"] for p in listed] == ["local", "work"]  # the embedded model is always there
    assert listed[1:] == [{"name": "work", "kind": "openai_compatible", "kind_label": "OpenAI-compatible server",
                       "base": llm_server.base_url, "models": ["test-model"], "key": "key in keychain",
                       "prices": {}, "limits": {"concurrent": 16, "rpm": None, "tpm": None},
                       "default_limits": True}]

    tested = troupe(env, "providers", "test", "work")
    assert tested.returncode == 0, tested.stderr
    assert "answered in" in tested.stdout
    assert llm_server.chat_requests[-1].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in (troupe_home / "providers.json").read_text()

    removed = troupe(env, "providers", "remove", "work")
    assert removed.returncode == 0 and "removed the work key" in removed.stdout
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}


def test_a_failing_provider_test_exits_1_with_the_reason(env, llm_server):
    llm_server.default = Reply.unauthorized()
    troupe(env, "providers", "add", "work", "--kind", "openai_compatible", "--base", llm_server.base_url,
           "--model", "test-model")
    tested = troupe(env, "providers", "test", "work")
    assert tested.returncode == 1
    assert "rejected the API key" in tested.stderr and "troupe keys set work" in tested.stderr


def test_keys_set_without_a_keychain_explains_and_stores_nothing(env):
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    result = troupe(env, "keys", "set", "openai", input_text="sk-whatever\n")
    assert result.returncode == 2
    assert "No system keychain" in result.stderr and "OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_provider_input_is_one_clear_line(env):
    result = troupe(env, "providers", "add", "mine", "--base", "http://127.0.0.1:1/v1")
    assert result.returncode == 2 and "give --kind" in result.stderr
    result = troupe(env, "providers", "add", "mine", "--kind", "openai_compatible")
    assert result.returncode == 2 and "needs a base URL" in result.stderr


def test_the_first_run_finds_what_is_there_once(env, llm_server, troupe_home):
    env["GROQ_API_KEY"] = SECRET
    first = troupe(env, "providers", "list")
    assert "found Groq: a key in GROQ_API_KEY" in first.stderr
    assert "default model: groq/llama-3.1-8b-instant" in first.stderr
    assert [line.split()[0] for line in first.stdout.splitlines()] == ["groq", "local"]
    assert json.loads((troupe_home / "settings.json").read_text())["default_model"] == "groq/llama-3.1-8b-instant"
    again = troupe(env, "providers", "list")
    assert "found" not in again.stderr  # once per data dir
    assert SECRET not in (troupe_home / "providers.json").read_text()


def test_provider_latency_is_the_request_not_litellms_import(env, llm_server):
    """`troupe providers test` imports litellm (seconds) before its first call: the
    latency it reports is the request's, so at least the server's delay and at most what
    the command took besides that import (which -X importtime measures in the same process)."""
    llm_server.default = Reply("OK", latency=0.3)
    added = troupe(env, "providers", "add", "work", "--kind", "openai_compatible", "--base",
                   llm_server.base_url, "--model", "test-model")
    assert added.returncode == 0, added.stderr
    started = time.perf_counter()
    tested = subprocess.run([sys.executable, "-X", "importtime", "-m", "app.cli", "providers", "test", "work"],
                            env=env, capture_output=True, text=True, timeout=90)
    total_ms = (time.perf_counter() - started) * 1000
    assert tested.returncode == 0, tested.stderr[-2000:]
    latency = float(re.search(r"answered in (\d+) ms", tested.stdout).group(1))
    import_us = next(int(line.split("|")[1]) for line in tested.stderr.splitlines()
                     if line.startswith("import time:") and line.split("|")[2].strip() == "litellm")
    assert 300 <= latency < total_ms - import_us / 1000


def test_the_first_run_names_the_model_the_person_chose(env, troupe_home):
    """TROUPE_MODEL (or a default_model in settings.json) is what runs use: the first run says so."""
    env["GROQ_API_KEY"] = SECRET
    env["TROUPE_MODEL"] = "openai/test-model"
    first = troupe(env, "providers", "list")
    assert "found Groq: a key in GROQ_API_KEY" in first.stderr
    assert "default model: openai/test-model" in first.stderr
