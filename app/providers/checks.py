"""What this machine offers (first-run detection) and "Test connection".

Detection looks for provider keys in the environment and the keychain, and
for Ollama and LM Studio on their usual loopback ports (listing their
models). It runs once, on first start; the result is saved in providers.json
and the best model found becomes the default (the embedded model if nothing
else is there).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from agents.errors import AuthError, LLMError, ModelNotFound, ProviderUnreachable, RateLimited
from agents.ports import LLMClient, LLMRequest, Message
from app.providers import keys, secrets
from app.providers.registry import (
    CLOUD_KINDS,
    KINDS,
    LM_STUDIO_BASE,
    LOCAL,
    OLLAMA_BASE,
    Provider,
    Providers,
    load_providers,
    resolve,
    save_providers,
    split_ref,
)
from app.settings import DEFAULT_MODEL, Settings, load_settings, save_settings, settings_path

_LOOKUP_TIMEOUT = 0.8  # seconds: loopback answers at once or not at all


def list_models(base: str, key: str | None = None, timeout: float = _LOOKUP_TIMEOUT) -> list[str]:
    """The ids of an OpenAI-compatible server's models (GET {base}/models).

    Raises OSError (URLError) when the server cannot be reached, ValueError
    when it answers with something that is not a model list.
    """
    request = urllib.request.Request(base.rstrip("/") + "/models")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    # no proxy for a loopback lookup: a corporate proxy cannot reach this machine
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if _loopback(base) \
        else urllib.request.build_opener()
    with opener.open(request, timeout=timeout) as response:
        data: Any = json.loads(response.read().decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{base}/models did not return a model list")
    return [str(m["id"]) for m in data["data"] if isinstance(m, dict) and m.get("id")]


def _loopback(base: str) -> bool:
    return base.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))


# --- first-run detection -------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """What detection found and chose."""

    providers: tuple[Provider, ...]
    default_model: str
    notes: tuple[str, ...]
    """One line per finding, for the person ("Ollama at ...: 3 models")."""


def detect(ollama_base: str = OLLAMA_BASE, lmstudio_base: str = LM_STUDIO_BASE) -> Detection:
    found: list[Provider] = []
    notes: list[str] = []
    for kind, base in (("ollama", ollama_base), ("lmstudio", lmstudio_base)):
        try:
            models = list_models(base)
        except (OSError, ValueError):
            continue
        api_base = None if base == KINDS[kind].default_base else base
        found.append(Provider(kind, kind, api_base=api_base, models=tuple(models)))
        notes.append(f"{KINDS[kind].label} at {base}: {len(models)} model(s)")
    for kind in CLOUD_KINDS:
        status = keys.key_status(kind)
        if status in (keys.ENVIRONMENT, keys.KEYCHAIN):
            found.append(Provider(kind, kind))
            where = keys.env_var(kind) if status == keys.ENVIRONMENT else "the keychain"
            notes.append(f"{KINDS[kind].label}: a key in {where}")
    found.append(Provider(LOCAL, LOCAL, models=(DEFAULT_MODEL.split("/", 1)[1],)))
    return Detection(tuple(found), _best_default(found), tuple(notes))


def _best_default(found: Sequence[Provider]) -> str:
    """A model on this machine first (free, private), then a cloud one, else the embedded model."""
    for provider in found:
        if provider.kind in ("ollama", "lmstudio") and provider.models:
            return f"{provider.name}/{provider.models[0]}"
    for provider in found:
        if provider.kind in CLOUD_KINDS:
            return f"{provider.name}/{provider.info.suggested[0]}"
    return DEFAULT_MODEL


def first_run(providers: Providers, settings: Settings, *, explicit_default: bool,
              ollama_base: str = OLLAMA_BASE, lmstudio_base: str = LM_STUDIO_BASE,
              ) -> tuple[Providers, Settings, Detection | None]:
    """Detect once: add what was found (keeping configured entries) and, if the
    person never chose a default model, make the best one found the default."""
    if providers.detected:
        return providers, settings, None
    found = detect(ollama_base, lmstudio_base)
    merged = providers
    for provider in found.providers:
        if merged.get(provider.name) is None:
            merged = merged.with_entry(provider)
    merged = replace(merged, detected=True)
    if not explicit_default:
        settings = replace(settings, default_model=found.default_model)
    return merged, settings, found


def run_first_time_setup() -> Detection | None:
    """first_run() on the user's files: reads and saves providers.json and settings.json."""
    providers = load_providers()
    if providers.detected:
        return None
    settings = load_settings()
    explicit = _default_model_was_chosen()
    providers, settings, found = first_run(
        providers, settings, explicit_default=explicit,
        # for servers on other ports (and tests, which must not find this machine's)
        ollama_base=os.environ.get("TROUPE_OLLAMA_URL", OLLAMA_BASE),
        lmstudio_base=os.environ.get("TROUPE_LMSTUDIO_URL", LM_STUDIO_BASE))
    save_providers(providers)
    if found is not None and not explicit:
        save_settings(settings)
    return found


def _default_model_was_chosen() -> bool:
    try:
        return "default_model" in json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


# --- Test connection --------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    reason: str
    """"ok", "no_key", "bad_key", "unreachable", "model_not_found", "rate_limited" or "error"."""
    message: str
    latency_ms: float = 0.0


async def check_connection(ref: str, providers: Providers, llm: LLMClient,
                           call_timeout: float = 30.0) -> ConnectionReport:
    """One tiny real call to the model `ref` names; what happened, in words."""
    provider = providers.provider_for(ref)
    label = provider.info.label if provider else split_ref(ref)[0]
    endpoint = resolve(ref, providers)
    if provider is not None and provider.info.needs_key and not endpoint.api_key:
        return ConnectionReport(False, "no_key", f"No API key for {label}. Add one in Settings > "
                                f"Providers, or `troupe keys set {provider.name}`, or set "
                                f"{keys.env_var(provider.kind)}.")
    request = LLMRequest(model=endpoint.model, messages=(Message("user", "Reply with the word OK."),),
                         max_tokens=5, api_base=endpoint.api_base, api_key=endpoint.api_key,
                         timeout=call_timeout)
    try:
        response = await llm.complete(request)
    except LLMError as exc:
        return _failure(exc, ref, label, provider)
    # the client's own measure: the request alone (the first call also imports litellm, seconds)
    latency = response.latency_ms
    return ConnectionReport(True, "ok", f"{ref} answered in {latency:.0f} ms.", latency)


def _failure(exc: LLMError, ref: str, label: str, provider: Provider | None) -> ConnectionReport:
    name = provider.name if provider else label
    match exc:
        case AuthError():
            return ConnectionReport(False, "bad_key", f"{label} rejected the API key: {_sentence(exc)} "
                                    f"Check it in Settings > Providers or `troupe keys set {name}`.")
        case ProviderUnreachable():  # its message already says what to check
            return ConnectionReport(False, "unreachable", f"{label}: {_sentence(exc)}")
        case ModelNotFound():
            return ConnectionReport(False, "model_not_found", f"{label} has no model "
                                    f"{split_ref(ref)[1]!r}: {_sentence(exc)} Pick one it serves.")
        case RateLimited():
            return ConnectionReport(False, "rate_limited", f"{label} is rate limiting this key: "
                                    f"{_sentence(exc)} Wait a minute, or check the account's limits.")
    return ConnectionReport(False, "error", f"{label}: {_sentence(exc)}")


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def refresh_models(provider: Provider) -> Provider:
    """The provider with its model list re-read from the server (OpenAI-wire kinds only)."""
    if provider.info.prefix != "openai" or not provider.base:
        return provider
    key = secrets.get_key(provider.name, provider.kind) if provider.info.needs_key else None
    return replace(provider, models=tuple(list_models(provider.base, key, timeout=5.0)))


def keys_problem_hint() -> str | None:
    """Why keys cannot be stored here, with what to do instead; None when they can."""
    problem = keys.keychain_problem()
    if problem is None:
        return None
    return (f"{problem} Keys can be kept for this session only (until Troupe quits), "
            "or set in the provider's environment variable (e.g. OPENAI_API_KEY).")


def provider_url_error(exc: BaseException) -> str:
    """An OSError from list_models, in words."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc)
