"""Settings › Models › Model catalog…: download instruction-tuned GGUF models.

The catalog (app.models) in a table: size, memory needed, whether it fits this
computer, licence, what is downloaded; the selected model's description under
it. Download (or pull with Ollama, when it runs), Pause / Resume, Cancel, with
a progress bar (bytes, speed, time left); when done, "Use as default".

A download runs on a thread of its own (app.models.threaded), awaited as one of
the Settings dialog's jobs: the UI thread never writes or hashes the file, and
closing Settings pauses it (the `.part` stays and resumes next time).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from agents.errors import TroupeError
from app.models.catalog import CatalogEntry, CatalogError, fits, total_memory
from app.models.download import (
    Control,
    DownloadResult,
    Outcome,
    Progress,
    ProgressCallback,
    human_bytes,
)
from app.models.installed import CatalogState, catalog_states, install, models_dir, remove
from app.models.ollama import OllamaModel, ollama_models, ollama_pull
from app.models.threaded import in_thread
from ui import theme
from ui.settings.jobs import Jobs
from ui.settings.widgets import OK_COLOUR, WARN_COLOUR, Roomy, hint_label, row, say

COLUMNS = ("Model", "Size", "Memory", "Fits", "Licence", "Status")
MODEL, SIZE, MEMORY, FITS, LICENCE, STATUS = range(len(COLUMNS))


@dataclass(frozen=True)
class Active:
    """The download under way."""

    entry: CatalogEntry
    """What is being downloaded."""
    control: Control
    """Pauses or cancels it."""
    ollama: bool
    """True when Ollama pulls it (then it runs as ollama/<name>)."""


@dataclass(frozen=True)
class Ended:
    """How a download job ended: an outcome, or the one-line reason it failed."""

    outcome: Outcome | None
    """Done, paused or cancelled; None when it failed."""
    error: str = ""
    """Why it failed, in one line."""


class CatalogBox(QWidget):
    """The catalog table, the selected model's details, the download's controls."""

    defaultChosen = Signal(str)  # noqa: N815 - Qt signal naming
    """"Use as default" was pressed: the model string ("local/qwen3-1.7b")."""
    modelAdded = Signal(str)  # noqa: N815
    """A model finished downloading (or pulling): its model string."""
    activity = Signal(str)  # noqa: N815
    """One line on the download under way ("" when none)."""

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.memory = total_memory()
        self.states: list[CatalogState] = []
        self.ollama: list[OllamaModel] | None = None
        self.active: Active | None = None
        self.last: Progress | None = None
        self.paused: dict[str, Progress] = {}
        """The last progress of each download paused here, by catalog id."""
        self.table = QTreeWidget()
        self.details = QLabel()
        self.progress = QProgressBar()
        self.progress_text = hint_label()
        self.download_button = QPushButton("Download")
        self.ollama_button = QPushButton("Pull with Ollama")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.default_button = QPushButton("Use as default")
        self.note = hint_label()
        self.ollama_note = hint_label()
        self._build()
        self._connect()
        self.refresh()

    # --- construction ----------------------------------------------------------------

    def _build(self) -> None:
        memory = f", which has {human_bytes(self.memory)} of memory" if self.memory else ""
        intro = hint_label(f"Instruction-tuned models from Hugging Face that run offline on this "
                           f"computer{memory}.\nDownloads go to {models_dir()}")
        self._build_table()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setMinimumHeight(self.fontMetrics().lineSpacing() * 3 + 6)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(10)
        self.progress_box = _column(self.progress, self.progress_text)
        self.progress_box.hide()
        self.note.hide()
        self.pause_button.setToolTip("Stop for now; the part downloaded stays and Resume continues.")
        self.cancel_button.setToolTip("Stop and delete what was downloaded.")
        self.ollama_button.setToolTip("Have the Ollama running on this computer pull it "
                                      "(it then runs as ollama/<name>).")
        buttons = row(self.download_button, self.ollama_button, self.pause_button,
                      self.cancel_button, None, self.default_button, stretch=None)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        for widget in (intro, self.table, self.details, self.progress_box, buttons, self.note,
                       self.ollama_note):
            layout.addWidget(widget, 1 if widget is self.table else 0)

    def _build_table(self) -> None:
        table = self.table
        table.setColumnCount(len(COLUMNS))
        table.setHeaderLabels(list(COLUMNS))
        table.setRootIsDecorated(False)
        table.setUniformRowHeights(True)
        table.setAlternatingRowColors(True)
        table.setAccessibleName("Model catalog")
        table.setItemDelegate(Roomy(6, 18, table))
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(MODEL, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(STATUS, self.fontMetrics().horizontalAdvance("100% · 999.9 MB/s") + 24)
        table.setMinimumHeight(self.fontMetrics().lineSpacing() * 10)

    def _connect(self) -> None:
        self.table.currentItemChanged.connect(lambda *_: self._on_selected())
        self.download_button.clicked.connect(lambda: self._start(ollama=False))
        self.ollama_button.clicked.connect(lambda: self._start(ollama=True))
        self.pause_button.clicked.connect(self._on_pause)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.default_button.clicked.connect(self._on_default)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.jobs.start(ollama_models(), self._on_ollama, lambda _exc: None)

    # --- the table ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the catalog and what is on disk again, keeping the selection."""
        try:
            self.states = catalog_states()
        except (CatalogError, TroupeError) as exc:
            self.states = []
            self._say(str(exc), theme.FAILED_COLOUR)
        selected = self.selected()
        self.table.clear()
        for state in self.states:
            self.table.addTopLevelItem(self._item(state))
        ids = [s.entry.id for s in self.states]
        index = ids.index(selected.entry.id) if selected and selected.entry.id in ids else 0
        if (item := self.table.topLevelItem(index)) is not None:
            self.table.setCurrentItem(item)
        self._on_selected()

    def _item(self, state: CatalogState) -> QTreeWidgetItem:
        entry = state.entry
        item = QTreeWidgetItem([entry.name, human_bytes(entry.size_bytes),
                                human_bytes(entry.memory_bytes), "", entry.licence, ""])
        item.setData(MODEL, Qt.ItemDataRole.UserRole, entry.id)
        item.setToolTip(MODEL, entry.description)
        for column in (SIZE, MEMORY):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        fit = fits(entry, self.memory)
        item.setText(FITS, {True: "✓", False: "⚠", None: "?"}[fit])
        item.setTextAlignment(FITS, Qt.AlignmentFlag.AlignCenter)
        bold = item.font(FITS)
        bold.setBold(True)
        item.setFont(FITS, bold)
        if fit is not None:
            item.setForeground(FITS, QColor(OK_COLOUR if fit else WARN_COLOUR))
        item.setToolTip(FITS, _fit_tip(entry, self.memory, fit))
        self._set_status(item, state)
        return item

    def _set_status(self, item: QTreeWidgetItem, state: CatalogState) -> None:
        item.setText(STATUS, self._status(state))
        if state.installed is not None:
            item.setForeground(STATUS, QColor(OK_COLOUR))

    def _status(self, state: CatalogState) -> str:
        if self.active is not None and self.active.entry.id == state.entry.id:
            last = self.last
            if last is None or not last.total:
                return "Starting…"
            speed = f" · {human_bytes(last.speed)}/s" if last.speed else ""
            return f"{last.fraction:.0%}{speed}"
        if state.installed is not None:
            return "Downloaded"
        if state.partial:
            return f"Paused at {human_bytes(state.partial)}"
        if self._in_ollama(state.entry):
            return "In Ollama"
        return ""

    def selected(self) -> CatalogState | None:
        item = self.table.currentItem()
        wanted = item.data(MODEL, Qt.ItemDataRole.UserRole) if item is not None else None
        return next((s for s in self.states if s.entry.id == wanted), None)

    def select(self, model_id: str) -> None:
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item is not None and item.data(MODEL, Qt.ItemDataRole.UserRole) == model_id:
                self.table.setCurrentItem(item)

    def _in_ollama(self, entry: CatalogEntry) -> bool:
        names = {m.name for m in self.ollama or []}
        return bool(entry.ollama) and (entry.ollama in names or f"{entry.ollama}:latest" in names)

    # --- the selected model and the buttons -------------------------------------------------

    def _on_selected(self) -> None:
        state = self.selected()
        self.details.setText(_details(state.entry, self.memory) if state else "")
        busy = self.active is not None
        installed = state is not None and state.installed is not None
        partial = state is not None and state.partial > 0
        self.download_button.setText("Resume" if partial and not busy else
                                     "Downloaded" if installed else "Download")
        self.download_button.setEnabled(state is not None and not busy and not installed)
        self.pause_button.setEnabled(busy and not (self.active and self.active.control.stopping))
        self.cancel_button.setEnabled(busy or partial)
        can_pull = self.ollama is not None and state is not None and bool(state.entry.ollama)
        self.ollama_button.setVisible(self.ollama is not None)
        self.ollama_button.setEnabled(can_pull and not busy and not self._in_ollama(state.entry)
                                      if state else False)
        in_ollama = state is not None and self._in_ollama(state.entry)
        self.default_button.setEnabled(installed or in_ollama)
        if not busy:
            self._show_paused(state)

    def _model_of(self, state: CatalogState) -> str:
        if state.installed is None and self._in_ollama(state.entry):
            return f"ollama/{state.entry.ollama}"
        return state.model

    def _on_default(self) -> None:
        state = self.selected()
        if state is None:
            return
        model = self._model_of(state)
        self.defaultChosen.emit(model)
        self._say(f"The default model is now {model} (press OK in Settings to keep it).", OK_COLOUR)

    # --- downloads ---------------------------------------------------------------------------

    def _start(self, ollama: bool) -> None:
        state = self.selected()
        if state is None or self.active is not None:
            return
        entry, control = state.entry, Control()
        self.active, self.last = Active(entry, control, ollama), None
        if ollama:
            coro = _run(lambda relay: ollama_pull(entry.ollama or "", progress=relay, control=control),
                        self._on_progress, control)
        else:
            coro = _run(lambda relay: install(entry, progress=relay, control=control),
                        self._on_progress, control)
        self.jobs.start(coro, self._on_ended, self._on_crashed)
        self.note.hide()
        self.progress.setValue(0)
        say(self.progress_text, f"{'Asking Ollama for' if ollama else 'Downloading'} {entry.name}…")
        self.progress_box.show()
        self._refresh_row(entry)
        self._on_selected()

    def _on_progress(self, progress: Progress) -> None:
        if self.active is None:
            return
        self.last = progress
        self.progress.setValue(int(progress.fraction * 1000))
        say(self.progress_text, f"{self.active.entry.name}: {progress.line()}")
        self._refresh_row(self.active.entry)
        self.activity.emit(f"Downloading {self.active.entry.name}: {progress.fraction:.0%}")

    def _refresh_row(self, entry: CatalogEntry) -> None:
        index = next((i for i, s in enumerate(self.states) if s.entry.id == entry.id), None)
        item = self.table.topLevelItem(index) if index is not None else None
        if item is not None and index is not None:
            self._set_status(item, self.states[index])

    def _on_pause(self) -> None:
        if self.active is not None:
            self.active.control.pause()
            say(self.progress_text, f"Pausing {self.active.entry.name}…")
            self.pause_button.setEnabled(False)

    def _on_cancel(self) -> None:
        if self.active is not None:
            self.active.control.cancel()
            say(self.progress_text, f"Cancelling {self.active.entry.name}…")
            return
        state = self.selected()
        if state is not None and state.partial:
            try:
                remove(state.entry.id)
            except TroupeError as exc:
                self._say(f"Could not delete the paused download: {exc}", theme.FAILED_COLOUR)
            else:
                self._say(f"Deleted the paused download of {state.entry.name}.")
            self.progress_box.hide()
            self.refresh()

    def _on_ended(self, ended: Ended) -> None:
        active, self.active = self.active, None
        self.activity.emit("")
        if active is None:
            return
        name = active.entry.name
        if ended.error:
            self._say(f"{name}: {ended.error}", theme.FAILED_COLOUR)
        elif ended.outcome is Outcome.DONE:
            model = f"ollama/{active.entry.ollama}" if active.ollama else f"local/{active.entry.id}"
            checked = "" if active.ollama else " (SHA-256 checked)"
            self._say(f"{name} is ready as {model}{checked}: “Use as default” makes it the default.",
                      OK_COLOUR)
            self.modelAdded.emit(model)
            if active.ollama:
                self.jobs.start(ollama_models(), self._on_ollama, lambda _exc: None)
        elif ended.outcome is Outcome.PAUSED:
            self.note.hide()  # the bar says it
            if self.last is not None:
                self.paused[active.entry.id] = self.last
        else:
            self._say(f"{name}: download cancelled, nothing kept.")
        self.select(active.entry.id)
        self.refresh()

    def _show_paused(self, state: CatalogState | None) -> None:
        """No download under way: the bar shows the selected model's paused one, if any."""
        if state is None or not state.partial:
            self.progress_box.hide()
            return
        last = self.paused.get(state.entry.id)
        total = last.total if last else state.entry.size_bytes  # the catalog's size: near enough
        self.progress.setValue(int(min(state.partial / total, 1.0) * 1000) if total else 0)
        of = f" of {human_bytes(total)} ({state.partial / total:.0%})" if last else ""
        say(self.progress_text, f"{state.entry.name}: paused at {human_bytes(state.partial)}{of}; "
                                f"Resume continues where it stopped.")
        self.progress_box.show()

    def _on_crashed(self, exc: BaseException) -> None:
        self._on_ended(Ended(None, f"{type(exc).__name__}: {exc}"))

    def _on_ollama(self, models: list[OllamaModel] | None) -> None:
        self.ollama = models
        if models is None:
            self.ollama_note.hide()
        else:
            names = ", ".join(m.name for m in models) or "none yet"
            say(self.ollama_note, f"Ollama is running on this computer; its models: {names}.")
            self.ollama_note.show()
        for index, state in enumerate(self.states):
            item = self.table.topLevelItem(index)
            if item is not None:
                self._set_status(item, state)
        self._on_selected()

    def _say(self, text: str, colour: str | None = None) -> None:
        say(self.note, text, colour)
        self.note.show()


async def _run(start: Callable[[ProgressCallback], Coroutine[Any, Any, DownloadResult | Outcome]],
               on_progress: ProgressCallback, control: Control) -> Ended:
    """The download on its own thread; its end (or its one-line failure) as a value."""
    try:
        result = await in_thread(start, on_progress, control)
    except TroupeError as exc:
        return Ended(None, str(exc))
    outcome = result if isinstance(result, Outcome) else result.outcome
    return Ended(outcome)


def _details(entry: CatalogEntry, memory: int | None) -> str:
    context = f"{entry.context_length // 1024}k" if entry.context_length >= 1024 else str(entry.context_length)
    facts = " · ".join((f"{entry.parameters} parameters", f"{context} context", entry.licence,
                        f"{entry.repo}/{entry.file}"))
    text = (f"<b>{html.escape(entry.name)}</b> — {html.escape(entry.description)}<br>"
            f"<span style='color: {theme.css(theme.dim_text_colour())}'>{html.escape(facts)}</span>")
    if fits(entry, memory) is False:
        text += f"<br><span style='color: {WARN_COLOUR}'>⚠ {html.escape(_fit_tip(entry, memory, False))}</span>"
    return text


def _fit_tip(entry: CatalogEntry, memory: int | None, fit: bool | None) -> str:
    need = f"Needs about {human_bytes(entry.memory_bytes)} of memory"
    if fit is None:
        return f"{need}; this computer's memory is unknown."
    if fit:
        return f"{need}; this computer has {human_bytes(memory or 0)}."
    return f"{need}, more than this computer's {human_bytes(memory or 0)}: it may not load, or be slow."


def _column(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    for widget in widgets:
        layout.addWidget(widget)
    return box


class CatalogDialog(QDialog):
    """The catalog in a window of its own, opened from Settings › Models.

    Closing it only hides it: a download goes on and shows again on reopening.
    """

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model catalog")
        self.box = CatalogBox(jobs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 10)
        layout.addWidget(self.box, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(760)  # narrower, the model names are cut
        self.resize(860, 560)
