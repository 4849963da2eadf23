"""Logging to a file in the data dir, with every known secret redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading

from app.paths import data_dir, logs_dir

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


# A URL's user:password@ and the values of its secret-looking query parameters
# (hosted MCP servers take ?api_key=..., signed URLs carry ?X-Amz-Signature=...).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s?#'\"<>]+@")
_QUERY_PARAM = re.compile(r"(?P<name>[?&;][^=&#\s'\"<>]+)=(?P<value>[^&#\s'\"<>]+)")
_SECRET_NAME_ENDS = ("key", "token", "secret", "password", "passwd", "pwd", "pass", "auth",
                     "authorization", "signature", "sig", "credential", "credentials",
                     "session", "sessionid", "sid", "code", "jwt", "bearer")


def _secret_param(name: str) -> bool:
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith(_SECRET_NAME_ENDS)


def redact_urls(text: str) -> str:
    """URLs' credentials (`user:pass@`) and secret-looking query values as [redacted]."""
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}[redacted]@", text)
    if "=" not in text:
        return text
    return _QUERY_PARAM.sub(
        lambda m: f"{m.group('name')}=[redacted]" if _secret_param(m.group("name")[1:]) else m.group(0),
        text,
    )


def redact_log_text(text: str) -> str:
    """Everything a log line must not hold: known secrets, key shapes, URL secrets."""
    return redact_urls(redact_thoroughly(text))


class RedactingFormatter(logging.Formatter):
    """Redacts the final line, traceback included, whichever library logged it."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_log_text(super().format(record))


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
    try:
        folder = logs_dir()
    except OSError:  # a data folder that cannot be written: lines are dropped (no stderr noise),
        folder = data_dir(create=False) / "logs"  # what needs the folder says so in one line
    handler = _QuietFileHandler(  # delay: the file is opened by the first line logged
        folder / "troupe.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8", delay=True
    )
    handler._troupe = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # every request of these would be a line (MCP's SDK uses httpx2)
    for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "httpx2", "httpcore2", "openai",
                  "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
