"""Garbage collection on the UI thread only.

Python's cycle collector runs in whichever thread happens to allocate when a
threshold is crossed: the thread importing litellm, the history writer, a
worker. If a cycle it frees holds Qt wrappers, Qt objects get destroyed off
the UI thread, which crashes the process (seen as segfaults in tests). So
automatic collection is switched off and a timer on the UI thread collects
whatever generation the allocation counts call for, as gc itself would.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_INTERVAL_MS = 500


class MainThreadGC(QObject):
    """Owns the timer; keep it alive for as long as the app runs."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = _INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the oldest generation whose count is over its threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                self.collections += 1
                return

    def stop(self) -> None:
        """Collect everything now, on this thread, while the QApplication is alive:
        left to interpreter exit, Qt wrappers would be freed after it is gone."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
