"""Crash reports on disk: what they say, what they never say, how many are kept."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from app import crash_report
from app.crash_report import append_repeat, summarize, write_report
from app.logs import redact_thoroughly, register_secret

SECRET = "sk-crash-test-NEVERINALOG-0123456789"


def _raise(message: str) -> BaseException:
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc


def test_a_report_has_versions_where_and_the_whole_traceback(troupe_home: Path, caplog):
    report = write_report(_raise("bad input"), "a test", {"Qt": "6.x"})

    assert report.path.parent == troupe_home / "logs"
    assert report.path.name.startswith("crash-") and report.path.suffix == ".log"
    text = report.path.read_text(encoding="utf-8")
    assert text == report.text
    for line in ("Troupe crash report", "Where: a test", "Troupe: ", "Qt: 6.x",
                 f"Python: {platform.python_version()}", f"Platform: {platform.platform()}"):
        assert line in text
    assert "Traceback (most recent call last)" in text
    assert "in _raise" in text and "ValueError: bad input" in text
    assert report.summary == "ValueError: bad input"
    assert f"unexpected error in a test: ValueError: bad input (report: {report.path})" in caplog.text


def test_secrets_never_reach_the_report(troupe_home: Path):
    register_secret("my-registered-password-42")
    exc = _raise(f"401 for key {SECRET} (password my-registered-password-42, "
                 "header Authorization: Bearer abcdefghijklmnop.qrs)")

    report = write_report(exc, "a test")

    text = report.path.read_text(encoding="utf-8")
    for secret in (SECRET, "my-registered-password-42", "abcdefghijklmnop.qrs"):
        assert secret not in text
        assert secret not in report.summary
    assert "[redacted]" in report.summary
    assert "Bearer [redacted]" in text


def test_redaction_leaves_ordinary_words_alone():
    text = "task-sk failed: skipping sk-short; Bearer token missing"
    assert redact_thoroughly(text) == text


def test_repeats_go_into_the_same_file_and_stop_being_written_after_a_limit(
        troupe_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(crash_report, "MAX_REPEATS", 3)
    report = write_report(_raise("first"), "a test")

    for count in range(2, 6):
        append_repeat(report, _raise(f"repeat {count}"), "a test", count)

    text = report.path.read_text(encoding="utf-8")
    assert "--- again (2)" in text and "ValueError: repeat 3" in text
    assert "later repeats are counted, not written" in text
    assert "repeat 4" not in text and "repeat 5" not in text
    assert len(list((troupe_home / "logs").glob("crash-*.log"))) == 1


def test_old_reports_are_pruned(troupe_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(crash_report, "KEEP_REPORTS", 3)
    paths = [write_report(_raise(f"n{n}"), "a test").path for n in range(5)]

    kept = sorted((troupe_home / "logs").glob("crash-*.log"))
    assert kept == sorted(paths[-3:])
    assert len(set(paths)) == 5  # each got its own file, even within a microsecond


def test_summary_is_one_short_line():
    line = summarize(_raise("line one\nline two   spaced " + "x" * 500))
    assert "\n" not in line and line.startswith("ValueError: line one line two spaced")
    assert len(line) == 300
    assert summarize(KeyError()) == "KeyError"
