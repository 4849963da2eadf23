"""User settings: a small JSON file in the data dir. Never holds keys."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from app.paths import data_dir

log = logging.getLogger(__name__)

DEFAULT_MODEL = "local/smollm2-135m"
"""The embedded offline model: what runs until the person sets up another."""
RETIRED_MODELS = {"local/gemma-3-270m": DEFAULT_MODEL}
"""References earlier versions saved -> what they mean now (the embedded Gemma 3 270M,
a base model that echoed its prompt, became SmolLM2-135M-Instruct)."""
_retired_said: set[str] = set()


def current_model(ref: str) -> str:
    """`ref`, or what it means now when it names a retired model (said once in the log)."""
    new = RETIRED_MODELS.get(ref)
    if new is None:
        return ref
    if ref not in _retired_said:  # settings are read often
        _retired_said.add(ref)
        log.info("%s was the embedded model of an earlier Troupe; using %s instead", ref, new)
    return new


@dataclass(frozen=True)
class Settings:
    """What the person chose in Settings (or the defaults)."""

    default_model: str = DEFAULT_MODEL
    """Model reference ("provider/model", see app/providers/registry.py) used when --model is not given."""
    planner_model: str | None = None
    """Orchestrator model; None means the default model."""
    api_base: str | None = None
    """Base URL for OpenAI-compatible servers; None for the provider's own."""
    max_parallel: int = 8
    """Model calls in flight at once."""
    call_timeout: float = 600.0
    """Overall limit of one model call, in seconds (an answer still streaming is cut
    only by this)."""
    idle_timeout: float = 60.0
    """Seconds a streamed model call may receive nothing (before its first byte, between
    chunks) before it is given up as stalled and retried; 0: no idle limit."""
    max_attempts: int = 4
    """Tries per model call before the task fails."""
    max_tokens: int = 0
    """Longest answer per model call, in tokens; 0 means the model's own limit."""
    fallback_models: tuple[str, ...] = ()
    """Models tried in order when a model fails after its retries."""
    budget_usd: float = 0.0
    """Spending per run (US dollars) after which the run asks before going on; 0: no limit."""
    allow_private_urls: bool = False
    """fetch_url may reach loopback, private, link-local and multicast addresses
    (a local server, the LAN); off, such URLs and redirects to them are refused."""
    code_network: bool = False
    """run_python and run_shell may use the network; off, their sandbox has none
    (not even this machine's loopback)."""
    theme: str = "system"
    """The window's colours: "system" (the desktop's), "light" or "dark"."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fallback_models"] = list(self.fallback_models)
        return data


THEMES = ("system", "light", "dark")
"""The window's colour schemes (Settings.theme)."""

_OLD_CALL_TIMEOUT = 120.0
"""call_timeout's default before idle_timeout (settings files saved then hold it)."""


def settings_path() -> Path:
    return data_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """Read settings; a missing or broken file gives defaults (and a warning)."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable settings file %s: %s", path, exc)
        data = {}
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in data.items() if k in known}
    if isinstance(values.get("fallback_models"), list):
        values["fallback_models"] = tuple(str(m) for m in values["fallback_models"] if m)
    if "idle_timeout" not in data and values.get("call_timeout") == _OLD_CALL_TIMEOUT:
        # written before the idle timeout existed: the old default was a deadline for the
        # whole call (it cut long answers still streaming); take the new overall limit
        del values["call_timeout"]
    if values.get("theme") not in THEMES:
        values.pop("theme", None)  # unknown or hand-edited: the desktop's
    settings = _current_models(Settings(**values))
    if model := os.environ.get("TROUPE_MODEL"):
        settings = replace(settings, default_model=current_model(model))
    return settings


def _current_models(settings: Settings) -> Settings:
    """`settings` with retired model references replaced (a file saved by an earlier version)."""
    planner = settings.planner_model
    return replace(settings, default_model=current_model(settings.default_model),
                   planner_model=current_model(planner) if planner else planner,
                   fallback_models=tuple(dict.fromkeys(current_model(m) for m in settings.fallback_models)))


def save_settings(settings: Settings, path: Path | None = None) -> None:
    path = path or settings_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(settings.to_dict(), indent=2), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a file
