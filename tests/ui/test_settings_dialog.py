"""The Settings dialog with real widgets: the models, fallbacks and the roster
editor, and what OK and Cancel leave behind. The Providers tab (keys, Test
connection) is in test_settings_providers.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from agents.plan.roster import ORCHESTRATOR, Roster, load_roster
from app.providers.registry import Provider, Providers
from app.roster_store import load_user_roster, save_user_roster
from app.settings import Settings, load_settings, save_settings, settings_path
from tests.support.settings_ui import FAKE_KEY, click, click_check_box, click_ok, type_into
from ui.settings import SettingsDialog

PROVIDERS = Providers((Provider("openai", "openai"),
                       Provider("ollama", "ollama", models=("llama3.2", "qwen2.5:7b"))))


@pytest.fixture(autouse=True)
def _no_keys(no_key_variables) -> None:
    """No provider key in the environment, whatever the machine has."""


@pytest.fixture
def open_dialog(qtbot, memory_keyring):
    def open_(settings: Settings | None = None, roster: Roster | None = None,
              providers: Providers | None = None) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(), roster or load_roster(), providers=providers)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog
    return open_


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
    expected = replace(expected, budget_usd=1.5)
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
    dialog = open_dialog(settings, roster, PROVIDERS)
    type_into(qtbot, dialog.models_tab.default_model, "openai/gpt-4o")
    qtbot.keyClicks(dialog.providers_tab.panels["openai"].key.edit, FAKE_KEY)  # typed, never saved
    dialog.providers_tab.select("ollama")
    click(qtbot, dialog.providers_tab.remove_button)
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




# --- model pickers and fallbacks ---------------------------------------------------------


def items(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def add_fallback(qtbot, model_list, ref: str) -> None:
    type_into(qtbot, model_list.picker, ref)
    click(qtbot, model_list.add_button)


def test_the_pickers_offer_the_providers_models(qtbot, open_dialog) -> None:
    dialog = open_dialog(Settings(default_model="ollama/llama3.2"), providers=PROVIDERS)
    expected = ["openai/gpt-4o-mini", "openai/gpt-4.1-mini", "openai/gpt-4o",
                "ollama/llama3.2", "ollama/qwen2.5:7b"]
    assert items(dialog.models_tab.default_model) == expected
    assert items(dialog.models_tab.planner_model) == expected
    assert items(dialog.models_tab.fallbacks.picker) == expected
    assert items(dialog.agents_tab.model) == expected
    assert items(dialog.agents_tab.fallbacks.picker) == expected
    assert dialog.models_tab.default_model.currentText() == "ollama/llama3.2"
    assert "Ollama runs on this computer; it needs no key" in dialog.models_tab.key_hint.text()


def test_removing_a_provider_updates_the_pickers_but_keeps_what_is_typed(qtbot, open_dialog) -> None:
    dialog = open_dialog(Settings(default_model="ollama/llama3.2"), providers=PROVIDERS)
    dialog.providers_tab.select("ollama")
    click(qtbot, dialog.providers_tab.remove_button)
    assert items(dialog.agents_tab.model) == ["openai/gpt-4o-mini", "openai/gpt-4.1-mini", "openai/gpt-4o"]
    assert dialog.models_tab.default_model.currentText() == "ollama/llama3.2"
    assert "needs no key" in dialog.models_tab.key_hint.text()  # a built-in kind: still reachable


def test_fallback_models_round_trip_to_settings_json(qtbot, open_dialog) -> None:
    dialog = open_dialog(Settings(fallback_models=("openai/gpt-4o",)), providers=PROVIDERS)
    fallbacks = dialog.models_tab.fallbacks
    assert fallbacks.models() == ("openai/gpt-4o",)
    add_fallback(qtbot, fallbacks, "ollama/llama3.2")
    add_fallback(qtbot, fallbacks, "groq/llama-3.1-8b-instant")  # any reference may be typed
    assert fallbacks.picker.currentText() == ""
    type_into(qtbot, fallbacks.picker, "openai/gpt-4o")
    assert not fallbacks.add_button.isEnabled()  # already in the list
    type_into(qtbot, fallbacks.picker, "gpt 4o")
    assert not fallbacks.add_button.isEnabled()  # not a model reference
    fallbacks.list.setCurrentRow(1)
    click(qtbot, fallbacks.up_button)
    assert not fallbacks.up_button.isEnabled()  # now the first
    fallbacks.list.setCurrentRow(2)
    click(qtbot, fallbacks.remove_button)
    click_ok(qtbot, dialog)
    assert dialog.result_settings().fallback_models == ("ollama/llama3.2", "openai/gpt-4o")
    save_settings(dialog.result_settings())
    assert json.loads(settings_path().read_text())["fallback_models"] == ["ollama/llama3.2", "openai/gpt-4o"]
    assert load_settings().fallback_models == ("ollama/llama3.2", "openai/gpt-4o")


def test_role_fallbacks_round_trip_through_the_roster_store(qtbot, open_dialog) -> None:
    dialog = open_dialog(providers=PROVIDERS)
    tab = dialog.agents_tab
    tab.select("writer")
    type_into(qtbot, tab.model, "openai/gpt-4o")
    add_fallback(qtbot, tab.fallbacks, "openai/gpt-4o-mini")
    add_fallback(qtbot, tab.fallbacks, "ollama/llama3.2")
    tab.fallbacks.list.setCurrentRow(0)
    click(qtbot, tab.fallbacks.down_button)
    tab.select("coder")
    assert tab.fallbacks.models() == ()  # each role has its own list
    tab.select("writer")
    assert tab.fallbacks.models() == ("ollama/llama3.2", "openai/gpt-4o-mini")
    qtbot.mouseClick(tab.duplicate_button, Qt.MouseButton.LeftButton)
    click_ok(qtbot, dialog)
    roster = dialog.result_roster()
    assert roster.get("writer").fallbacks == ("ollama/llama3.2", "openai/gpt-4o-mini")
    assert roster.get("writer-copy").fallbacks == roster.get("writer").fallbacks
    save_user_roster(roster)
    writer = load_user_roster().get("writer")
    assert (writer.model, writer.fallbacks) == ("openai/gpt-4o", ("ollama/llama3.2", "openai/gpt-4o-mini"))


def test_a_roster_with_fallbacks_is_shown_and_kept(qtbot, open_dialog) -> None:
    roles = [replace(r, fallbacks=("openai/gpt-4o-mini",)) if r.name == "analyst" else r for r in load_roster()]
    dialog = open_dialog(roster=Roster(tuple(roles)))
    dialog.agents_tab.select("analyst")
    assert dialog.agents_tab.fallbacks.models() == ("openai/gpt-4o-mini",)
    click_ok(qtbot, dialog)
    assert dialog.result_roster() == Roster(tuple(roles))


def test_the_theme_applies_at_once_is_kept_on_ok_and_reverted_on_cancel(open_dialog) -> None:
    from PySide6.QtGui import QGuiApplication, QPalette  # noqa: PLC0415

    from ui import theme  # noqa: PLC0415

    def window_lightness() -> float:
        return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightnessF()

    theme.apply_theme("light")
    dialog = open_dialog()
    tab = dialog.general_tab
    tab.theme.setCurrentIndex(tab.theme.findData("dark"))
    assert window_lightness() < 0.5 and theme.is_dark_mode()  # shown as it is chosen
    dialog.reject()
    assert window_lightness() > 0.5  # Cancel: back to the saved theme

    again = open_dialog()
    again.general_tab.theme.setCurrentIndex(again.general_tab.theme.findData("dark"))
    again.accept()
    assert again.result_settings().theme == "dark" and theme.is_dark_mode()
    theme.apply_theme("system")
