"""Where each provider's API key comes from, and removing one from the keychain.

Complements app/providers/secrets.py (which reads and stores keys) for the Settings
dialog: it answers "is there a key, and where?" without ever returning the
key itself, and tells whether this machine has a usable keychain at all.
"""

from __future__ import annotations

import logging
import os

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from app.providers.secrets import ENV_VARS, SERVICE, has_session_key

log = logging.getLogger(__name__)

KEYCHAIN = "keychain"
"""key_status(): the key is stored in the OS keychain (it wins over the environment)."""
ENVIRONMENT = "environment"
"""key_status(): no stored key, but the provider's environment variable is set."""
SESSION = "session"
"""key_status(): kept in memory for this session only (no keychain on this machine)."""
NONE = "none"
"""key_status(): no key anywhere."""

PROVIDERS: tuple[str, ...] = tuple(ENV_VARS)
"""Providers whose keys Troupe manages, in display order."""

_PROBE = "__troupe_keychain_probe__"


def env_var(provider: str) -> str:
    """The environment variable read for a provider ("OPENAI_API_KEY")."""
    return ENV_VARS.get(provider, f"{provider.upper()}_API_KEY")


def keychain_problem() -> str | None:
    """None when the keychain can be used, else why not (one plain sentence)."""
    try:
        keyring.get_password(SERVICE, _PROBE)
    except NoKeyringError:
        return "No system keychain is available on this machine."
    except KeyringError as exc:
        return f"The system keychain could not be opened: {exc}"
    return None


def key_status(provider: str, kind: str | None = None) -> str:
    """SESSION, KEYCHAIN, ENVIRONMENT or NONE: where the provider's key would come from.

    `provider` is the provider's name; `kind` (default: the name) picks the
    environment variable.
    """
    if has_session_key(provider):
        return SESSION
    if _in_keychain(provider):
        return KEYCHAIN
    if os.environ.get(env_var(kind or provider), "").strip():
        return ENVIRONMENT
    return NONE


def delete_api_key(provider: str) -> bool:
    """Remove the provider's key from the keychain; False if none was stored.

    Raises KeyringError (NoKeyringError without a keychain) when it cannot.
    The environment variable, if any, is not touched.
    """
    try:
        keyring.delete_password(SERVICE, provider)
    except PasswordDeleteError:
        return False
    return True


def _in_keychain(provider: str) -> bool:
    try:
        return bool(keyring.get_password(SERVICE, provider))
    except NoKeyringError:
        return False
    except KeyringError as exc:
        log.warning("could not read the %s key from the keyring: %s", provider, exc)
        return False
