"""Cycles holding Qt objects are collected on the UI thread, never on another."""

from __future__ import annotations

import gc
import threading

from PySide6.QtWidgets import QWidget

from ui.main_thread_gc import MainThreadGC


class Cycle:
    def __init__(self, seen: list[str]) -> None:
        self.me = self
        self.seen = seen
        self.widget = QWidget()

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)


def test_cycles_are_freed_by_the_ui_thread_timer(qtbot) -> None:
    was_enabled = gc.isenabled()  # the UI tests' own guard may have switched it off
    guard = MainThreadGC(interval_ms=10)
    try:
        assert not gc.isenabled()
        seen: list[str] = []
        Cycle(seen)  # garbage only the cycle collector can free

        def allocate_a_lot() -> None:  # what an import in a worker thread does
            junk = [[i] for i in range(200_000)]
            del junk

        worker = threading.Thread(target=allocate_a_lot, name="worker")
        worker.start()
        worker.join()
        assert seen == []  # the worker's allocations did not trigger a collection
        guard.thresholds = (0, 0, 0)
        qtbot.waitUntil(lambda: bool(seen), timeout=2000)
        assert seen == [threading.main_thread().name]
    finally:
        guard.stop()
    assert gc.isenabled() == was_enabled
