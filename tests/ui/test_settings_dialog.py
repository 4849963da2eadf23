"""The Settings dialog with real widgets: models, API keys (against an in-memory
keyring, and against keyring's `fail` backend) and the roster editor."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest
from keyring.errors import KeyringError
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox

from agents.roster import ORCHESTRATOR, Roster, load_roster
from app import keys
from app.secrets import ENV_VARS, SERVICE
from app.settings import Settings, load_settings, save_settings
from tests.support.keyrings import LockedKeyring, use_keyring
from ui.settings_dialog import SettingsDialog

FAKE_KEY = "sk-test-NEVERINSETTINGS0123456789"


@pytest.fixture(autouse=True)
def no_key_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("TROUPE_MODEL", raising=False)


@pytest.fixture
def open_dialog(qtbot, memory_keyring):
    def open_(settings: Settings | None = None, roster: Roster | None = None) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(), roster or load_roster())
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog
    return open_


def click_ok(qtbot, dialog: SettingsDialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def type_into(qtbot, widget, text: str) -> None:
    """Replace a line edit's (or editable combo box's) text as a person would."""
    edit = widget.lineEdit() if hasattr(widget, "lineEdit") else widget
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def click_check_box(qtbot, box) -> None:
    """Click on the box itself (the widget may be wider than box and text)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


# --- Models ----------------------------------------------------------------------------


def test_ok_without_changes_gives_back_what_it_was_given(qtbot, open_dialog) -> None:
    settings = Settings(default_model="groq/llama-3.1-8b-instant", max_parallel=3, call_timeout=30.0)
    dialog = open_dialog(settings)
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.result_settings() == settings
    assert dialog.result_roster() == load_roster()


def test_settings_round_trip_through_the_dialog(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    tab = dialog.models_tab
    type_into(qtbot, tab.default_model, "anthropic/claude-3-5-haiku-latest")
    type_into(qtbot, tab.planner_model, "openai/gpt-4o")
    type_into(qtbot, tab.api_base, "http://localhost:1234/v1")
    type_into(qtbot, tab.max_parallel, "32")
    tab.call_timeout.setValue(45)
    tab.max_attempts.setValue(2)
    tab.budget.setValue(1.5)
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    expected = Settings(
        default_model="anthropic/claude-3-5-haiku-latest", planner_model="openai/gpt-4o",
        api_base="http://localhost:1234/v1", max_parallel=32, call_timeout=45.0, max_attempts=2,
    )
    if "budget_usd" in {f.name for f in fields(Settings)}:  # once Settings has the field
        expected = replace(expected, budget_usd=1.5)  # type: ignore[call-arg]
    assert dialog.result_settings() == expected
    assert dialog.result_budget_usd() == 1.5


def test_the_saved_settings_load_back(qtbot, open_dialog, tmp_path: Path) -> None:
    dialog = open_dialog()
    type_into(qtbot, dialog.models_tab.default_model, "mistral/mistral-small-latest")
    dialog.models_tab.max_parallel.setValue(1000)
    click_ok(qtbot, dialog)
    save_settings(dialog.result_settings(), tmp_path / "settings.json")
    loaded = load_settings(tmp_path / "settings.json")
    assert (loaded.default_model, loaded.max_parallel) == ("mistral/mistral-small-latest", 1000)


def test_clearing_the_planner_model_means_the_default(qtbot, open_dialog) -> None:
    dialog = open_dialog(Settings(planner_model="openai/gpt-4o", api_base="http://x:1/v1"))
    type_into(qtbot, dialog.models_tab.planner_model, "")
    type_into(qtbot, dialog.models_tab.api_base, "  ")
    click_ok(qtbot, dialog)
    assert dialog.result_settings().planner_model is None
    assert dialog.result_settings().api_base is None


def test_max_parallel_is_bounded(open_dialog) -> None:
    dialog = open_dialog()
    spin = dialog.models_tab.max_parallel
    assert (spin.minimum(), spin.maximum()) == (1, 1000)


def test_invalid_models_are_shown_inline_and_ok_is_refused(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    dialog.tabs.setCurrentIndex(2)
    type_into(qtbot, dialog.models_tab.default_model, "")
    type_into(qtbot, dialog.models_tab.api_base, "localhost:1234")
    click_ok(qtbot, dialog)
    assert dialog.isVisible()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.errors.isVisible()
    assert "Choose a default model" in dialog.errors.text()
    assert "http://" in dialog.errors.text()
    assert dialog.tabs.currentIndex() == 0
    with pytest.raises(RuntimeError):
        dialog.result_settings()
    type_into(qtbot, dialog.models_tab.default_model, "openai/gpt-4o")
    type_into(qtbot, dialog.models_tab.api_base, "http://localhost:1234/v1")
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not dialog.errors.isVisible()


def test_a_model_with_a_space_is_refused(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    type_into(qtbot, dialog.models_tab.default_model, "gpt 4o")
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and "contains a space" in dialog.errors.text()


def test_cancel_changes_nothing(qtbot, open_dialog, memory_keyring, troupe_home: Path) -> None:
    settings, roster = Settings(), load_roster()
    dialog = open_dialog(settings, roster)
    type_into(qtbot, dialog.models_tab.default_model, "openai/gpt-4o")
    qtbot.keyClicks(dialog.keys_tab.rows["openai"].edit, FAKE_KEY)  # typed, never saved
    dialog.agents_tab.roles.setCurrentRow(1)
    type_into(qtbot, dialog.agents_tab.name, "scout")
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert settings == Settings() and roster == load_roster()
    with pytest.raises(RuntimeError):
        dialog.result_roster()
    assert list(troupe_home.iterdir()) == []  # the dialog itself writes no file
    assert memory_keyring.passwords == {}


def test_the_key_hint_follows_the_model(qtbot, open_dialog, memory_keyring, monkeypatch) -> None:
    dialog = open_dialog(Settings(default_model="openai/gpt-4o-mini"))
    hint = dialog.models_tab.key_hint
    assert "No OpenAI key yet" in hint.text()
    monkeypatch.setenv("GROQ_API_KEY", "gsk-from-env")
    type_into(qtbot, dialog.models_tab.default_model, "groq/llama-3.1-8b-instant")
    assert "GROQ_API_KEY" in hint.text()
    type_into(qtbot, dialog.models_tab.default_model, "ollama/llama3.1")
    assert "no key" in hint.text()


# --- Agents ----------------------------------------------------------------------------


def test_edit_rename_and_add_roles(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    tab = dialog.agents_tab
    tab.roles.setCurrentRow(tab.roster().names.index("researcher"))
    type_into(qtbot, tab.name, "scout")
    assert tab.roles.currentItem().text() == "scout"
    tab.prompt.setPlainText("Find things out.")
    type_into(qtbot, tab.model, "openai/gpt-4o")
    tab.temperature.setValue(0.9)
    click_check_box(qtbot, tab.tools.boxes["fetch_url"])  # uncheck
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    assert tab.name.text() == tab.name.selectedText() == "new-agent"  # ready to be typed over
    type_into(qtbot, tab.name, "translator")
    type_into(qtbot, tab.description, "Translates text")
    tab.prompt.setPlainText("Translate faithfully.")
    click_check_box(qtbot, tab.tools.boxes["read_file"])
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    roster = dialog.result_roster()
    assert roster.names == ["orchestrator", "scout", "analyst", "coder", "writer", "reviewer", "translator"]
    scout = roster.get("scout")
    assert (scout.system_prompt, scout.model, scout.temperature) == ("Find things out.", "openai/gpt-4o", 0.9)
    assert scout.tools == ("read_file", "list_files", "search_history")
    translator = roster.get("translator")
    assert (translator.description, translator.tools, translator.model) == ("Translates text", ("read_file",), None)
    assert roster.get("writer") == load_roster().get("writer")


def test_the_orchestrator_cannot_be_removed_or_renamed(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    tab = dialog.agents_tab
    tab.select(ORCHESTRATOR)
    assert not tab.remove_button.isEnabled()
    assert tab.name.isReadOnly()
    assert not tab.note.isHidden()
    tab._on_remove()  # even if asked directly
    assert ORCHESTRATOR in tab.roster()
    tab.select("writer")
    assert tab.remove_button.isEnabled() and not tab.name.isReadOnly()
    qtbot.mouseClick(tab.remove_button, Qt.MouseButton.LeftButton)
    assert "writer" not in tab.roster()
    assert tab.current() is not None and tab.current().name == "reviewer"
    click_ok(qtbot, dialog)
    assert dialog.result_roster().names == ["orchestrator", "researcher", "analyst", "coder", "reviewer"]


def test_a_duplicate_name_is_refused_and_shown(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    tab = dialog.agents_tab
    tab.select("reviewer")
    type_into(qtbot, tab.name, "Writer")
    tab.select("coder")
    dialog.tabs.setCurrentIndex(0)
    click_ok(qtbot, dialog)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert "Two roles are named “Writer”" in dialog.errors.text()
    assert dialog.tabs.currentIndex() == 2
    assert tab.current().name == "Writer"  # the offending role is selected


def test_empty_name_and_prompt_are_refused(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    tab = dialog.agents_tab
    tab.select("analyst")
    type_into(qtbot, tab.name, "")
    assert tab.roles.currentItem().text() == "(unnamed)"
    tab.select("coder")
    tab.prompt.setPlainText("   ")
    click_ok(qtbot, dialog)
    text = dialog.errors.text()
    assert "Role 3 needs a name" in text
    assert "“coder” needs a system prompt" in text


def test_duplicate_copies_the_role(qtbot, open_dialog) -> None:
    dialog = open_dialog()
    tab = dialog.agents_tab
    tab.select("coder")
    qtbot.mouseClick(tab.duplicate_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.duplicate_button, Qt.MouseButton.LeftButton)
    assert tab.current().name == "coder-copy-2"
    click_ok(qtbot, dialog)
    roster = dialog.result_roster()
    assert roster.names[3:6] == ["coder", "coder-copy", "coder-copy-2"]
    assert replace(roster.get("coder-copy"), name="coder") == roster.get("coder")


def test_reset_to_defaults(qtbot, open_dialog) -> None:
    custom = Roster((load_roster().get(ORCHESTRATOR), replace(load_roster().get("writer"), name="poet")))
    dialog = open_dialog(roster=custom)
    assert dialog.agents_tab.roster() == custom
    qtbot.mouseClick(dialog.agents_tab.reset_button, Qt.MouseButton.LeftButton)
    click_ok(qtbot, dialog)
    assert dialog.result_roster() == load_roster()


def test_unknown_tools_from_a_hand_edited_file_are_kept(qtbot, open_dialog) -> None:
    roles = [replace(r, tools=(*r.tools, "my_tool")) if r.name == "writer" else r for r in load_roster()]
    dialog = open_dialog(roster=Roster(tuple(roles)))
    dialog.agents_tab.select("writer")
    assert dialog.agents_tab.tools.boxes["my_tool"].isChecked()
    dialog.agents_tab.select("coder")
    assert "my_tool" not in dialog.agents_tab.tools.boxes
    click_ok(qtbot, dialog)
    assert dialog.result_roster().get("writer").tools == ("read_file", "write_file", "my_tool")


# --- API keys --------------------------------------------------------------------------


def test_a_saved_key_goes_to_the_keyring_and_never_to_settings(
    qtbot, open_dialog, memory_keyring, tmp_path: Path
) -> None:
    dialog = open_dialog(Settings(default_model="openai/gpt-4o-mini"))
    row = dialog.keys_tab.rows["openai"]
    assert row.edit.echoMode() == row.edit.EchoMode.Password
    assert not row.save.isEnabled() and not row.remove.isEnabled()
    qtbot.keyClicks(row.edit, FAKE_KEY)
    assert row.save.isEnabled()
    qtbot.mouseClick(row.save, Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords == {(SERVICE, "openai"): FAKE_KEY}
    assert row.edit.text() == ""  # the key does not linger in the widget
    assert "stored in keychain" in row.edit.placeholderText()
    assert "In keychain" in row.status.text()
    assert row.remove.isEnabled()
    assert "OpenAI key from the keychain" in dialog.models_tab.key_hint.text()
    click_ok(qtbot, dialog)
    path = tmp_path / "settings.json"
    save_settings(dialog.result_settings(), path)
    assert FAKE_KEY not in path.read_text(encoding="utf-8")
    assert FAKE_KEY not in repr(dialog.result_settings())


def test_a_stored_key_is_never_shown(open_dialog, memory_keyring) -> None:
    memory_keyring.set_password(SERVICE, "anthropic", FAKE_KEY)
    dialog = open_dialog()
    row = dialog.keys_tab.rows["anthropic"]
    assert row.edit.text() == ""
    assert row.edit.placeholderText().startswith("•••• stored in keychain")
    assert all(FAKE_KEY not in w.text() for w in dialog.findChildren(type(row.edit)))


def test_remove_deletes_the_key_after_asking(qtbot, open_dialog, memory_keyring, monkeypatch) -> None:
    memory_keyring.set_password(SERVICE, "gemini", FAKE_KEY)
    dialog = open_dialog()
    row = dialog.keys_tab.rows["gemini"]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    qtbot.mouseClick(row.remove, Qt.MouseButton.LeftButton)
    assert (SERVICE, "gemini") in memory_keyring.passwords
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(row.remove, Qt.MouseButton.LeftButton)
    assert memory_keyring.passwords == {}
    assert "Not set" in row.status.text() and not row.remove.isEnabled()
    assert "removed" in dialog.keys_tab.message.text()


def test_an_environment_key_is_reported(open_dialog, monkeypatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "from-the-environment")
    dialog = open_dialog()
    row = dialog.keys_tab.rows["mistral"]
    assert "From environment" in row.status.text()
    assert "MISTRAL_API_KEY" in row.edit.placeholderText()
    assert not row.remove.isEnabled()  # nothing in the keychain to remove


def test_without_a_keychain_the_tab_explains_and_disables_saving(qtbot, fail_keyring, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-the-environment")
    dialog = SettingsDialog(Settings(), load_roster())
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(1)
    tab = dialog.keys_tab
    assert not tab.available
    assert tab.unavailable.isVisible()
    assert "No system keychain is available on this machine" in tab.unavailable.text()
    assert "OPENAI_API_KEY" in tab.unavailable.text()
    for row in tab.rows.values():
        assert not row.save.isEnabled() and not row.remove.isEnabled() and not row.edit.isEnabled()
    assert "From environment" in tab.rows["openai"].status.text()
    tab.rows["groq"].edit.setText(FAKE_KEY)
    assert not tab.rows["groq"].save.isEnabled()
    tab._on_save(tab.rows["groq"])  # even if asked directly: nothing happens, nothing raises
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_a_keyring_that_refuses_a_write_shows_the_error(qtbot, open_dialog) -> None:
    backend = LockedKeyring()
    with use_keyring(backend):
        dialog = open_dialog()
        row = dialog.keys_tab.rows["openrouter"]
        qtbot.keyClicks(row.edit, FAKE_KEY)
        qtbot.keyClick(row.edit, Qt.Key.Key_Return)
        assert "Could not store the OpenRouter key: the keychain is locked" in dialog.keys_tab.message.text()
        assert backend.passwords == {}
        assert dialog.isVisible()  # Enter in a key field saves; it does not press OK


# --- app.keys --------------------------------------------------------------------------


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


def test_ok_stores_a_key_that_was_typed_but_not_saved(qtbot, open_dialog, memory_keyring) -> None:
    dialog = open_dialog()
    qtbot.keyClicks(dialog.keys_tab.rows["groq"].edit, FAKE_KEY)
    click_ok(qtbot, dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert memory_keyring.passwords == {(SERVICE, "groq"): FAKE_KEY}


def test_ok_is_refused_when_a_typed_key_cannot_be_stored(qtbot, open_dialog) -> None:
    with use_keyring(LockedKeyring()):
        dialog = open_dialog()
        qtbot.keyClicks(dialog.keys_tab.rows["openai"].edit, FAKE_KEY)
        click_ok(qtbot, dialog)
        assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
        assert dialog.tabs.currentIndex() == 1
        assert "Could not store the OpenAI key" in dialog.errors.text()
        assert FAKE_KEY not in dialog.errors.text()


def test_typing_a_key_does_not_ask_the_keychain_per_keystroke(qtbot, open_dialog, memory_keyring, monkeypatch) -> None:
    dialog = open_dialog()
    reads: list[str] = []
    real_get = memory_keyring.get_password
    monkeypatch.setattr(memory_keyring, "get_password", lambda s, u: reads.append(u) or real_get(s, u))
    qtbot.keyClicks(dialog.keys_tab.rows["openai"].edit, FAKE_KEY)
    assert reads == []
    assert dialog.keys_tab.rows["openai"].save.isEnabled()
