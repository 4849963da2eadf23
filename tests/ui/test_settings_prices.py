"""Settings › Providers › Prices with real widgets: set a price for a model with no
known price, see where a model's price comes from, clear it, and what OK writes
to providers.json."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agents.llm.prices import Price
from agents.plan.roster import load_roster
from app.providers.registry import Provider, Providers, load_providers, providers_path
from app.settings import Settings
from tests.support.settings_ui import click, click_ok, forget_session_keys, type_into
from ui.settings import SettingsDialog

WORK = Provider("work", "openai_compatible", "http://127.0.0.1:9/v1", ("m1", "m2"))


@pytest.fixture(autouse=True)
def _clean(no_key_variables, memory_keyring) -> Iterator[None]:
    yield
    forget_session_keys()


def open_dialog(qtbot, providers: Providers) -> SettingsDialog:
    dialog = SettingsDialog(Settings(), load_roster(), providers=providers)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(1)
    return dialog


def test_set_a_price_then_ok_writes_it(qtbot):
    dialog = open_dialog(qtbot, Providers((WORK,)))
    box = dialog.providers_tab.panels["work"].prices
    assert box.chosen() == "m1" and not box.clear_button.isEnabled()
    type_into(qtbot, box.model, "m2")
    box.input.setValue(0.5)
    box.output.setValue(1.5)
    click(qtbot, box.set_button)
    assert box.note.text().startswith("Yours: $0.5 in, $1.5 out per million tokens")
    assert box.clear_button.isEnabled()
    assert dialog.providers_tab.providers().get("work").price_of("m2") == Price.per_million(0.5, 1.5)
    click_ok(qtbot, dialog)
    saved = json.loads(providers_path().read_text())["providers"][0]
    assert saved["prices"] == {"m2": {"input": 0.5, "output": 1.5}}
    assert saved["models"] == ["m1", "m2"]


def test_clear_forgets_it_and_the_note_says_where_prices_come_from(qtbot):
    priced = WORK.with_price("m1", Price.per_million(3, 4))
    dialog = open_dialog(qtbot, Providers((priced, Provider("ollama", "ollama", models=("llama3.2",)))))
    box = dialog.providers_tab.panels["work"].prices
    assert box.chosen() == "m1" and (box.input.value(), box.output.value()) == (3, 4)
    click(qtbot, box.clear_button)
    assert dialog.providers_tab.providers().get("work").prices == {}
    assert "price unknown" in box.note.text() and not box.clear_button.isEnabled()
    local = dialog.providers_tab.panels["ollama"].prices
    assert local.note.text().startswith("Free: it runs on this computer")
    click_ok(qtbot, dialog)
    assert load_providers().get("work").prices == {}


def test_a_price_survives_a_limits_or_model_edit_of_the_same_provider(qtbot):
    dialog = open_dialog(qtbot, Providers((WORK,)))
    tab = dialog.providers_tab
    box = tab.panels["work"].prices
    box.input.setValue(2)
    box.output.setValue(2)
    click(qtbot, box.set_button)
    click(qtbot, tab.edit_button)
    type_into(qtbot, tab.editor.models, "m1, m2, m3")
    click_ok(qtbot, tab.editor)
    work = tab.providers().get("work")
    assert work.models == ("m1", "m2", "m3") and work.price_of("m1") == Price.per_million(2, 2)
