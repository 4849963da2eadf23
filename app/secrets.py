"""API keys: the OS keyring first, then the provider's environment variable.

Keys are only ever held in memory and handed to the LLM adapter; every key
that is read is registered with the log redactor so it can never reach a log.
"""

from __future__ import annotations

import logging
import os

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


def get_api_key(model: str) -> str | None:
    """The key for the model's provider, or None (local servers need none)."""
    provider = provider_of(model)
    key = _from_keyring(provider) or os.environ.get(ENV_VARS.get(provider, ""), "") or None
    if key:
        register_secret(key)
    return key


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
