"""Logging to a file in the data dir, with every known secret redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading

from app.paths import logs_dir

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Never let this value appear in a log record."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


# Shapes of provider keys and auth headers, for text that may carry a secret
# nobody registered (an error message echoing a header, a key in a URL).
_KEY_SHAPES = re.compile(
    r"(?P<prefix>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{12,}"
    r"|\b(?:sk-[A-Za-z0-9_-]{16,}|AIza[A-Za-z0-9_-]{30,}|gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9]{20,})"
)


def redact_thoroughly(text: str) -> str:
    """`redact`, plus anything shaped like an API key or an auth header's token."""
    return _KEY_SHAPES.sub(lambda m: (m.group("prefix") or "") + "[redacted]", redact(text))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            record.msg = redact(record.getMessage())
            record.args = None
        return True


class _QuietFileHandler(logging.handlers.RotatingFileHandler):
    """A log line that cannot be written (a full disk) is dropped, not printed to
    stderr with a traceback: what went wrong reaches the person another way."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def setup_logging(level: int = logging.INFO) -> None:
    """Log to <data dir>/logs/troupe.log (rotated); call once per process."""
    root = logging.getLogger()
    if any(getattr(h, "_troupe", False) for h in root.handlers):
        return
    handler = _QuietFileHandler(
        logs_dir() / "troupe.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler._troupe = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "openai", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
