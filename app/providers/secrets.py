"""API keys: the OS keyring first, then the provider's environment variable.

Keys are only ever held in memory and handed to the LLM adapter; every key
that is read is registered with the log redactor so it can never reach a log.
On a machine without a keychain, a key can be kept for this session only
(in this process's memory, gone when it quits): `remember_for_session`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from urllib.parse import urlsplit

from app.logs import register_secret

log = logging.getLogger(__name__)

SERVICE = "troupe"

# litellm provider prefix -> the environment variable people already use.
ENV_VARS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


def provider_of(model: str) -> str:
    """"anthropic/claude-x" -> "anthropic"; bare names are OpenAI's."""
    return model.split("/", 1)[0] if "/" in model else "openai"


_session_keys: dict[str, str] = {}


def get_api_key(model: str) -> str | None:
    """The key for the model's provider, or None (local servers need none)."""
    provider = provider_of(model)
    return get_key(provider, provider)


def get_key(name: str, kind: str | None = None) -> str | None:
    """The key of the provider called `name`: this session's, the keychain's, or
    the environment variable of its kind ("OPENAI_API_KEY" for kind "openai")."""
    key = (_session_keys.get(name) or _from_keyring(name)
           or os.environ.get(ENV_VARS.get(kind or name, ""), "") or None)
    if key:
        register_secret(key)
    return key


_SECRET_NAME_ENDS = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY", "_PASSWORD")


def register_environment_keys() -> None:
    """Register every key in the environment (the providers' variables, any `*_API_KEY`,
    `*_TOKEN`, `*_SECRET`, `*_PASSWORD`..., and the password in a `*_PROXY` URL), used by
    this run or not, so a tool result that shows one is redacted."""
    for name, value in os.environ.items():
        if name in ENV_VARS.values() or name.upper().endswith(_SECRET_NAME_ENDS):
            register_secret(value.strip())
        elif name.upper().endswith("_PROXY"):
            with contextlib.suppress(ValueError):
                register_secret(urlsplit(value.strip()).password or "")


def remember_for_session(name: str, key: str) -> None:
    """Keep a key in memory until the process ends (no keychain to store it in)."""
    _session_keys[name] = key
    register_secret(key)


def forget_for_session(name: str) -> bool:
    return _session_keys.pop(name, None) is not None


def has_session_key(name: str) -> bool:
    return name in _session_keys


def set_api_key(provider: str, key: str) -> None:
    """Store a key in the OS keyring; raises KeyringError when there is none."""
    import keyring  # noqa: PLC0415 - 30 ms to import: not at start-up

    keyring.set_password(SERVICE, provider, key)
    register_secret(key)


def _from_keyring(provider: str) -> str | None:
    import keyring  # noqa: PLC0415 - 30 ms to import: not at start-up
    from keyring.errors import KeyringError, NoKeyringError  # noqa: PLC0415

    try:
        return keyring.get_password(SERVICE, provider)
    except NoKeyringError:
        return None  # headless machine: environment variables still work
    except KeyringError as exc:
        log.warning("could not read the %s key from the keyring: %s", provider, exc)
        return None


def store_secret(name: str, value: str) -> str:
    """Keep `value` in the keychain as `name`; without a keychain, for this session.

    Returns where it went: "keychain" or "session".
    """
    from keyring.errors import KeyringError  # noqa: PLC0415

    try:
        set_api_key(name, value)
    except KeyringError as exc:
        log.warning("no keychain for %s (%s): kept for this session only", name, exc)
        remember_for_session(name, value)
        return "session"
    return "keychain"


def read_secret(name: str) -> str | None:
    """A value stored with store_secret (this session's first), or None."""
    value = _session_keys.get(name) or _from_keyring(name)
    if value:
        register_secret(value)
    return value

