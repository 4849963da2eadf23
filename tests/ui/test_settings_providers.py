"""Settings › Providers with real widgets: adding a provider, its key (in an
in-memory keychain, in keyring's `fail` backend, in a locked one), Refresh
models and Test connection against the local scripted server, and what OK
writes to providers.json."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator

import pytest
from keyring.errors import KeyringError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from agents.plan.roster import load_roster
from app.providers import keys, secrets
from app.providers.registry import Provider, Providers, load_providers, providers_path, resolve
from app.providers.secrets import SERVICE
from app.settings import Settings, save_settings, settings_path
from tests.support.keyrings import LockedKeyring, use_keyring
from tests.support.scripted_server import Reply
from tests.support.settings_ui import (
    FAKE_KEY,
    click,
    click_ok,
    forget_session_keys,
    qasync_loop,
    type_into,
    wait_for,
)
from ui.settings import SettingsDialog
from ui.settings.provider_key import SESSION_BUTTON

CLOUD = Providers((Provider("openai", "openai"), Provider("anthropic", "anthropic")))


@pytest.fixture(autouse=True)
def _clean(no_key_variables) -> Iterator[None]:
    yield
    forget_session_keys()


@pytest.fixture
def qloop(qapp):
    with qasync_loop(qapp) as loop:
        yield loop


@pytest.fixture
def open_dialog(qtbot):
    def open_(providers: Providers | None = None, settings: Settings | None = None) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(), load_roster(), providers=providers or Providers())
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.tabs.setCurrentIndex(1)
        return dialog
    return open_


def add_provider(qtbot, dialog: SettingsDialog, kind: str, name: str, base: str = "", models: str = "") -> None:
    """Add… -> fill the form -> OK, as a person would."""
    tab = dialog.providers_tab
    click(qtbot, tab.add_button)
    editor = tab.editor
    assert editor is not None and editor.isVisible()
    editor.kind.setCurrentIndex(editor.kind.findData(kind))
    type_into(qtbot, editor.name, name)
    if base:
        type_into(qtbot, editor.api_base, base)
    if models:
        type_into(qtbot, editor.models, models)
    click_ok(qtbot, editor)


def test_add_an_openai_compatible_server_and_test_it(qtbot, qloop, llm_server, memory_keyring, open_dialog) -> None:
    llm_server.default = Reply("OK", latency=0.05)
    dialog = open_dialog()
    tab = dialog.providers_tab
    assert tab.stack.currentWidget() is tab.empty
    add_provider(qtbot, dialog, "openai_compatible", "work", llm_server.base_url, "test-model, other")
    assert tab.editor is None
    assert tab.current() == Provider("work", "openai_compatible", llm_server.base_url, ("test-model", "other"))
    row = tab.table.topLevelItem(0)
    assert [row.text(i) for i in range(5)] == ["work", "OpenAI-compatible server", llm_server.base_url,
                                               "○  Not needed", "2"]
    assert "work/test-model" in [dialog.agents_tab.model.itemText(i) for i in range(dialog.agents_tab.model.count())]
    panel = tab.panels["work"]
    assert panel.test_model.currentText() == "test-model"
    click(qtbot, panel.test_button)
    assert panel.test_button.text() == "Testing…" and not panel.test_button.isEnabled()  # busy, not frozen
    wait_for(qloop, lambda: panel.last_report is not None)
    assert re.fullmatch(r"✓  OK, \d+ ms", panel.result.text()), panel.result.text()
    assert panel.last_report.latency_ms >= 50
    assert panel.test_button.isEnabled() and panel.test_button.text() == "Test connection"
    assert [r.model for r in llm_server.chat_requests] == ["test-model"]  # a real call reached the server
    assert tab.table.topLevelItem(0).text(5).startswith("✓ ")
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert load_providers().get("work") == tab.current()
    assert dialog.result_providers() == load_providers()


def test_a_rejected_key_is_reported_in_words(qtbot, qloop, llm_server, memory_keyring, open_dialog) -> None:
    llm_server.default = Reply.unauthorized()
    dialog = open_dialog(Providers((Provider("work", "openai_compatible", llm_server.base_url, ("test-model",)),)))
    panel = dialog.providers_tab.panels["work"]
    qtbot.keyClicks(panel.key.edit, FAKE_KEY)
    click(qtbot, panel.test_button)  # a typed key is saved first, then used
    wait_for(qloop, lambda: panel.last_report is not None)
    assert panel.last_report.reason == "bad_key"
    assert "rejected the API key" in panel.result.text() and panel.result.text().startswith("✗")
    assert dialog.providers_tab.table.topLevelItem(0).text(5) == "✗ Bad key"
    assert llm_server.chat_requests[-1].headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert memory_keyring.passwords == {(SERVICE, "work"): FAKE_KEY}
    assert FAKE_KEY not in panel.result.text()


def test_an_unreachable_server_is_reported(qtbot, qloop, memory_keyring, open_dialog) -> None:
    port = free_port()
    dialog = open_dialog(Providers((Provider("lab", "lmstudio", f"http://127.0.0.1:{port}/v1", ("m",)),)))
    panel = dialog.providers_tab.panels["lab"]
    click(qtbot, panel.test_button)
    wait_for(qloop, lambda: panel.last_report is not None)
    assert panel.last_report.reason == "unreachable"
    assert "LM Studio" in panel.result.text()


def test_a_cloud_provider_without_a_key_says_so(qtbot, qloop, memory_keyring, open_dialog) -> None:
    dialog = open_dialog(CLOUD)
    panel = dialog.providers_tab.panels["openai"]
    click(qtbot, panel.test_button)
    wait_for(qloop, lambda: panel.last_report is not None)
    assert panel.last_report.reason == "no_key"
    assert "No API key for OpenAI" in panel.result.text()


def free_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Refresh models ----------------------------------------------------------------------


def test_refresh_models_lists_the_servers_models(qtbot, qloop, llm_server, memory_keyring, open_dialog) -> None:
    llm_server.models = ["llama3.2", "qwen2.5:7b"]
    dialog = open_dialog(Providers((Provider("ollama", "ollama", llm_server.base_url),)))
    panel = dialog.providers_tab.panels["ollama"]
    assert panel.refresh_button.isVisible()
    assert "None listed yet" in panel.models.text()
    click(qtbot, panel.refresh_button)
    wait_for(qloop, lambda: panel.refresh_button.isEnabled())
    assert panel.refresh_note.text() == "Found 2 models."
    assert dialog.providers_tab.current().models == ("llama3.2", "qwen2.5:7b")
    assert dialog.providers_tab.table.topLevelItem(0).text(4) == "2"
    default = dialog.models_tab.default_model
    assert [default.itemText(i) for i in range(default.count())] == ["ollama/llama3.2", "ollama/qwen2.5:7b"]
    click_ok(qtbot, dialog)
    assert load_providers().get("ollama").models == ("llama3.2", "qwen2.5:7b")


def test_refresh_asks_before_dropping_models_the_server_does_not_list(
        qtbot, qloop, llm_server, memory_keyring, open_dialog) -> None:
    llm_server.models = ["llama3.2"]
    dialog = open_dialog(Providers((Provider("ollama", "ollama", llm_server.base_url, models=("my-finetune",)),)))
    panel = dialog.providers_tab.panels["ollama"]
    for answer, expected in (("Keep them", ("llama3.2", "my-finetune")), ("Use the listed ones", ("llama3.2",))):
        click(qtbot, panel.refresh_button)
        wait_for(qloop, lambda: panel.refresh_button.isEnabled() and getattr(panel, "unlisted_box", None) is not None)
        box = panel.unlisted_box
        assert "does not list 1 of the models here: my-finetune" in box.text()
        next(b for b in box.buttons() if b.text() == answer).click()
        wait_for(qloop, lambda expected=expected: dialog.providers_tab.current().models == expected)
        panel.unlisted_box = None


def test_refresh_models_when_the_server_is_not_running(qtbot, qloop, memory_keyring, open_dialog) -> None:
    dialog = open_dialog(Providers((Provider("ollama", "ollama", f"http://127.0.0.1:{free_port()}/v1"),)))
    panel = dialog.providers_tab.panels["ollama"]
    click(qtbot, panel.refresh_button)
    wait_for(qloop, lambda: panel.refresh_button.isEnabled())
    assert "Ollama is not answering at http://127.0.0.1:" in panel.refresh_note.text()
    assert "Is it running?" in panel.refresh_note.text()
    assert dialog.providers_tab.current().models == ()


def test_cloud_providers_have_no_refresh(open_dialog, memory_keyring) -> None:
    dialog = open_dialog(CLOUD)
    assert not dialog.providers_tab.panels["openai"].refresh_button.isVisible()


# --- the list: Add / Edit / Remove ---------------------------------------------------------


def test_the_editor_refuses_a_duplicate_name_and_a_missing_url(qtbot, open_dialog, memory_keyring) -> None:
    dialog = open_dialog(CLOUD)
    tab = dialog.providers_tab
    click(qtbot, tab.add_button)
    editor = tab.editor
    assert editor.name.text() == "openai-2"  # a free name is proposed for the kind
    editor.kind.setCurrentIndex(editor.kind.findData("openai_compatible"))
    type_into(qtbot, editor.name, "anthropic")
    click_ok(qtbot, editor)
    assert editor.isVisible() and "already a provider named “anthropic”" in editor.errors.text()
    type_into(qtbot, editor.name, "my server")
    click_ok(qtbot, editor)
    assert "must be one word" in editor.errors.text()
    type_into(qtbot, editor.name, "vllm")
    click_ok(qtbot, editor)
    assert "needs a base URL" in editor.errors.text()
    type_into(qtbot, editor.api_base, "http://127.0.0.1:8000/v1/")
    click_ok(qtbot, editor)
    assert not editor.isVisible()
    assert tab.current() == Provider("vllm", "openai_compatible", "http://127.0.0.1:8000/v1")


def test_edit_changes_the_url_and_models_but_not_the_name(qtbot, open_dialog, memory_keyring) -> None:
    dialog = open_dialog(Providers((Provider("ollama", "ollama", models=("a",)),)))
    tab = dialog.providers_tab
    click(qtbot, tab.edit_button)
    editor = tab.editor
    assert editor.name.isReadOnly() and not editor.kind.isEnabled()
    assert editor.api_base.placeholderText() == "http://127.0.0.1:11434/v1"
    type_into(qtbot, editor.api_base, "http://127.0.0.1:11500/v1")
    type_into(qtbot, editor.models, "a, b")
    click_ok(qtbot, editor)
    assert tab.providers().entries == (Provider("ollama", "ollama", "http://127.0.0.1:11500/v1", ("a", "b")),)
    assert tab.panels["ollama"].subtitle.text().endswith("http://127.0.0.1:11500/v1")


def test_remove_takes_the_provider_and_on_ok_its_key(qtbot, open_dialog, memory_keyring) -> None:
    memory_keyring.set_password(SERVICE, "anthropic", FAKE_KEY)
    dialog = open_dialog(CLOUD)
    tab = dialog.providers_tab
    tab.select("anthropic")
    click(qtbot, tab.remove_button)
    assert tab.providers().names() == ["openai"] and tab.current().name == "openai"
    assert (SERVICE, "anthropic") in memory_keyring.passwords  # nothing happens before OK
    click_ok(qtbot, dialog)
    assert load_providers().names() == ["openai"]
    assert memory_keyring.passwords == {}


def test_ok_without_changes_writes_no_providers_file(qtbot, open_dialog, memory_keyring) -> None:
    dialog = open_dialog(CLOUD)
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not providers_path().exists()
    assert dialog.result_providers() == CLOUD


# --- keys ----------------------------------------------------------------------------------


def test_a_saved_key_goes_to_the_keychain_and_never_to_a_file(qtbot, open_dialog, memory_keyring) -> None:
    dialog = open_dialog(settings=Settings(default_model="openai/gpt-4o-mini"))
    add_provider(qtbot, dialog, "openai", "openai")
    box = dialog.providers_tab.panels["openai"].key
    assert box.edit.echoMode() == box.edit.EchoMode.Password
    assert not box.save.isEnabled() and not box.remove.isEnabled() and not box.session.isVisible()
    qtbot.keyClicks(box.edit, FAKE_KEY)
    click(qtbot, box.save)
    assert memory_keyring.passwords == {(SERVICE, "openai"): FAKE_KEY}
    assert box.edit.text() == ""  # the key does not linger in the widget
    assert "stored in keychain" in box.edit.placeholderText()
    assert "In keychain" in box.status.text() and box.remove.isEnabled()
    assert "In keychain" in dialog.providers_tab.table.topLevelItem(0).text(3)
    assert "OpenAI key from the keychain" in dialog.models_tab.key_hint.text()
    click_ok(qtbot, dialog)
    save_settings(dialog.result_settings())
    for path in (providers_path(), settings_path()):
        assert FAKE_KEY not in path.read_text(encoding="utf-8")
    assert json.loads(providers_path().read_text())["providers"] == [
        {"name": "openai", "kind": "openai", "api_base": None, "models": []}]
    assert resolve("openai/gpt-4o-mini", load_providers()).api_key == FAKE_KEY


def test_a_stored_key_is_never_shown(open_dialog, memory_keyring) -> None:
    memory_keyring.set_password(SERVICE, "anthropic", FAKE_KEY)
    dialog = open_dialog(CLOUD)
    box = dialog.providers_tab.panels["anthropic"].key
    assert box.edit.text() == ""
    assert box.edit.placeholderText().startswith("•••• stored in keychain")
    assert all(FAKE_KEY not in w.text() for w in dialog.findChildren(type(box.edit)))


def test_remove_deletes_the_key_after_asking(qtbot, open_dialog, memory_keyring, monkeypatch) -> None:
    memory_keyring.set_password(SERVICE, "openai", FAKE_KEY)
    dialog = open_dialog(CLOUD)
    box = dialog.providers_tab.panels["openai"].key
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    click(qtbot, box.remove)
    assert (SERVICE, "openai") in memory_keyring.passwords
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    click(qtbot, box.remove)
    assert memory_keyring.passwords == {}
    assert "Not set" in box.status.text() and not box.remove.isEnabled()
    assert "removed from the keychain" in box.message.text()


def test_an_environment_key_is_reported(open_dialog, memory_keyring, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-the-environment")
    dialog = open_dialog(CLOUD)
    box = dialog.providers_tab.panels["anthropic"].key
    assert "ANTHROPIC_API_KEY" in box.status.text()
    assert "ANTHROPIC_API_KEY" in box.edit.placeholderText()
    assert "ANTHROPIC_API_KEY" in dialog.providers_tab.table.topLevelItem(1).text(3)
    assert not box.remove.isEnabled()  # nothing in the keychain to remove


def test_without_a_keychain_a_key_can_be_kept_for_the_session(qtbot, open_dialog, fail_keyring) -> None:
    dialog = open_dialog(CLOUD, Settings(default_model="openai/gpt-4o-mini"))
    tab = dialog.providers_tab
    assert tab.unavailable.isVisible()
    assert "No system keychain is available on this machine" in tab.unavailable.text()
    assert "for this session only" in tab.unavailable.text()
    box = tab.panels["openai"].key
    assert not box.save.isVisible() and box.session.isVisible()
    assert box.session.text() == SESSION_BUTTON and not box.session.isEnabled()
    qtbot.keyClicks(box.edit, FAKE_KEY)
    click(qtbot, box.session)
    assert secrets.has_session_key("openai") and box.edit.text() == ""
    assert "This session only" in box.status.text() and "This session only" in tab.table.topLevelItem(0).text(3)
    assert "forgotten when Troupe quits" in box.message.text()
    assert resolve("openai/gpt-4o-mini", tab.providers()).api_key == FAKE_KEY
    assert "OpenAI key kept for this session only" in dialog.models_tab.key_hint.text()
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    click(qtbot, box.remove)  # forgetting needs no keychain either
    assert not secrets.has_session_key("openai")


def test_without_a_keychain_ok_does_not_drop_a_typed_key_silently(qtbot, open_dialog, fail_keyring) -> None:
    dialog = open_dialog(CLOUD)
    qtbot.keyClicks(dialog.providers_tab.panels["anthropic"].key.edit, FAKE_KEY)
    dialog.tabs.setCurrentIndex(0)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert SESSION_BUTTON in dialog.errors.text()
    assert dialog.tabs.currentIndex() == 1 and dialog.providers_tab.current().name == "anthropic"


def test_ok_stores_a_key_that_was_typed_but_not_saved(qtbot, open_dialog, memory_keyring) -> None:
    dialog = open_dialog(CLOUD)
    qtbot.keyClicks(dialog.providers_tab.panels["anthropic"].key.edit, FAKE_KEY)
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert memory_keyring.passwords == {(SERVICE, "anthropic"): FAKE_KEY}


def test_a_keychain_that_refuses_a_write_shows_the_error(qtbot, open_dialog) -> None:
    with use_keyring(LockedKeyring()) as backend:
        dialog = open_dialog(CLOUD)
        box = dialog.providers_tab.panels["openai"].key
        qtbot.keyClicks(box.edit, FAKE_KEY)
        qtbot.keyClick(box.edit, Qt.Key.Key_Return)
        assert "Could not store the OpenAI key: the keychain is locked" in box.message.text()
        assert backend.passwords == {}
        assert dialog.isVisible()  # Enter in a key field saves; it does not press OK
        click_ok(qtbot, dialog)
        assert dialog.isVisible() and "Could not store the OpenAI key" in dialog.errors.text()
        assert FAKE_KEY not in dialog.errors.text()


def test_typing_a_key_does_not_ask_the_keychain_per_keystroke(qtbot, open_dialog, memory_keyring, monkeypatch) -> None:
    dialog = open_dialog(CLOUD)
    reads: list[str] = []
    real_get = memory_keyring.get_password
    monkeypatch.setattr(memory_keyring, "get_password", lambda s, u: reads.append(u) or real_get(s, u))
    box = dialog.providers_tab.panels["openai"].key
    qtbot.keyClicks(box.edit, FAKE_KEY)
    assert reads == [] and box.save.isEnabled()


def test_the_embedded_model_has_no_key_field(open_dialog, memory_keyring) -> None:
    dialog = open_dialog(Providers((Provider("local", "local", models=("smollm2-135m",)),)))
    panel = dialog.providers_tab.panels["local"]
    assert panel.key is None and not panel.refresh_button.isVisible()
    assert dialog.providers_tab.table.topLevelItem(0).text(3) == "—"


# --- app.providers.keys ------------------------------------------------------------------------------


def test_key_status_and_delete(memory_keyring, monkeypatch) -> None:
    assert keys.keychain_problem() is None
    assert keys.key_status("openai") == keys.NONE
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")
    assert keys.key_status("openai") == keys.ENVIRONMENT
    memory_keyring.set_password(SERVICE, "openai", FAKE_KEY)
    assert keys.key_status("openai") == keys.KEYCHAIN  # the keychain wins, as in get_api_key
    assert keys.delete_api_key("openai") is True
    assert keys.delete_api_key("openai") is False
    assert keys.key_status("openai") == keys.ENVIRONMENT


def test_key_status_without_a_keychain(fail_keyring) -> None:
    assert keys.keychain_problem() == "No system keychain is available on this machine."
    assert keys.key_status("anthropic") == keys.NONE
    with pytest.raises(KeyringError):
        keys.delete_api_key("anthropic")
