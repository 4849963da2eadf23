"""Text from models and tools made safe to show: no control characters, no terminal escapes.

A model or a tool can answer with NUL bytes, ANSI colours, cursor moves or a
window title (`ESC ] 0 ; ... BEL`): raw on a terminal they garble or spoof what
the person reads. History keeps the raw text (it is evidence); these run where
text leaves Troupe: the terminal (app/cli wraps stdout and stderr) and the
md/html exports. JSON keeps every character, escaped.
"""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

_ESCAPES = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]            # CSI: colours, cursor moves, erasing
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC: window titles, hyperlinks (to BEL or ST)
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?       # DCS, SOS, PM and APC strings
    | \x1b[ -/]*[0-~]                    # the other escapes (ESC c, ESC ( B, ...)
    | \x9b[0-?]*[ -/]*[@-~]              # CSI in its one-character form
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 but tab and newline, DEL, C1. A carriage return goes too: it can overwrite a line."""
_C1 = re.compile(r"[\x7f-\x9f]")


def safe_text(text: str) -> str:
    """`text` without terminal escape sequences and control characters (but \\n and \\t)."""
    if not _CONTROLS.search(text):
        return text  # nearly always: one scan, no copy
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def safe_json(value: Any, indent: int | None = None) -> str:
    """JSON with every control character escaped: json escapes C0 (NUL, ESC) itself,
    not DEL and C1 (U+009B starts an escape on some terminals) when it keeps non-ASCII."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    # outside strings JSON is plain ASCII, so these can only be inside one
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class SafeStream:
    """A text stream writing `safe_text` of whatever it is given (troupe's stdout, stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(safe_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self.stream, name)
