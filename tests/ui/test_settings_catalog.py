"""Settings › Models › Model catalog… with real widgets, against a fake hub and a fake
Ollama on 127.0.0.1: download, pause and resume, cancel, a wrong hash, Use as default,
Ollama's pull, and closing Settings pausing a download. Screenshots with
TROUPE_SCREENSHOTS=<folder>."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import app.models.download as download_module
from agents.llm.local_model import local_models
from agents.plan.roster import load_roster
from app.models.catalog import find_entry
from app.models.download import part_path
from app.models.installed import models_dir
from app.providers.local_models import list_local_models
from app.providers.registry import Provider, Providers
from app.settings import Settings
from tests.support.fake_hub import FakeHub
from tests.support.fake_ollama import FakeOllama
from tests.support.settings_ui import click, click_ok, qasync_loop, wait_for
from ui.settings import SettingsDialog
from ui.settings.catalog_box import STATUS, CatalogBox

QWEN = find_entry("qwen3-0.6b")
SMOL = find_entry("smollm2-1.7b-instruct")
DATA = b"GGUF" + os.urandom(1_500_000)


@pytest.fixture
def qloop(qapp):
    with qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub() as server:
        server.add(QWEN.repo, QWEN.file, DATA)
        server.add(SMOL.repo, SMOL.file, DATA[:400_000])
        monkeypatch.setenv("TROUPE_HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def dialog(qtbot, memory_keyring, no_key_variables) -> SettingsDialog:
    dialog = SettingsDialog(Settings(), load_roster(), providers=Providers((Provider("local", "local"),)))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def catalog(dialog: SettingsDialog) -> CatalogBox:
    click_catalog = dialog.models_tab.catalog_button
    click_catalog.click()
    assert dialog.models_tab.catalog is not None and dialog.models_tab.catalog.isVisible()
    return dialog.models_tab.catalog.box


def status(box: CatalogBox, model_id: str) -> str:
    index = [s.entry.id for s in box.states].index(model_id)
    item = box.table.topLevelItem(index)
    assert item is not None
    return item.text(STATUS)


def shoot(widget, name: str) -> None:
    if folder := os.environ.get("TROUPE_SCREENSHOTS"):
        widget.grab().save(str(Path(folder) / name))


def test_download_then_use_as_default(qtbot, qloop, hub: FakeHub, dialog, monkeypatch) -> None:
    writers: set[str] = set()
    real_write = download_module._write
    monkeypatch.setattr(download_module, "_write",
                        lambda *a: (writers.add(threading.current_thread().name), real_write(*a)))
    box = catalog(dialog)
    box.select(QWEN.id)
    assert box.download_button.text() == "Download" and not box.default_button.isEnabled()
    click(qtbot, box.download_button)
    assert not box.download_button.isEnabled() and box.pause_button.isEnabled()
    wait_for(qloop, lambda: box.active is None)
    assert writers == {"troupe-model-download"}  # never the UI thread
    assert box.note.text().startswith("Qwen3 0.6B is ready as local/qwen3-0.6b (SHA-256 checked)")
    assert status(box, QWEN.id) == "Downloaded" and box.download_button.text() == "Downloaded"
    assert QWEN.id in local_models()  # usable at once
    agents_models = dialog.agents_tab.model
    assert "local/qwen3-0.6b" in [agents_models.itemText(i) for i in range(agents_models.count())]
    assert QWEN.id in dialog.providers_tab.providers().get("local").models
    shoot(box.window(), "catalog-downloaded.png")
    click(qtbot, box.default_button)
    assert dialog.models_tab.default_model.currentText() == "local/qwen3-0.6b"
    assert dialog.models_tab.planner_model.currentText() == ""  # offered, not chosen
    assert dialog.models_tab.key_hint.text().startswith("A local model file")
    click_ok(qtbot, dialog)
    assert dialog.result_settings().default_model == "local/qwen3-0.6b"


def test_pause_resume_and_cancel(qtbot, qloop, hub: FakeHub, dialog) -> None:
    hub.faults.delay = 0.01
    box = catalog(dialog)
    box.select(QWEN.id)
    click(qtbot, box.download_button)
    wait_for(qloop, lambda: box.last is not None and box.last.done > 200_000)
    assert "%" in status(box, QWEN.id) and " of 1.5 MB" in box.progress_text.text()
    assert "left" in box.progress_text.text() and "/s" in box.progress_text.text()
    shoot(box.window(), "catalog-downloading.png")
    click(qtbot, box.pause_button)
    wait_for(qloop, lambda: box.active is None)
    assert status(box, QWEN.id).startswith("Paused at ") and box.download_button.text() == "Resume"
    assert box.progress_text.text().startswith("Qwen3 0.6B: paused at ") and " of 1.5 MB (" in box.progress_text.text()
    box.select(SMOL.id)
    assert box.progress_box.isHidden()  # the bar belongs to the paused model
    box.select(QWEN.id)
    assert box.progress_box.isVisible()
    assert [m.name for m in list_local_models() if not m.embedded] == []
    hub.faults.delay = 0
    click(qtbot, box.download_button)
    wait_for(qloop, lambda: box.active is None)
    assert status(box, QWEN.id) == "Downloaded"
    assert any(r.startswith("GET /cdn/") and "bytes=" in r for r in hub.requests)

    hub.faults.delay = 0.01
    box.select(SMOL.id)
    click(qtbot, box.download_button)
    wait_for(qloop, lambda: box.last is not None and box.last.done > 50_000)
    click(qtbot, box.cancel_button)
    wait_for(qloop, lambda: box.active is None)
    assert box.note.text() == "SmolLM2 1.7B Instruct: download cancelled, nothing kept."
    assert not part_path(models_dir() / SMOL.file).exists() and status(box, SMOL.id) == ""


def test_a_wrong_hash_is_said_in_one_line(qtbot, qloop, hub: FakeHub, dialog) -> None:
    hub.faults.wrong_sha = True
    box = catalog(dialog)
    box.select(SMOL.id)
    click(qtbot, box.download_button)
    wait_for(qloop, lambda: box.active is None)
    assert box.note.text().startswith("SmolLM2 1.7B Instruct: SmolLM2-1.7B-Instruct-Q4_K_M.gguf did not match")
    assert "download it again" in box.note.text() and "\n" not in box.note.text()
    assert list(models_dir().iterdir()) == [] and box.download_button.isEnabled()


def test_closing_settings_pauses_the_download(qtbot, qloop, hub: FakeHub, dialog) -> None:
    hub.faults.delay = 0.01
    box = catalog(dialog)
    box.select(QWEN.id)
    click(qtbot, box.download_button)
    wait_for(qloop, lambda: box.last is not None and box.last.done > 100_000)
    dialog.reject()
    part = part_path(models_dir() / QWEN.file)
    qloop.run_until_complete(asyncio.sleep(1.5))  # unpaused, it would have finished by now
    assert part.is_file() and part.stat().st_size < len(DATA)  # stopped, kept for next time
    assert not (models_dir() / QWEN.file).exists()


def test_a_catalog_entry_is_pulled_through_ollama(qtbot, qloop, hub, dialog, monkeypatch) -> None:
    with FakeOllama(models=["llama3.2:1b"]) as ollama:
        monkeypatch.setenv("TROUPE_OLLAMA_URL", ollama.url + "/v1")
        box = catalog(dialog)
        wait_for(qloop, lambda: box.ollama is not None)
        assert box.ollama_note.text() == "Ollama is running on this computer; its models: llama3.2:1b."
        assert status(box, "llama-3.2-1b-instruct") == "In Ollama"
        box.select(QWEN.id)
        assert box.ollama_button.isVisible() and box.ollama_button.isEnabled()
        click(qtbot, box.ollama_button)
        wait_for(qloop, lambda: box.active is None and "qwen3:0.6b" in [m.name for m in box.ollama or []])
        assert ollama.pulls == [{"model": "qwen3:0.6b", "stream": True}]
        assert box.note.text().startswith("Qwen3 0.6B is ready as ollama/qwen3:0.6b")
        assert status(box, QWEN.id) == "In Ollama"
        click(qtbot, box.default_button)
    assert dialog.models_tab.default_model.currentText() == "ollama/qwen3:0.6b"


def test_no_ollama_no_pull_button(qtbot, qloop, hub, dialog) -> None:
    box = catalog(dialog)
    qloop.run_until_complete(asyncio.sleep(0.3))
    assert box.ollama is None and not box.ollama_button.isVisible()
    fits = {box.table.topLevelItem(i).text(3) for i in range(box.table.topLevelItemCount())}
    assert fits <= {"✓", "⚠", "?"}
