"""Settings › Providers: a provider's rate limits (calls at once, requests and tokens per
minute) with the real widgets, and what OK writes to providers.json."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from agents.plan.roster import load_roster
from agents.ports import Limits
from app.providers.registry import Provider, Providers, load_providers
from app.settings import Settings
from tests.support.settings_ui import click, click_ok, forget_session_keys
from ui.settings import SettingsDialog

WORK = Provider("work", "openai_compatible", api_base="http://127.0.0.1:9/v1", models=("m",))


@pytest.fixture(autouse=True)
def _clean(no_key_variables) -> Iterator[None]:
    yield
    forget_session_keys()


def open_dialog(qtbot, providers: Providers) -> SettingsDialog:
    dialog = SettingsDialog(Settings(), load_roster(), providers=providers)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(1)
    return dialog


def type_number(qtbot, spin, value: int) -> None:
    """Replace a spin box's number as a person would: select it, type, Enter."""
    edit = spin.lineEdit()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, str(value))
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_the_defaults_are_shown_and_typed_limits_are_saved_on_ok(qtbot, memory_keyring) -> None:
    dialog = open_dialog(qtbot, Providers((WORK,)))
    box = dialog.providers_tab.panels["work"].limits
    assert box.isVisibleTo(dialog)
    assert [box.spins[k].value() for k in ("concurrent", "rpm", "tpm")] == [16, 0, 0]
    assert box.spins["rpm"].text() == "no limit"
    assert "Troupe's defaults for OpenAI-compatible server: 16 at once" in box.note.text()
    assert not box.defaults_button.isEnabled()
    type_number(qtbot, box.spins["concurrent"], 3)
    type_number(qtbot, box.spins["rpm"], 120)
    assert "Yours; the defaults for" in box.note.text() and box.defaults_button.isEnabled()
    click_ok(qtbot, dialog)
    assert load_providers().get("work").limits == Limits(concurrent=3, rpm=120)
    assert dialog.result_providers().get("work").limits == Limits(concurrent=3, rpm=120)


def test_defaults_go_back_to_the_kinds_limits(qtbot, memory_keyring) -> None:
    mine = Provider("work", "openai_compatible", api_base=WORK.api_base, limits=Limits(concurrent=2, tpm=9000))
    dialog = open_dialog(qtbot, Providers((mine,)))
    box = dialog.providers_tab.panels["work"].limits
    assert [box.spins[k].value() for k in ("concurrent", "rpm", "tpm")] == [2, 0, 9000]
    click(qtbot, box.defaults_button)
    assert box.spins["concurrent"].value() == 16 and box.spins["tpm"].value() == 0
    click_ok(qtbot, dialog)
    assert load_providers().get("work").limits is None
    assert load_providers().get("work").effective_limits == Limits(concurrent=16)
