"""A provider's rate limits in providers.json (issue 15): defaults per kind, the person's
own round-tripping through the file, an unreadable entry falling back to the defaults, and
what reaches the agents (Endpoint.provider / limits, typed)."""

from __future__ import annotations

import json
import logging

import pytest

from agents.ports import Limits
from app.providers.registry import (
    CLOUD_KINDS,
    KINDS,
    Provider,
    Providers,
    load_providers,
    providers_path,
    resolve,
    save_providers,
)


def test_every_kind_has_a_concurrency_default_and_cloud_kinds_a_requests_per_minute_one():
    assert all(kind.limits.concurrent for kind in KINDS.values())
    assert all(KINDS[k].limits.rpm for k in CLOUD_KINDS)
    assert not KINDS["ollama"].limits.rpm and not KINDS["openai_compatible"].limits.rpm


def test_the_persons_limits_round_trip_through_providers_json(troupe_home):
    mine = Provider("work", "openai_compatible", api_base="http://127.0.0.1:8000/v1",
                    limits=Limits(concurrent=3, tpm=40_000))
    save_providers(Providers((mine, Provider("ollama", "ollama"))))
    stored = json.loads(providers_path().read_text())["providers"]
    assert stored[0]["limits"] == {"concurrent": 3, "rpm": None, "tpm": 40_000}
    assert "limits" not in stored[1]  # the kind's defaults are not written down
    loaded = load_providers()
    assert loaded.get("work") == mine
    assert loaded.get("ollama").limits is None
    assert loaded.get("ollama").effective_limits == KINDS["ollama"].limits


@pytest.mark.parametrize("bad", [{"concurrent": -2}, {"rpm": "fast"}, ["4"]])
def test_unreadable_limits_fall_back_to_the_defaults_and_keep_the_provider(troupe_home, caplog, bad):
    providers_path().write_text(json.dumps({"providers": [
        {"name": "work", "kind": "openai_compatible", "api_base": "http://127.0.0.1:8000/v1", "limits": bad}]}))
    with caplog.at_level(logging.WARNING):
        work = load_providers().get("work")
    assert work is not None and work.limits is None
    assert "ignoring its limits" in caplog.text


def test_zero_in_the_file_means_no_limit(troupe_home):
    providers_path().write_text(json.dumps({"providers": [
        {"name": "work", "kind": "openai_compatible", "api_base": "http://127.0.0.1:8000/v1",
         "limits": {"concurrent": 0, "rpm": 0, "tpm": None}}]}))
    assert load_providers().get("work").limits == Limits()


def test_resolve_hands_the_agents_the_providers_name_and_limits(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789")
    providers = Providers((Provider("work", "openai_compatible", api_base="http://127.0.0.1:8000/v1",
                                    limits=Limits(concurrent=2)),))
    work = resolve("work/qwen", providers)
    assert (work.provider, work.limits) == ("work", Limits(concurrent=2))
    cloud = resolve("anthropic/claude-3-5-haiku-latest", providers)
    assert (cloud.provider, cloud.limits) == ("anthropic", KINDS["anthropic"].limits)
    other = resolve("bedrock/some-model", providers)  # a litellm provider Troupe does not manage
    assert (other.provider, other.limits) == ("bedrock", None)


def test_limits_must_be_whole_numbers_of_at_least_one():
    with pytest.raises(ValueError, match="concurrent must be a whole number of at least 1, not 0"):
        Limits(concurrent=0)
    assert Limits(concurrent=4, rpm=50).describe() == "4 at once, 50 requests/min"
    assert Limits().describe() == "no limits"


def test_a_runs_api_base_elsewhere_gets_no_preset_limits():
    # the kind's limits are its own endpoint's; a server a run points at is learned from its 429s
    providers = Providers((Provider("mine", "openai", limits=Limits(concurrent=3)),))
    elsewhere = resolve("openai/test-model", Providers(), api_base="http://127.0.0.1:8000/v1")
    assert (elsewhere.api_base, elsewhere.provider, elsewhere.limits) == ("http://127.0.0.1:8000/v1", "openai", Limits())
    assert resolve("openai/gpt-4o", Providers()).limits == KINDS["openai"].limits
    assert resolve("mine/gpt-4o", providers, api_base="http://127.0.0.1:8000/v1").limits == Limits(concurrent=3)
    entry = Provider("ollama", "ollama", api_base="http://127.0.0.1:11435/v1")
    ollama = resolve("ollama/llama3.2", Providers((entry,)), api_base="http://x/v1")
    assert ollama.limits == KINDS["ollama"].limits  # its own base URL wins over the run's
