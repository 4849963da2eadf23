"""RunTotals: tokens, cost, elapsed time and task progress of one run."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from agents.run.state import Counts
from ui import theme
from ui.run_view import format as fmt


class _Stat(QWidget):
    """A small caption over a bold value."""

    def __init__(self, caption: str, value: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.caption = QLabel(caption.upper())
        small = QFont(self.caption.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.8))
        small.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
        self.caption.setFont(small)
        theme.dim(self.caption)
        self.value = QLabel(value)
        big = QFont(self.value.font())
        big.setPointSizeF(big.pointSizeF() * 1.25)
        big.setBold(True)
        self.value.setFont(big)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        """A dim line under the value (the cost's estimate); hidden when empty."""
        self.note.setFont(small)
        theme.dim(self.note)
        self.note.hide()
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.note)

    def set(self, text: str, tooltip: str = "") -> None:
        self.value.setText(text)
        self.setToolTip(tooltip)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))


class RunTotals(QWidget):
    """Tokens, $ cost, elapsed (ticking once a second while running), tasks done/total."""

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self._clock = clock
        self._started: float | None = None
        self._stopped: float | None = None
        self.tokens = _Stat("Tokens", "0")
        self.cost = _Stat("Cost", fmt.cost(0))
        self.elapsed = _Stat("Elapsed", fmt.duration(0))
        self.tasks = _Stat("Tasks", "0 / 0")
        self.failed = QLabel("")
        self.failed.setStyleSheet(f"color: {theme.FAILED_COLOUR}; font-weight: 600;")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(22)
        for stat in (self.tokens, self.cost, self.elapsed, self.tasks):
            layout.addWidget(stat)
        layout.addWidget(self.failed, 0, Qt.AlignmentFlag.AlignBottom)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._on_tick)

    # --- setters -----------------------------------------------------------------

    def set_usage(self, prompt_tokens: int, completion_tokens: int, estimated: bool = False) -> None:
        """`estimated`: some calls' tokens were counted by Troupe (the server sent no usage)."""
        total = prompt_tokens + completion_tokens
        tip = f"{prompt_tokens:,} prompt + {completion_tokens:,} completion tokens"
        if estimated:
            tip += "\nSome were counted by Troupe (the server reported none): about right, not exact."
        self.tokens.set(("≈" if estimated else "") + fmt.tokens(total), tip)

    def set_cost(self, dollars: float, known: bool = True) -> None:
        tip = "" if known else "Some models' prices are unknown: the real cost is higher."
        self.cost.set(fmt.cost(dollars, known), tip)

    def set_estimate(self, text: str, tooltip: str) -> None:
        """The estimate made before the run, under the cost ("est. ~$0.012"); "" hides it."""
        self.cost.set_note(text)
        self.cost.note.setToolTip(tooltip)

    def set_tasks(self, counts: Counts) -> None:
        self.tasks.set(f"{counts.done} / {counts.total}", f"{counts.done} of {counts.total} tasks done")
        parts = [f"{counts.failed} failed"] if counts.failed else []
        parts += [f"{counts.not_run} not run"] if counts.not_run else []
        self.failed.setText(" · ".join(parts))

    def start_clock(self, since: float) -> None:
        """Count elapsed time from `since` (epoch seconds), ticking once a second."""
        self._started, self._stopped = since, None
        self._on_tick()
        self._timer.start()

    def stop_clock(self, at: float | None = None) -> None:
        """Freeze the elapsed time at `at` (default: now)."""
        if self._started is not None and self._stopped is None:
            self._stopped = at if at is not None else self._clock()
        self._timer.stop()
        self._on_tick()

    def reset(self) -> None:
        self._timer.stop()
        self._started = self._stopped = None
        self.set_usage(0, 0)
        self.set_cost(0)
        self.set_estimate("", "")
        self.set_tasks(Counts(0, 0, 0, 0))
        self._on_tick()

    # --- reading (tests, accessibility) ----------------------------------------------

    @property
    def started(self) -> float | None:
        return self._started

    @property
    def ticking(self) -> bool:
        return self._timer.isActive()

    def elapsed_seconds(self) -> float:
        if self._started is None:
            return 0.0
        end = self._stopped if self._stopped is not None else self._clock()
        return max(0.0, end - self._started)

    def texts(self) -> dict[str, str]:
        """The shown values: {"tokens", "cost", "elapsed", "tasks", "failed"}."""
        return {
            "tokens": self.tokens.value.text(),
            "cost": self.cost.value.text(),
            "elapsed": self.elapsed.value.text(),
            "tasks": self.tasks.value.text(),
            "failed": self.failed.text(),
            "estimate": self.cost.note.text(),
        }

    def _on_tick(self) -> None:
        self.elapsed.set(fmt.duration(self.elapsed_seconds()))
