"""A throwaway Troupe for `troupe --self-test` (see ui/self_test.py).

Everything the self-test touches is its own: a temporary data dir (so a fresh
database and no settings), no provider keys (an in-memory keychain, the key
environment variables removed) and only the embedded model. Nothing here
reads or writes the person's data, except that an embedded model file they
already have is linked in rather than assembled again.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from agents.plan.roster import Roster
from app.paths import HOME_ENV
from app.providers.local_models import embedded_model_path
from app.providers.registry import LOCAL, Provider, Providers
from app.providers.secrets import ENV_VARS
from app.roster_store import default_roster
from app.settings import DEFAULT_MODEL, Settings

__all__ = [
    "SELF_TEST_MAX_TOKENS",
    "MemoryKeyring",
    "embedded_only_providers",
    "isolate",
    "self_test_roster",
    "self_test_settings",
]

SELF_TEST_MAX_TOKENS = 200
"""Longest answer per call: enough for a small plan, short enough for ~1-2 minutes on two cores."""


class MemoryKeyring(KeyringBackend):
    """A keychain in this process's memory: the self-test never asks the OS one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._passwords.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


def isolate(home: Path) -> Path | None:
    """Make `home` this process's data dir, with no provider keys anywhere.

    For the self-test's own process only: it changes os.environ and the
    process's keyring backend for good. Returns the embedded model's file (read
    where its package is installed: nothing is copied), None when it is missing.
    """
    os.environ[HOME_ENV] = str(home)
    for variable in (*ENV_VARS.values(), "TROUPE_MODEL"):
        os.environ.pop(variable, None)
    keyring.set_keyring(MemoryKeyring())
    target = embedded_model_path()
    return target if target.is_file() else None


def self_test_settings() -> Settings:
    """Defaults, the embedded model, short answers: never what settings.json says."""
    return Settings(default_model=DEFAULT_MODEL, planner_model=None, api_base=None,
                    max_tokens=SELF_TEST_MAX_TOKENS, fallback_models=())


def embedded_only_providers() -> Providers:
    """Only the embedded model, marked as detected so nothing probes for servers."""
    return Providers((Provider(LOCAL, LOCAL, models=(DEFAULT_MODEL.split("/", 1)[1],)),),
                     detected=True)


def self_test_roster() -> Roster:
    """The shipped roster with every role on the run's model (the embedded one)."""
    return Roster(tuple(replace(role, model=None, fallbacks=()) for role in default_roster()))
