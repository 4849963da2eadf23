from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from app import paths


def test_troupe_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home" / "nested"
    monkeypatch.setenv("TROUPE_HOME", str(home))
    assert paths.data_dir() == home and home.is_dir()
    assert paths.db_path() == home / "troupe.db"
    assert paths.logs_dir() == home / "logs" and (home / "logs").is_dir()


def test_platform_dir_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TROUPE_HOME", raising=False)
    calls = []

    def fake_user_data_dir(appname: str, **kwargs: object) -> str:
        calls.append(appname)
        return str(tmp_path / "platform" / appname)

    monkeypatch.setattr(platformdirs, "user_data_dir", fake_user_data_dir)
    assert paths.data_dir() == tmp_path / "platform" / "Troupe"
    assert (tmp_path / "platform" / "Troupe").is_dir()
    assert calls == ["Troupe"]
