"""litellm itself: importing it lazily (`warm_up`), and what it knows about providers
and models (parameter mapping, chat configs, prices, JSON-schema support), cached.

The adapter (client.py) asks here; nothing outside agents.llm imports litellm.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import re
import threading
from typing import Any

from agents.ports import Usage

__all__ = ["warm_up"]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Providers whose litellm config speaks OpenAI's chat-completions format over SSE.
_OPENAI_WIRE = frozenset(
    {
        "openai", "custom_openai", "openai_like", "hosted_vllm", "lm_studio", "llamafile",
        "openrouter", "deepseek", "groq", "together_ai", "fireworks_ai", "xai", "mistral",
        "litellm_proxy", "deepinfra", "cerebras", "nvidia_nim", "perplexity",
    }
)  # fmt: skip
_OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"

# --- importing litellm lazily -----------------------------------------------------

_litellm: Any = None
_import_lock = threading.Lock()


def _load_litellm() -> Any:
    """Import and configure litellm once (thread-safe; blocking)."""
    global _litellm
    if _litellm is None:
        with _import_lock:
            if _litellm is None:
                import litellm

                litellm.suppress_debug_info = True  # no "Provider List: ..." prints
                litellm.drop_params = True
                litellm.num_retries = 0
                # what the first direct call would otherwise import on the loop
                import litellm.llms.litellm_proxy.chat.transformation  # noqa: F401
                from litellm.utils import get_optional_params  # noqa: F401

                from agents.llm.local_model import register_local_models

                register_local_models(litellm)  # `local/<name>`: GGUF files run in process

                # litellm leaves ~300k objects that live as long as the process; every
                # full garbage collection walked them all, a 0.3 s stall of the window
                # in the middle of a run. Frozen, the collector skips them.
                gc.freeze()
                _litellm = litellm
    return _litellm


async def warm_up() -> None:
    """Import litellm in a worker thread so the first call does not stall the loop."""
    if _litellm is None:
        await asyncio.to_thread(_load_litellm)


async def _litellm_module() -> Any:
    if _litellm is None:
        await warm_up()
    return _litellm


# --- litellm knowledge, cached ------------------------------------------------------


def _openai_default_base() -> str:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE"):
        if os.environ.get(name):
            return os.environ[name]
    return _OPENAI_DEFAULT_BASE




@functools.lru_cache(maxsize=512)
def _mapped_params(
    model: str,
    provider: str,
    temperature: float | None,
    max_tokens: int | None,
    response_format: str | None,
    stream: bool,
    tools: str | None = None,
    tool_choice: str | None = None,
) -> str:
    """get_optional_params is a pure function of these (and takes ~0.3 ms): cache it,
    as JSON so every caller gets its own copy."""
    from litellm.utils import get_optional_params

    optional = get_optional_params(
        model=model,
        custom_llm_provider=provider,
        temperature=temperature,
        max_tokens=max_tokens,
        response_format=json.loads(response_format) if response_format else None,
        stream=stream,
        stream_options={"include_usage": True} if stream else None,
        tools=json.loads(tools) if tools else None,
        tool_choice=tool_choice,
        drop_params=True,
    )
    return json.dumps(optional)


@functools.lru_cache(maxsize=256)
def _chat_config(model: str, provider: str) -> Any:
    return _litellm.utils.ProviderConfigManager.get_provider_chat_config(
        model=model, provider=_litellm.LlmProviders(provider)
    )


@functools.lru_cache(maxsize=256)
def _speaks_openai(model: str, provider: str) -> bool:
    """True when the direct route may serve this model."""
    from litellm.llms.openai.chat.gpt_transformation import OpenAIGPTConfig

    if provider not in _OPENAI_WIRE:
        return False
    mode = (_model_entry(model, provider) or {}).get("mode")
    if mode not in (None, "chat"):
        return False  # e.g. models litellm bridges to the Responses API
    config = _chat_config(model, provider)
    return isinstance(config, OpenAIGPTConfig) and not config.has_custom_stream_wrapper


def _model_entry(model: str, provider: str) -> dict[str, Any] | None:
    """The model's entry in litellm's cost map, if it has one."""
    cost_map = _litellm.model_cost
    entry = cost_map.get(f"{provider}/{model}")
    if entry is None:
        entry = cost_map.get(model)
        if entry is not None and entry.get("litellm_provider") not in (provider, None):
            entry = None
    return entry


def model_entry(model: str, provider: str) -> dict[str, Any] | None:
    """The model's entry in litellm's cost map (importing litellm if need be)."""
    _load_litellm()
    return _model_entry(model, provider)


@functools.lru_cache(maxsize=256)
def _priced(model: str, provider: str) -> bool:
    entry = _model_entry(model, provider) or {}
    return (
        entry.get("input_cost_per_token") is not None
        or entry.get("output_cost_per_token") is not None
    )


def _price(model: str, provider: str, usage: Usage) -> tuple[float, bool]:
    """Cost in USD from litellm's cost map, and whether the price is known."""
    if not _priced(model, provider):
        return 0.0, False
    try:
        prompt, completion = _litellm.cost_per_token(
            model=model,
            custom_llm_provider=provider,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
    except Exception:  # a model the map only half knows: never fail a call over cost
        return 0.0, False
    return float(prompt) + float(completion), True


@functools.lru_cache(maxsize=256)
def _schema_support(model: str, provider: str) -> str:
    """How this model can be asked for JSON: "schema", "json" (object) or "none"."""
    if _model_entry(model, provider) is None:
        return "schema"  # unknown to litellm: send the standard form, the server decides
    try:
        if _litellm.supports_response_schema(model=model, custom_llm_provider=provider):
            return "schema"
        supported = _litellm.get_supported_openai_params(model=model, custom_llm_provider=provider)
    except Exception:
        return "schema"
    return "json" if supported and "response_format" in supported else "none"


def _response_format(schema: dict[str, Any], model: str, provider: str) -> dict[str, Any] | None:
    support = _schema_support(model, provider)
    if support == "none":
        return None
    if support == "json":
        return {"type": "json_object"}
    title = str(schema.get("title") or "plan")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", title)[:64] or "plan"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}

