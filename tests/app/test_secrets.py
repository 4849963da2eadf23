"""Secrets never reach the database: run settings refuse them, nothing else copies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.ports import LLMRequest, Message
from app.storage import EventWriter, Store, check_settings
from tests.app.storage_events import emit_all, finished, first_half, sample_plan, second_half

FAKE_KEY = "sk-proj-TESTKEYdoNotStore0123456789abcdef"


@pytest.mark.parametrize(
    "settings",
    [
        {"api_key": "x"},
        {"apiKey": "x"},
        {"OPENAI_API_KEY": "x"},
        {"access_token": "x"},
        {"client_secret": "x"},
        {"password": "x"},
        {"providers": {"openai": {"key": "x"}}},
        {"model": FAKE_KEY},
        {"api_base": "https://example.test/v1?api_key=abc"},
        {"headers": ["Authorization: Bearer abcdefghijklmnopqrstuvwxyz"]},
    ],
)
def test_create_run_refuses_secrets(store: Store, settings: dict) -> None:
    with pytest.raises(ValueError, match="settings"):
        store.create_run("P", "goal", settings)
    assert store.count_runs() == 0


def test_ordinary_settings_are_kept(store: Store) -> None:
    settings = {
        "model": "openai/gpt-4o-mini",
        "planner_model": "anthropic/claude-3-5-haiku",
        "api_base": "http://localhost:11434/v1",
        "max_parallel": 4,
        "max_tokens": 1024,  # "tokens" is a count, not a credential
        "keyring_service": "troupe",
    }
    run_id = store.create_run("P", "goal", settings)
    assert store.get_run(run_id).settings == settings
    assert check_settings(settings) == settings


def _database_bytes(db_file: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))


def test_a_key_is_never_stored_unless_it_was_event_content(
    store: Store, writer: EventWriter, db_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    request = LLMRequest(
        model="openai/gpt-4o-mini", messages=(Message("user", "hi"),), api_key=FAKE_KEY
    )
    assert FAKE_KEY not in repr(request)
    run_id = store.create_run("P", "Write a report", {"model": request.model})
    emit_all(writer, first_half(run_id, sample_plan()) + second_half(run_id))
    writer.flush(5)
    data = _database_bytes(db_file)
    assert b"Emperor penguins" in data  # the run really is in these files
    assert FAKE_KEY.encode() not in data

    # Positive control: the scan does see text that was in an event's content.
    leaked = "user pasted sk-proj-INEVENTCONTENT0123456789 in a task"
    run_2 = store.create_run("P", "Another")
    emit_all(writer, [finished(run_2, "r1", leaked)])
    assert leaked.encode() in _database_bytes(db_file)
