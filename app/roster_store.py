"""The person's own roster: <data dir>/roster.json, edited in Settings › Agents.

Without that file (or with a broken one) Troupe uses the default roster
shipped in resources/. A broken file is never fatal and never overwritten
behind the person's back: `read_user_roster()` returns the default together
with a warning saying what is wrong, for the window to show.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agents.errors import RosterError
from agents.plan.roster import ORCHESTRATOR, Roster, load_roster
from app.paths import data_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RosterLoad:
    """What `read_user_roster()` found."""

    roster: Roster
    """The roster to use: the person's, or the default."""
    from_user_file: bool
    """True when `roster` came from the person's roster.json."""
    warning: str | None = None
    """Why the person's file was not used, in plain words; None when all is well."""


def user_roster_path() -> Path:
    """<data dir>/roster.json (it need not exist)."""
    return data_dir() / "roster.json"


def default_roster() -> Roster:
    """The roster shipped with Troupe (resources/roster.json)."""
    return load_roster()


def read_user_roster(path: Path | None = None) -> RosterLoad:
    """The person's roster if their file exists and is valid, else the default.

    A file that cannot be read or is invalid gives the default roster and a
    warning (also logged); the file itself is left as it is.
    """
    path = path or user_roster_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RosterLoad(default_roster(), from_user_file=False)
    except OSError as exc:
        return _fallback(path, f"it could not be read ({exc.strerror or exc})")
    try:
        return RosterLoad(parse_roster(text), from_user_file=True)
    except RosterError as exc:
        return _fallback(path, str(exc))


def load_user_roster(path: Path | None = None) -> Roster:
    """The roster to run with; see read_user_roster() for the warning."""
    return read_user_roster(path).roster


def save_user_roster(roster: Roster, path: Path | None = None) -> None:
    """Validate and write the roster atomically (a crash never leaves half a file)."""
    data = roster.to_dict()
    Roster.from_dict(data)  # raises RosterError: never write a file we would refuse to load
    path = path or user_roster_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".roster-", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def grant_tools(roster: Roster, role: str, tools: Iterable[str]) -> Roster:
    """The roster with `tools` added to the role's (kept in order, none twice); KeyError: no such role."""
    current = roster.get(role).tools
    return _with_tools(roster, role, (*current, *(t for t in tools if t not in current)))


def revoke_tools(roster: Roster, role: str, tools: Iterable[str]) -> Roster:
    """The roster without `tools` in the role's; KeyError: no such role."""
    gone = set(tools)
    return _with_tools(roster, role, tuple(t for t in roster.get(role).tools if t not in gone))


def _with_tools(roster: Roster, role: str, tools: tuple[str, ...]) -> Roster:
    named = roster.get(role)
    return Roster(tuple(replace(r, tools=tuple(dict.fromkeys(tools))) if r is named else r
                        for r in roster.roles))


def reset_user_roster(path: Path | None = None) -> Roster:
    """Delete the person's roster file; returns the default roster now in use."""
    (path or user_roster_path()).unlink(missing_ok=True)
    return default_roster()


def parse_roster(text: str) -> Roster:
    """A roster from JSON text; RosterError says exactly what is wrong and where."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RosterError(f"it is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if problem := roster_problem(data):
        raise RosterError(problem)
    return Roster.from_dict(data)


def roster_problem(data: Any) -> str | None:
    """The first thing wrong with roster data, pointing at the role and field; None if fine.

    Roster.from_dict stays the authority; this only words its rules so a
    person can find the mistake in their file.
    """
    if not isinstance(data, dict) or not isinstance(data.get("roles"), list):
        return 'it needs a "roles" list at the top level'
    seen: set[str] = set()
    for index, role in enumerate(data["roles"], start=1):
        if problem := _role_problem(role):
            name = role.get("name") if isinstance(role, dict) else None
            label = f"role {index}" + (f' ("{name}")' if isinstance(name, str) and name.strip() else "")
            return f"{label}: {problem}"
        if role["name"] in seen:
            return f'role {index}: the name "{role["name"]}" is used twice'
        seen.add(role["name"])
    if ORCHESTRATOR not in seen:
        return f'it has no "{ORCHESTRATOR}" role, which makes the plans'
    return None


def _role_problem(role: Any) -> str | None:
    if not isinstance(role, dict):
        return "it is not a JSON object"
    for field in ("name", "system_prompt"):
        value = role.get(field)
        if not isinstance(value, str) or not value.strip():
            return f'"{field}" must be non-empty text'
    for field in ("description", "model"):
        if role.get(field) is not None and not isinstance(role[field], str):
            return f'"{field}" must be text'
    temperature = role.get("temperature", 0.3)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        return '"temperature" must be a number from 0 to 2'
    tools = role.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        return '"tools" must be a list of tool names'
    return None


def _fallback(path: Path, reason: str) -> RosterLoad:
    warning = (
        f"Your agent roster file {path} could not be used: {reason}. "
        "Troupe is using the default team; fix the file, or use Reset to defaults "
        "in Settings › Agents."
    )
    log.warning("%s", warning)
    return RosterLoad(default_roster(), from_user_file=False, warning=warning)
