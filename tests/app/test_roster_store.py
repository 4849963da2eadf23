"""The person's roster file: saved atomically, loaded back, and a broken one
falls back to the default team with a warning that says what is wrong."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from agents.errors import RosterError
from agents.plan.roster import Role, Roster, load_roster
from app.roster_store import (
    load_user_roster,
    read_user_roster,
    reset_user_roster,
    roster_problem,
    save_user_roster,
    user_roster_path,
)


def edited() -> Roster:
    default = load_roster()
    roles = [replace(r, system_prompt="Be brief.") if r.name == "writer" else r for r in default]
    return Roster((*roles, Role("translator", "Translate faithfully.", "Translates", "openai/gpt-4o", 0.1, ("read_file",))))


def write_user_file(data: object) -> Path:
    path = user_roster_path()
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def default_data() -> dict:
    return load_roster().to_dict()


def test_the_user_file_lives_in_the_data_dir(troupe_home: Path) -> None:
    assert user_roster_path() == troupe_home / "roster.json"


def test_without_a_user_file_the_default_roster_is_used() -> None:
    loaded = read_user_roster()
    assert loaded.roster == load_roster()
    assert not loaded.from_user_file
    assert loaded.warning is None
    assert load_user_roster() == load_roster()


def test_save_then_load_round_trips(troupe_home: Path) -> None:
    roster = edited()
    save_user_roster(roster)
    loaded = read_user_roster()
    assert loaded.roster == roster
    assert loaded.from_user_file and loaded.warning is None
    assert load_user_roster() == roster
    assert [p.name for p in troupe_home.iterdir()] == ["roster.json"]  # no temporary file left


def test_saving_replaces_the_previous_file() -> None:
    save_user_roster(load_roster())
    save_user_roster(edited())
    assert "translator" in load_user_roster()


def test_an_invalid_roster_is_never_written() -> None:
    no_orchestrator = Roster(tuple(load_roster().workers()))
    with pytest.raises(RosterError, match="orchestrator"):
        save_user_roster(no_orchestrator)
    assert not user_roster_path().exists()


def test_a_failed_write_leaves_the_old_file_whole(monkeypatch: pytest.MonkeyPatch, troupe_home: Path) -> None:
    save_user_roster(load_roster())
    before = user_roster_path().read_bytes()

    def crash(self: Path, target: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_user_roster(edited())
    assert user_roster_path().read_bytes() == before
    assert [p.name for p in troupe_home.iterdir()] == ["roster.json"]


def test_reset_deletes_the_user_file() -> None:
    save_user_roster(edited())
    assert reset_user_roster() == load_roster()
    assert not user_roster_path().exists()
    assert reset_user_roster() == load_roster()  # nothing to delete: fine


def test_broken_json_gives_the_default_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    path = write_user_file('{"roles": [')
    with caplog.at_level(logging.WARNING):
        loaded = read_user_roster()
    assert loaded.roster == load_roster()
    assert not loaded.from_user_file
    assert loaded.warning is not None
    assert str(path) in loaded.warning
    assert "not valid JSON (line 1" in loaded.warning
    assert "default team" in loaded.warning
    assert loaded.warning in caplog.text
    assert path.read_text(encoding="utf-8") == '{"roles": ['  # left for the person to fix


def test_load_user_roster_falls_back_too() -> None:
    write_user_file("not json")
    assert load_user_roster() == load_roster()


def test_an_unreadable_file_gives_the_default_and_a_warning() -> None:
    user_roster_path().mkdir()  # a directory where the file should be
    loaded = read_user_roster()
    assert loaded.roster == load_roster()
    assert loaded.warning is not None and "could not be read" in loaded.warning


def with_role(index: int, **changes: object) -> dict:
    data = default_data()
    data["roles"][index].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], 'a "roles" list'),
        ({"agents": []}, 'a "roles" list'),
        ({"roles": ["writer"]}, "role 1: it is not a JSON object"),
        (with_role(3, system_prompt=""), 'role 4 ("coder"): "system_prompt" must be non-empty text'),
        (with_role(2, name="  "), 'role 3: "name" must be non-empty text'),
        (with_role(1, temperature=3), 'role 2 ("researcher"): "temperature" must be a number from 0 to 2'),
        (with_role(1, temperature="hot"), '"temperature" must be a number'),
        (with_role(4, tools="read_file"), 'role 5 ("writer"): "tools" must be a list of tool names'),
        (with_role(4, model=42), '"model" must be text'),
        (with_role(5, name="writer"), 'role 6: the name "writer" is used twice'),
        (with_role(0, name="boss"), 'no "orchestrator" role'),
    ],
)
def test_an_invalid_file_says_where_the_problem_is(data: object, expected: str) -> None:
    write_user_file(data)
    loaded = read_user_roster()
    assert loaded.roster == load_roster()
    assert loaded.warning is not None and expected in loaded.warning


def test_the_default_roster_has_no_problems() -> None:
    assert roster_problem(default_data()) is None
    assert roster_problem(edited().to_dict()) is None
