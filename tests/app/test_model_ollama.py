"""A catalog entry pulled through Ollama's own API (a fake Ollama on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.models.catalog import find_entry
from app.models.download import DownloadError, Outcome, Progress
from app.models.ollama import ollama_base, ollama_models, ollama_pull
from tests.support.fake_ollama import LAYER, FakeOllama


@pytest.fixture
def ollama(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    with FakeOllama(models=["llama3.2:1b"], unknown=("nope:1b",)) as server:
        monkeypatch.setenv("TROUPE_OLLAMA_URL", server.url + "/v1")
        yield server


async def test_ollama_s_models_are_listed(ollama: FakeOllama) -> None:
    assert ollama_base() == ollama.url
    models = await ollama_models()
    assert models is not None and [m.model for m in models] == ["ollama/llama3.2:1b"]


async def test_no_ollama_running_is_none() -> None:
    assert await ollama_models() is None  # conftest points TROUPE_OLLAMA_URL at port 9


async def test_a_catalog_entry_is_pulled_with_progress(ollama: FakeOllama) -> None:
    entry = find_entry("qwen3-1.7b")
    seen: list[Progress] = []
    assert await ollama_pull(entry.ollama or "", progress=seen.append) is Outcome.DONE
    assert ollama.pulls == [{"model": "qwen3:1.7b", "stream": True}]
    assert [p.done for p in seen] == [0, LAYER // 4, LAYER // 2, 3 * LAYER // 4, LAYER]
    assert seen[-1].total == LAYER
    assert "qwen3:1.7b" in [m.name for m in await ollama_models() or []]


async def test_ollama_s_error_is_one_line(ollama: FakeOllama) -> None:
    with pytest.raises(DownloadError, match=r"^Ollama could not pull nope:1b: pull model manifest: file does not exist$"):
        await ollama_pull("nope:1b")
