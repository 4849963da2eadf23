"""Settings › Providers › the embedded model: Add GGUF file… with real widgets
(a tiny file that starts like a GGUF; no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from agents.llm.local_model import local_models
from agents.plan.roster import load_roster
from app.providers.local_models import list_local_models
from app.providers.registry import Provider, Providers, load_providers
from app.settings import Settings
from tests.support.settings_ui import click, click_ok
from ui.settings import SettingsDialog
from ui.settings.local_models_box import name_for

LOCAL = Providers((Provider("local", "local", models=("smollm2-135m",)),))


@pytest.fixture
def dialog(qtbot, memory_keyring, no_key_variables) -> SettingsDialog:
    dialog = SettingsDialog(Settings(), load_roster(), providers=LOCAL)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.tabs.setCurrentIndex(1)
    return dialog


def gguf(folder: Path, name: str, magic: bytes = b"GGUF") -> Path:
    path = folder / name
    path.write_bytes(magic + b"\0" * 60)
    return path


def choose(qtbot, dialog: SettingsDialog, path: Path) -> None:
    """Add GGUF file… -> pick the file in the chooser -> Open."""
    box = dialog.providers_tab.panels["local"].local_box
    click(qtbot, box.add_button)
    chooser = box.file_dialog
    assert isinstance(chooser, QFileDialog) and chooser.isVisible()
    chooser.selectFile(str(path))
    chooser.accept()


def test_a_gguf_file_becomes_a_local_model_at_once(qtbot, dialog, tmp_path: Path) -> None:
    choose(qtbot, dialog, gguf(tmp_path, "Qwen2.5 0.5B-Q4_K_M.gguf"))
    panel = dialog.providers_tab.panels["local"]
    assert panel.local_box.file_dialog is None
    assert panel.local_box.note.text() == "Added local/Qwen2.5-0.5B-Q4_K_M: it can be used at once, offline."
    assert [m.name for m in list_local_models()] == ["smollm2-135m", "Qwen2.5-0.5B-Q4_K_M"]
    assert "Qwen2.5-0.5B-Q4_K_M" in local_models()  # the running app knows it already
    assert panel.test_model.currentText() == "Qwen2.5-0.5B-Q4_K_M"
    picker = dialog.models_tab.default_model
    assert "local/Qwen2.5-0.5B-Q4_K_M" in [picker.itemText(i) for i in range(picker.count())]
    click_ok(qtbot, dialog)
    assert load_providers().get("local").models == ("smollm2-135m", "Qwen2.5-0.5B-Q4_K_M")


def test_a_file_that_is_not_gguf_is_refused_in_words(qtbot, dialog, tmp_path: Path) -> None:
    choose(qtbot, dialog, gguf(tmp_path, "notes.gguf", magic=b"PK\3\4"))
    note = dialog.providers_tab.panels["local"].local_box.note
    assert note.text().startswith("Could not add notes.gguf:") and "not a GGUF model file" in note.text()
    assert [m.name for m in list_local_models()] == ["smollm2-135m"]


def test_models_added_earlier_are_offered(qtbot, memory_keyring, no_key_variables, tmp_path: Path) -> None:
    from app.providers.local_models import add_local_model

    add_local_model("mine", gguf(tmp_path, "mine.gguf"))
    dialog = SettingsDialog(Settings(), load_roster(), providers=LOCAL)
    qtbot.addWidget(dialog)
    assert dialog.providers_tab.current().models == ("smollm2-135m", "mine")
    assert "local/mine" in [dialog.agents_tab.model.itemText(i) for i in range(dialog.agents_tab.model.count())]


def test_names_come_from_the_file_name() -> None:
    assert name_for("/m/Llama 3.2 (1B).gguf", []) == "Llama-3.2-1B"
    assert name_for("/m/mine.gguf", ["mine"]) == "mine-2"
    assert name_for("/m/###.gguf", []) == "model"


def test_the_embedded_entry_can_be_added_back_once_removed(qtbot, dialog) -> None:
    tab = dialog.providers_tab
    click(qtbot, tab.add_button)
    assert tab.editor.kind.findData("local") == -1  # there already
    tab.editor.reject()
    click(qtbot, tab.remove_button)
    click(qtbot, tab.add_button)
    tab.editor.kind.setCurrentIndex(tab.editor.kind.findData("local"))
    assert tab.editor.name.text() == "local"
    click_ok(qtbot, tab.editor)
    assert tab.current().kind == "local" and tab.panels["local"].local_box is not None
