"""Catalog downloads against a fake Hugging Face on 127.0.0.1 (tests/support/fake_hub.py):
full, paused and resumed, resumed after a restart, cancelled, wrong hash, dropped
connections, a full disk, and a proxy."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.llm.local_model import local_models
from app.models.catalog import CatalogEntry, find_entry, load_catalog
from app.models.download import (
    Control,
    DownloadError,
    HashMismatch,
    NotEnoughSpace,
    Outcome,
    Progress,
    part_path,
)
from app.models.installed import catalog_states, install, loose_files, models_dir, remove
from app.providers.local_models import list_local_models
from tests.support.fake_hub import FakeHub
from tests.support.http_proxy import RecordingProxy
from tests.support.mounts import mount_tmpfs, unmount

ENTRY = CatalogEntry(
    id="tiny-instruct", name="Tiny Instruct", repo="test/Tiny-Instruct-GGUF",
    file="Tiny-Instruct-Q4_K_M.gguf", size_bytes=1_000_000, parameters="1M",
    context_length=2048, memory_bytes=2_000_000, licence="Apache-2.0", description="A test model.",
)
DATA = b"GGUF" + os.urandom(1_200_000)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add(ENTRY.repo, ENTRY.file, DATA)
        yield server


def user_models() -> list[str]:
    return [m.name for m in list_local_models() if not m.embedded]


def ranges(hub: FakeHub) -> list[str]:
    return [r.split(" ", 2)[2] for r in hub.requests if r.startswith("GET /cdn/") and r.count(" ") == 2]


def pause_after(control: Control, nbytes: int, seen: list[Progress]):
    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.done >= nbytes:
            control.pause()
    return on_progress


async def test_a_full_download_is_checked_registered_and_usable_at_once(hub: FakeHub) -> None:
    seen: list[Progress] = []
    result = await install(ENTRY, endpoint=hub.url, progress=seen.append)
    assert result.outcome is Outcome.DONE
    target = models_dir() / ENTRY.file
    assert result.path == target and hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(DATA).digest()
    assert not part_path(target).exists()
    assert user_models() == ["tiny-instruct"] and "tiny-instruct" in local_models()
    assert seen[-1].done == seen[-1].total == len(DATA) and seen[-1].fraction == 1.0
    assert "1.2 MB of 1.2 MB" in seen[-1].line()
    assert hub.requests[0] == f"GET /api/models/{ENTRY.repo}/tree/main"  # size and sha256 from the hub
    assert loose_files() == []


async def test_without_the_hub_s_listing_the_file_s_headers_give_the_sha256(hub: FakeHub) -> None:
    hub.faults.no_api = True  # a mirror that serves files but not the API
    result = await install(ENTRY, endpoint=hub.url)
    assert result.outcome is Outcome.DONE and (models_dir() / ENTRY.file).read_bytes() == DATA
    assert f"HEAD /{ENTRY.repo}/resolve/main/{ENTRY.file}" in hub.requests
    hub.faults.wrong_sha = True
    remove(ENTRY.id)
    with pytest.raises(HashMismatch):
        await install(ENTRY, endpoint=hub.url)


async def test_a_file_the_hub_does_not_have_is_one_line(hub: FakeHub) -> None:
    missing = CatalogEntry(**{**ENTRY.__dict__, "file": "gone.gguf"})
    with pytest.raises(DownloadError, match=r"^the hub has no file gone.gguf in test/Tiny-Instruct-GGUF \(HTTP 404\); the catalog entry may be out of date$"):
        await install(missing, endpoint=hub.url)


async def test_pause_keeps_the_part_and_resume_asks_for_the_rest(hub: FakeHub) -> None:
    hub.faults.delay = 0.005
    control, seen = Control(), []
    paused = await install(ENTRY, endpoint=hub.url, control=control,
                           progress=pause_after(control, 300_000, seen))
    assert paused.outcome is Outcome.PAUSED and 300_000 <= paused.done < len(DATA)
    part = part_path(models_dir() / ENTRY.file)
    assert part.stat().st_size == paused.done
    assert user_models() == [] and loose_files() == []  # a .part is not a model
    assert catalog_states((ENTRY,))[0].partial == paused.done
    hub.faults.delay = 0
    done = await install(ENTRY, endpoint=hub.url)
    assert done.outcome is Outcome.DONE and (models_dir() / ENTRY.file).read_bytes() == DATA
    assert ranges(hub)[-1] == f"bytes={paused.done}-"
    assert user_models() == ["tiny-instruct"]


async def test_a_part_left_by_an_earlier_process_is_resumed(hub: FakeHub) -> None:
    models_dir().mkdir(parents=True)
    part_path(models_dir() / ENTRY.file).write_bytes(DATA[:500_000])  # the process died here
    result = await install(ENTRY, endpoint=hub.url)
    assert result.outcome is Outcome.DONE and (models_dir() / ENTRY.file).read_bytes() == DATA
    assert ranges(hub) == ["bytes=500000-"]


async def test_a_server_that_ignores_range_is_read_from_the_start(hub: FakeHub) -> None:
    models_dir().mkdir(parents=True)
    part_path(models_dir() / ENTRY.file).write_bytes(DATA[:500_000])
    hub.faults.ignore_range = True  # answers 200 with the whole file
    result = await install(ENTRY, endpoint=hub.url)
    assert result.outcome is Outcome.DONE and (models_dir() / ENTRY.file).read_bytes() == DATA


async def test_a_cancelled_task_keeps_its_part_like_a_pause(hub: FakeHub) -> None:
    hub.faults.delay = 0.005
    task = asyncio.ensure_future(install(ENTRY, endpoint=hub.url))
    part = part_path(models_dir() / ENTRY.file)
    for _ in range(200):
        await asyncio.sleep(0.02)
        if part.is_file() and part.stat().st_size > 100_000:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert part.is_file() and user_models() == []


async def test_the_same_model_cannot_download_twice_at_once(hub: FakeHub) -> None:
    hub.faults.delay = 0.005
    first = asyncio.ensure_future(install(ENTRY, endpoint=hub.url))
    part = part_path(models_dir() / ENTRY.file)
    for _ in range(200):
        await asyncio.sleep(0.02)
        if part.is_file() and part.stat().st_size > 50_000:
            break
    with pytest.raises(DownloadError, match=r"^Tiny-Instruct-Q4_K_M.gguf is already being downloaded"):
        await install(ENTRY, endpoint=hub.url)
    hub.faults.delay = 0
    assert (await first).outcome is Outcome.DONE
    assert (models_dir() / ENTRY.file).read_bytes() == DATA


async def test_cancel_leaves_no_half_file(hub: FakeHub) -> None:
    hub.faults.delay = 0.005
    control = Control()

    def on_progress(progress: Progress) -> None:
        if progress.done > 200_000:
            control.cancel()

    result = await install(ENTRY, endpoint=hub.url, control=control, progress=on_progress)
    assert result.outcome is Outcome.CANCELLED
    assert list(models_dir().iterdir()) == []
    assert user_models() == [] and catalog_states((ENTRY,))[0].partial == 0


async def test_a_wrong_hash_is_one_clear_line_and_the_file_goes(hub: FakeHub) -> None:
    hub.faults.wrong_sha = True
    with pytest.raises(HashMismatch) as caught:
        await install(ENTRY, endpoint=hub.url)
    message = str(caught.value)
    assert "\n" not in message and "did not match the hub's SHA-256" in message
    assert "the file was removed: download it again" in message
    assert list(models_dir().iterdir()) == [] and user_models() == []


async def test_a_dropped_connection_resumes_where_it_stopped(hub: FakeHub) -> None:
    hub.faults.drop_after, hub.faults.drops = 400_000, 2
    result = await install(ENTRY, endpoint=hub.url, backoff=0)
    assert result.outcome is Outcome.DONE and (models_dir() / ENTRY.file).read_bytes() == DATA
    assert ranges(hub) == ["bytes=400000-", "bytes=800000-"]


async def test_a_server_that_keeps_dropping_fails_in_one_line(hub: FakeHub) -> None:
    hub.faults.drop_after, hub.faults.drops = 0, 100  # headers, then nothing, every time
    with pytest.raises(DownloadError) as caught:
        await install(ENTRY, endpoint=hub.url, retries=3, backoff=0)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("the download of Tiny-Instruct-Q4_K_M.gguf stopped")
    assert message.endswith("run it again to resume")
    assert sum(r.startswith("GET /cdn/") for r in hub.requests) == 3 and user_models() == []


async def test_too_little_free_space_stops_before_the_first_byte(hub: FakeHub) -> None:
    with pytest.raises(NotEnoughSpace) as caught:
        await install(ENTRY, endpoint=hub.url, free_space=lambda _folder: 10_000_000)
    assert str(caught.value).startswith(f"not enough free disk space in {models_dir()}: the model needs 1.2 MB")
    assert not any(r.startswith("GET /cdn/") for r in hub.requests)


async def test_a_disk_that_fills_up_mid_way_says_so(hub: FakeHub) -> None:
    models_dir().mkdir(parents=True)
    if not mount_tmpfs(models_dir(), "600k"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        with pytest.raises(NotEnoughSpace) as caught:
            await install(ENTRY, endpoint=hub.url, free_space=lambda _folder: 1 << 40)
        assert "is full; free some space and download again to resume" in str(caught.value)
        assert user_models() == []
    finally:
        unmount(models_dir())


async def test_the_download_goes_through_the_proxy(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with RecordingProxy() as proxy:
        for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        result = await install(ENTRY, endpoint=hub.url)
    assert result.outcome is Outcome.DONE
    assert f"GET {hub.url}/api/models/{ENTRY.repo}/tree/main" in proxy.seen
    assert any(line.startswith(f"GET {hub.url}/cdn/") for line in proxy.seen)


async def test_remove_deletes_the_downloaded_file_and_a_paused_part(hub: FakeHub) -> None:
    await install(ENTRY, endpoint=hub.url)
    target = models_dir() / ENTRY.file
    assert remove("tiny-instruct") == [target]
    assert not target.exists() and user_models() == []


def test_the_catalog_has_the_promised_models_and_no_hashes() -> None:
    catalog = load_catalog()
    ids = {e.id for e in catalog}
    assert {"qwen2.5-0.5b-instruct", "qwen2.5-7b-instruct", "qwen3-0.6b", "qwen3-8b",
            "llama-3.2-1b-instruct", "llama-3.2-3b-instruct", "gemma-3-1b-it", "gemma-3-4b-it",
            "phi-4-mini-instruct", "smollm2-1.7b-instruct"} <= ids
    for entry in catalog:
        assert entry.file.endswith(".gguf") and entry.memory_bytes > entry.size_bytes > 0
        assert entry.licence and entry.description
    text = (Path(__file__).parents[2] / "resources" / "model_catalog.json").read_text()
    assert not re.search(r"[0-9a-f]{40}", text) and '"sha' not in text  # no hash nobody checked
    assert find_entry("qwen3:1.7b").id == "qwen3-1.7b"


async def test_a_downloaded_model_answers_at_once(embedded_gguf: Path) -> None:
    """The real SmolLM2-135M GGUF, served as a catalog entry: download, then one call."""
    from agents.llm.client import LiteLLMClient  # noqa: PLC0415 - litellm: only here
    from agents.llm.local_model import close_local_models  # noqa: PLC0415
    from agents.ports import LLMRequest, Message  # noqa: PLC0415

    entry = CatalogEntry(**{**ENTRY.__dict__, "id": "smol-download", "file": "smol.gguf"})
    with FakeHub() as real_hub:
        real_hub.add(entry.repo, entry.file, await asyncio.to_thread(embedded_gguf.read_bytes))
        assert (await install(entry, endpoint=real_hub.url)).outcome is Outcome.DONE
    request = LLMRequest("local/smol-download", (Message("user", "Name a colour."),),
                         max_tokens=4, temperature=0.0)
    try:
        async with LiteLLMClient() as llm:
            response = await llm.complete(request)
    finally:
        close_local_models()
    assert response.text.strip() and response.usage.completion_tokens <= 4
