"""The self-test's throwaway environment: its own data dir, no keys, the embedded model only."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest

from app.paths import db_path
from app.providers.local_models import embedded_model_path
from app.providers.registry import resolve
from app.self_test_env import (
    MemoryKeyring,
    embedded_only_providers,
    isolate,
    self_test_roster,
    self_test_settings,
)
from app.settings import DEFAULT_MODEL
from tests.support.keyrings import use_keyring


@pytest.fixture
def restored_keyring(memory_keyring):  # type: ignore[no-untyped-def]
    """isolate() swaps the process's keyring: put the test's back afterwards."""
    with use_keyring(memory_keyring):
        yield memory_keyring


def test_isolate_moves_the_data_dir_and_drops_every_key(troupe_home: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         restored_keyring: MemoryKeyring):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-person-real-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-person")
    monkeypatch.setenv("TROUPE_MODEL", "openai/gpt-4o")
    restored_keyring.set_password("troupe", "openai", "sk-in-the-keychain")
    fresh = tmp_path / "fresh"
    fresh.mkdir()

    # the embedded model is read where its package is installed: nothing is copied
    assert isolate(fresh) == embedded_model_path() and embedded_model_path().is_file()

    assert db_path() == fresh / "troupe.db"
    assert "OPENAI_API_KEY" not in os.environ and "ANTHROPIC_API_KEY" not in os.environ
    assert "TROUPE_MODEL" not in os.environ
    backend = keyring.get_keyring()
    assert isinstance(backend, MemoryKeyring) and backend is not restored_keyring
    assert keyring.get_password("troupe", "openai") is None
    assert not (fresh / "models").exists()
    assert not list(troupe_home.iterdir())  # the person's data dir: not even a folder made


def test_only_the_embedded_model_is_configured(troupe_home: Path):
    (troupe_home / "settings.json").write_text('{"default_model": "openai/gpt-4o", '
                                               '"fallback_models": ["anthropic/x"]}')
    settings = self_test_settings()
    assert settings.default_model == DEFAULT_MODEL == "local/smollm2-135m"
    assert settings.planner_model is None and settings.fallback_models == ()
    assert 0 < settings.max_tokens <= 400
    providers = embedded_only_providers()
    assert providers.detected and providers.names() == ["local"]
    assert resolve(DEFAULT_MODEL, providers).model == "local/smollm2-135m"
    assert all(role.model is None and not role.fallbacks for role in self_test_roster())
