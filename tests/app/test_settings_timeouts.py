"""The call timeouts in settings.json: an idle timeout and an overall limit (issue 13, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

from app.settings import Settings, load_settings, save_settings


def test_defaults_are_an_idle_timeout_and_a_much_longer_overall_limit() -> None:
    settings = Settings()
    assert settings.idle_timeout == 60.0
    assert settings.call_timeout == 600.0


def test_a_file_saved_before_the_idle_timeout_loads(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    old = {**Settings().to_dict(), "call_timeout": 120.0}
    del old["idle_timeout"]
    path.write_text(json.dumps(old), encoding="utf-8")

    settings = load_settings(path)

    assert settings.call_timeout == 600.0  # the old default deadline cut long answers
    assert settings.idle_timeout == 60.0


def test_a_chosen_timeout_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"call_timeout": 45.0}), encoding="utf-8")
    assert load_settings(path).call_timeout == 45.0

    save_settings(Settings(call_timeout=120.0, idle_timeout=15.0), path)
    loaded = load_settings(path)
    assert (loaded.call_timeout, loaded.idle_timeout) == (120.0, 15.0)
