"""Providers: references resolved to endpoints, providers.json, first-run
detection and Test connection, against the local scripted server."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import pytest

from agents.llm.client import LiteLLMClient
from app.providers import secrets
from app.providers.checks import check_connection, detect, first_run, list_models
from app.providers.registry import (
    EMBEDDED_MODEL,
    Provider,
    ProviderError,
    Providers,
    load_providers,
    resolve,
    save_providers,
)
from app.settings import Settings
from tests.support.scripted_server import Reply, ScriptedServer

KEY = "sk-test-providers-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean(no_key_variables, memory_keyring):
    yield
    secrets._session_keys.clear()


@pytest.fixture
async def llm():
    client = LiteLLMClient()
    yield client
    await client.aclose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- resolving ------------------------------------------------------------------------


def test_a_built_in_cloud_provider_needs_no_entry(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    endpoint = resolve("anthropic/claude-3-5-haiku-latest", Providers())
    assert (endpoint.model, endpoint.api_base, endpoint.api_key) == (
        "anthropic/claude-3-5-haiku-latest", None, KEY)


def test_local_servers_resolve_to_their_openai_wire_endpoint():
    providers = Providers((Provider("ollama", "ollama", models=("llama3.2",)),
                           Provider("work", "openai_compatible", api_base="http://127.0.0.1:8000/v1")))
    ollama = resolve("ollama/llama3.2", providers)
    assert (ollama.model, ollama.api_base) == ("openai/llama3.2", "http://127.0.0.1:11434/v1")
    assert ollama.api_key == "not-needed"  # Ollama ignores it; the wire format wants one
    work = resolve("work/qwen2.5", providers)
    assert (work.model, work.api_base) == ("openai/qwen2.5", "http://127.0.0.1:8000/v1")


def test_a_named_provider_uses_its_own_keychain_entry(memory_keyring):
    secrets.set_api_key("work", KEY)
    providers = Providers((Provider("work", "openai_compatible", api_base="https://llm.example/v1"),))
    assert resolve("work/gpt-4o", providers).api_key == KEY
    assert resolve("openai/gpt-4o", providers).api_key is None  # not the same provider


def test_the_run_level_base_url_yields_only_to_an_entrys_own():
    providers = Providers((Provider("openai", "openai"),
                           Provider("lmstudio", "lmstudio", api_base="http://127.0.0.1:4321/v1")))
    override = "http://127.0.0.1:9/v1"
    assert resolve("openai/m", providers, api_base=override).api_base == override
    assert resolve("anthropic/m", providers, api_base=override).api_base == override
    assert resolve("lmstudio/m", providers, api_base=override).api_base == "http://127.0.0.1:4321/v1"
    assert resolve("lmstudio/m", providers).api_base == "http://127.0.0.1:4321/v1"


def test_a_bare_model_name_is_openais_and_unknown_prefixes_pass_through():
    assert resolve("gpt-4o-mini", Providers()).model == "openai/gpt-4o-mini"
    assert resolve("bedrock/anthropic.claude-v2", Providers()).model == "bedrock/anthropic.claude-v2"
    assert resolve(EMBEDDED_MODEL, Providers()).model == "local/smollm2-135m"


@pytest.mark.parametrize(("entry", "problem"), [
    (Provider("my/server", "openai_compatible", api_base="http://x/v1"), "without '/'"),
    (Provider("x", "nosuch"), "unknown kind 'nosuch'"),
    (Provider("x", "openai_compatible"), "needs a base URL"),
    (Provider("x", "ollama", api_base="127.0.0.1:11434"), "must start with http"),
])
def test_a_bad_entry_is_refused_with_the_reason(entry, problem):
    with pytest.raises(ProviderError, match=problem):
        Providers().with_entry(entry)


def test_providers_json_round_trips_and_never_holds_a_key(troupe_home, memory_keyring):
    secrets.set_api_key("work", KEY)
    providers = Providers().with_entry(Provider("work", "openai_compatible",
                                                api_base="http://127.0.0.1:8000/v1", models=("a", "b")))
    save_providers(providers)
    text = (troupe_home / "providers.json").read_text()
    assert KEY not in text
    assert load_providers() == providers
    assert load_providers().without("work").entries == ()
    with pytest.raises(ProviderError, match="no provider named 'nope'"):
        providers.without("nope")


def test_a_broken_providers_file_loses_only_the_broken_entry(troupe_home):
    (troupe_home / "providers.json").write_text(json.dumps({"providers": [
        {"name": "ok", "kind": "ollama"}, {"name": "bad", "kind": "martian"}]}))
    assert load_providers().names() == ["ok"]


# --- detection -------------------------------------------------------------------------


def test_detection_finds_local_servers_and_environment_keys(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", KEY)
    with ScriptedServer(models=("llama3.2:latest", "qwen2.5:7b")) as ollama:
        found = detect(ollama_base=ollama.base_url, lmstudio_base=f"http://127.0.0.1:{free_port()}/v1")
    kinds = [p.kind for p in found.providers]
    assert kinds == ["ollama", "groq", "local"]
    assert found.providers[0].models == ("llama3.2:latest", "qwen2.5:7b")
    assert found.default_model == "ollama/llama3.2:latest"  # on this machine first
    assert any("Ollama" in n and "2 model" in n for n in found.notes)
    assert any("GROQ_API_KEY" in n for n in found.notes)


def test_with_nothing_found_the_embedded_model_is_the_default():
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    found = detect(ollama_base=nowhere, lmstudio_base=nowhere)
    assert [p.kind for p in found.providers] == ["local"]
    assert found.default_model == EMBEDDED_MODEL


def test_first_run_happens_once_and_keeps_a_chosen_default(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    providers, settings, found = first_run(Providers(), Settings(), explicit_default=False,
                                           ollama_base=nowhere, lmstudio_base=nowhere)
    assert found is not None and settings.default_model == "openai/gpt-4o-mini"
    assert providers.detected and providers.names() == ["openai", "local"]
    again = first_run(providers, settings, explicit_default=False, ollama_base=nowhere,
                      lmstudio_base=nowhere)
    assert again[2] is None  # never twice
    chosen = Settings(default_model="anthropic/claude-x")
    _, kept, _ = first_run(Providers(), chosen, explicit_default=True, ollama_base=nowhere,
                           lmstudio_base=nowhere)
    assert kept.default_model == "anthropic/claude-x"


def test_listing_models_of_an_unreachable_server_raises_oserror():
    with pytest.raises(OSError):
        list_models(f"http://127.0.0.1:{free_port()}/v1")


# --- Test connection ----------------------------------------------------------------------


def server_provider(server, name="work") -> Providers:
    return Providers((Provider(name, "openai_compatible", api_base=server.base_url),))


async def test_a_working_connection_reports_its_latency(llm, llm_server):
    llm_server.default = Reply("OK", latency=0.05)
    report = await check_connection("work/test-model", server_provider(llm_server), llm)
    assert report.ok and report.reason == "ok"
    assert report.latency_ms >= 50 and "answered in" in report.message
    [request] = llm_server.chat_requests
    assert request.body["max_tokens"] == 5  # tiny: a test costs next to nothing


@pytest.mark.parametrize(("reply", "reason", "words"), [
    (Reply.unauthorized(), "bad_key", "rejected the API key"),
    (Reply.model_not_found("test-model"), "model_not_found", "has no model 'test-model'"),
    (Reply.rate_limited(retry_after=1), "rate_limited", "rate limiting"),
])
async def test_a_failed_connection_says_why(llm, llm_server, reply, reason, words):
    llm_server.default = reply
    report = await check_connection("work/test-model", server_provider(llm_server), llm)
    assert not report.ok and report.reason == reason and words in report.message


async def test_an_unreachable_provider_says_so(llm):
    providers = Providers((Provider("work", "openai_compatible", api_base=f"http://127.0.0.1:{free_port()}/v1"),))
    report = await check_connection("work/m", providers, llm, call_timeout=5)
    assert report.reason == "unreachable"
    assert report.message.startswith("OpenAI-compatible server: cannot reach http://127.0.0.1:")


async def test_a_cloud_provider_without_a_key_is_not_called(llm, llm_server):
    report = await check_connection("mistral/mistral-small-latest", Providers(), llm)
    assert report.reason == "no_key" and "MISTRAL_API_KEY" in report.message
    assert "troupe keys set mistral" in report.message


def test_a_session_key_wins_and_is_forgotten_with_the_process(fail_keyring):
    secrets.remember_for_session("openai", KEY)
    assert resolve("openai/gpt-4o", Providers()).api_key == KEY
    assert secrets.forget_for_session("openai")
    assert resolve("openai/gpt-4o", Providers()).api_key is None


def test_replace_keeps_the_position_of_an_edited_entry():
    providers = Providers((Provider("a", "ollama"), Provider("b", "lmstudio")))
    edited = providers.with_entry(replace(providers.entries[0], models=("m",)))
    assert edited.names() == ["a", "b"] and edited.get("a").models == ("m",)


# --- proxies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("direct", [True, False], ids=["direct-http", "litellm"])
async def test_calls_go_through_the_proxy_in_the_environment(llm_server, monkeypatch, direct):
    from tests.support.http_proxy import RecordingProxy

    llm_server.default = Reply("via the proxy")
    with RecordingProxy() as proxy:
        for var in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        client = LiteLLMClient(direct=direct)
        try:
            report = await check_connection("work/test-model", server_provider(llm_server), client)
        finally:
            await client.aclose()
    assert report.ok, report.message
    assert any(line.endswith("/v1/chat/completions") and llm_server.base_url in line for line in proxy.seen)
