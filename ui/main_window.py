"""The main window: history on the left, the conversation in the centre,
the plan and the run on the right."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QPaintEvent,
    QShortcut,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.paths import data_dir
from app.providers.registry import load_providers
from app.roster_store import save_user_roster
from app.runs.service import RunService
from app.session_marker import interrupted_by
from app.settings import load_settings, save_settings
from ui.constraints_row import ConstraintsRow
from ui.conversation import ConversationView
from ui.crash_notice import CrashNotice
from ui.history import HistoryPanel
from ui.model_notice import ModelNotice
from ui.plan_tree import PlanTreeModel, PlanTreeView
from ui.run_view import RunView
from ui.session import Session
from ui.window_extras import add_help_menu, ask_export

if TYPE_CHECKING:
    from app.providers.checks import Detection
    from app.session_marker import UnexpectedEnd
    from app.storage.errors import DatabaseDamaged
    from ui.restore_dialog import RestoreDialog
    from ui.settings import SettingsDialog
    from ui.spending import SpendingView


log = logging.getLogger(__name__)


GOAL_PLACEHOLDER = "Describe a goal for your team…  (Ctrl+Enter to send)"
FOLLOW_UP_PLACEHOLDER = "What should the team do with this result?  (Ctrl+Enter to send)"


class GoalInput(QPlainTextEdit):
    """The message box: Ctrl+Enter sends."""

    def __init__(self) -> None:
        super().__init__()
        self.setPlaceholderText(GOAL_PLACEHOLDER)
        self.setFixedHeight(72)


HISTORY_POLL_MS = 3000
"""How often the history looks for runs other processes wrote."""
MIN_WIDTH, MIN_HEIGHT = 900, 600
"""Below this the plan, the run and the conversation cannot all be read."""
COLLAPSE_HISTORY_BELOW = 1180
"""Narrower windows start with the history column collapsed."""
HISTORY_WIDTH = 260
"""The history column at most, when there is room for it."""
RIGHT_PANE_MIN = 600
"""The plan and run pane's share never goes under this (its table and the run's controls)."""
CONVERSATION_MIN_WIDTH = 270
"""Narrower, the goal box wraps every word and cards are cut (seen at 1000 px)."""


def _widget_shortcut(keys: str | Qt.Key, widget: QWidget, slot: Callable[[], object]) -> QShortcut:
    """A shortcut only while `widget` has the focus (PySide6's constructor ignores `context=`)."""
    shortcut = QShortcut(QKeySequence(keys), widget, slot)
    shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
    return shortcut


def pane_widths(width: int) -> list[int]:
    """History, conversation and plan/run widths for a window `width` wide: the plan and
    run pane keeps what its table needs (~620 px), the history gives way first."""
    right = max(RIGHT_PANE_MIN, int(width * 0.5))
    if width < COLLAPSE_HISTORY_BELOW:
        return [0, max(CONVERSATION_MIN_WIDTH, width - right), right]
    history = min(HISTORY_WIDTH, int(width * 0.17))
    return [history, max(CONVERSATION_MIN_WIDTH, width - right - history), right]


class MainWindow(QMainWindow):
    """The window. With a service whose database is not open yet
    (`RunService.deferred`), it paints first and opens the database right
    after its first frame; Send is disabled and the history says "Loading"
    until then, and `storageReady` is emitted once the history is filled."""

    storageReady = Signal()

    STORAGE_FALLBACK_MS = 1000
    """Open the database by then even if the window was not painted (e.g. on another desktop)."""

    def __init__(self, service: RunService) -> None:
        super().__init__()
        self.setWindowTitle("Troupe")
        self.service = service
        self.history = HistoryPanel(lambda text: service.store.list_runs(search=text or None))
        self.conversation = ConversationView()
        self.notice = ModelNotice()
        self.crash_notice = CrashNotice()
        self._last_end: UnexpectedEnd | None = None
        self.plan_model = PlanTreeModel(roster=service.roster)
        self.plan_view = PlanTreeView(self.plan_model)
        self.run_view = RunView()
        self.session = Session(service, self.conversation, self.plan_model, self.plan_view,
                               self.run_view, parent=self)
        self.goal = GoalInput()
        self.send = QPushButton("Send")
        self.send.setDefault(True)
        self.model_picker = QComboBox()
        """The model the next run uses (the settings' default until another is picked)."""
        self.model_picker.setToolTip("The model the next run uses (set the default in Settings › Models)")
        self.model_picker.setAccessibleName("Model for the next run")
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_picker.setMinimumContentsLength(10)
        self.model_picker.setMaximumWidth(260)
        self.constraints_row = ConstraintsRow()
        """The composer's options: a budget and a deadline for the next run."""
        self.status = QLabel()
        self._build_layout()
        self._build_actions()
        self._connect()
        self._restore_layout()
        self._on_model_changed()
        self._history_poll = QTimer(self, interval=HISTORY_POLL_MS)
        self._history_poll.timeout.connect(self._poll_history)
        self._history_seen: tuple[object, ...] = ()
        self._storage_timer = QTimer(self, singleShot=True)
        self._storage_timer.timeout.connect(self._open_storage)
        self.restore_dialog: RestoreDialog | None = None
        """Shown when the history database is damaged (ui/restore_dialog.py)."""
        self.spending: SpendingView | None = None
        """View › Spending, built the first time it is opened (it imports pyqtgraph)."""
        if service.ready:
            self._on_storage_open()
        else:
            self._await_storage()

    # --- layout -------------------------------------------------------------------------

    def _build_layout(self) -> None:
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.crash_notice)
        column.addWidget(self.notice)
        column.addWidget(self.conversation, 1)
        column.addWidget(self._build_follow_up_row())
        row = QHBoxLayout()
        row.addWidget(self.goal, 1)
        row.addWidget(self.send, 0, Qt.AlignmentFlag.AlignBottom)
        column.addLayout(row)
        options = QHBoxLayout()
        options.addWidget(self.constraints_row, 1)
        options.addWidget(self.model_picker)
        column.addLayout(options)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plan_view)
        right.addWidget(self.run_view)
        right.setSizes([380, 420])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.history)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setCollapsible(0, True)  # the history gives way first on a small screen
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 4)
        self.history.setMinimumWidth(180)
        centre.setMinimumWidth(CONVERSATION_MIN_WIDTH)  # the goal box and cards stay readable
        self.setCentralWidget(self.splitter)
        self.statusBar().addPermanentWidget(self.status)
        self._fit_to_screen(1680, 980)
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)  # where the layout truly ends

    def _build_follow_up_row(self) -> QWidget:
        """"↳ Following up “goal”  ✕" over the goal box, while the next goal is a follow-up."""
        self.follow_up_label = QLabel()
        self.follow_up_label.setWordWrap(True)
        self.follow_up_cancel = QPushButton("✕")
        self.follow_up_cancel.setFlat(True)
        self.follow_up_cancel.setToolTip("Not a follow-up: the next goal starts a new conversation")
        self.follow_up_row = QWidget()
        line = QHBoxLayout(self.follow_up_row)
        line.setContentsMargins(6, 0, 6, 0)
        line.addWidget(self.follow_up_label, 1)
        line.addWidget(self.follow_up_cancel)
        self.follow_up_row.hide()
        return self.follow_up_row

    def _fit_to_screen(self, width: int, height: int) -> None:
        """The preferred size, never more than the screen's free area (a window
        wider than the screen hides the run view's right edge); on a narrow screen
        the history column starts collapsed (drag its edge, or Ctrl+F, to bring it back)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, free.width()), min(height, free.height())
        self.resize(width, height)
        self.splitter.setSizes(pane_widths(width))


    def _build_actions(self) -> None:
        self.new_conversation_action = QAction("New conversation", self,
                                               shortcut=QKeySequence(QKeySequence.StandardKey.New))
        self.new_conversation_action.setToolTip("Leave this run: the next goal starts a run of its own")
        self.new_project_action = QAction("New project…", self, shortcut=QKeySequence("Ctrl+Shift+N"))
        self.search_action = QAction("Search history", self, shortcut=QKeySequence(QKeySequence.StandardKey.Find))
        self.run_action = QAction("Run plan", self, shortcut=QKeySequence("Ctrl+R"))
        # not Esc: Esc belongs to the widget with focus (leave an editor, clear the search)
        self.cancel_action = QAction("Cancel run", self, shortcut=QKeySequence("Ctrl+."))
        self.cancel_action.setToolTip("Stop the run; finished tasks are kept (asks first while tasks are working)")
        self.settings_action = QAction("Settings…", self)
        # the platform's Preferences key is unbound on most Linux desktops: Ctrl+, everywhere
        self.settings_action.setShortcuts([*QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences),
                                           QKeySequence("Ctrl+,")])
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.replan_action = QAction("Replan…", self, shortcut=QKeySequence("Ctrl+Shift+R"))
        self.replan_action.setToolTip("Ask the orchestrator to revise the plan; finished tasks are kept")
        self.quit_action = QAction("Quit", self, shortcut=QKeySequence(QKeySequence.StandardKey.Quit))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.spending_action = QAction("Spending…", self, shortcut=QKeySequence("Ctrl+Shift+S"))
        self.spending_action.setToolTip("Where the money went: cost by day, project, model or role")
        for action in (self.new_conversation_action, self.new_project_action, self.search_action, self.run_action, self.cancel_action,
                       self.spending_action, self.settings_action, self.quit_action):
            self.addAction(action)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.new_conversation_action)
        menu.addAction(self.new_project_action)
        menu.addAction(self.search_action)
        menu.addSeparator()
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        self.menuBar().addMenu("&View").addAction(self.spending_action)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.cancel_action)
        run_menu.addSeparator()
        run_menu.addAction(self.replan_action)
        self.help_actions = add_help_menu(self)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):  # the composer's own: an approval editor has its own
            _widget_shortcut(keys, self.goal, self._on_send)
        _widget_shortcut(Qt.Key.Key_Escape, self.history.search, self.history.search.clear)

    def _connect(self) -> None:
        self.send.clicked.connect(self._on_send)
        self.new_project_action.triggered.connect(self._on_new_project)
        self.new_conversation_action.triggered.connect(self._on_new_conversation)
        self.model_picker.activated.connect(self._on_model_picked)
        self.session.configChanged.connect(self._show_models)
        self.conversation.followUpRequested.connect(self.session.offer_follow_up)
        self.session.followUpChanged.connect(self._on_follow_up_changed)
        self.follow_up_cancel.clicked.connect(self.session.cancel_follow_up)
        self.search_action.triggered.connect(self._on_search)
        self.run_action.triggered.connect(self.session.start_run)
        self.cancel_action.triggered.connect(self.session.request_cancel)
        self.replan_action.triggered.connect(self._on_replan)
        self.settings_action.triggered.connect(lambda: self._on_settings())
        self.spending_action.triggered.connect(self._on_spending)
        self.quit_action.triggered.connect(self.close)  # closing the window quits, run kept resumable
        self.notice.settingsRequested.connect(lambda: self._on_settings(tab="Providers"))  # set one up
        self.crash_notice.resumeRequested.connect(self._on_crash_resume)
        self.history.runSelected.connect(self.session.open_run)
        self.history.projectBudgetRequested.connect(self._on_project_budget)
        self.session.historyChanged.connect(self.history.refresh)
        self.session.busyChanged.connect(self._on_busy_changed)
        self.plan_model.validityChanged.connect(lambda _ok: self._on_model_changed())
        self.conversation.exportRequested.connect(self._on_export_requested)
        self.conversation.planEditRequested.connect(self._on_edit_plan)
        self.conversation.exampleChosen.connect(self._use_example)
        self.conversation.planApproved.connect(lambda: QTimer.singleShot(0, self._after_approve))

    # --- staged start -----------------------------------------------------------------------

    def _await_storage(self) -> None:
        self.send.setEnabled(False)
        self.history.show_loading()
        self._storage_timer.start(self.STORAGE_FALLBACK_MS)  # paintEvent brings it forward

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if self._storage_timer.isActive() and self._storage_timer.interval() > 0:
            # a zero timer started here fires once this whole paint pass is on screen
            self._storage_timer.start(0)

    def _open_storage(self) -> None:
        try:
            self.service.open_store()
        except Exception as exc:  # noqa: BLE001 - shown to the person, the window stays up
            log.exception("opening the history database failed")
            self.history.empty.setText("The history could not be opened.")
            # storage is imported after the first paint
            from app.storage.errors import DatabaseDamaged, StorageError  # noqa: PLC0415

            # a StorageError already names the file and says what to do
            said = str(exc) if isinstance(exc, StorageError) else (
                f"The history database could not be opened ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no details'}); see logs/troupe.log.")
            print(f"troupe: {said}", file=sys.stderr)  # for a terminal, and a log that cannot be written
            if isinstance(exc, DatabaseDamaged):
                self._offer_restore(exc)
            else:
                self.show_warning("History", said)
            return
        self._on_storage_open()

    def _offer_restore(self, error: DatabaseDamaged) -> None:
        from ui.restore_dialog import RestoreDialog  # noqa: PLC0415 - only for a damaged file

        self.restore_dialog = RestoreDialog(error, self)
        self.restore_dialog.restored.connect(self._on_restored)
        self.restore_dialog.failed.connect(lambda text: self.show_warning("History", text))
        self.restore_dialog.open()  # open(), not exec(): no nested event loop under qasync

    def _on_restored(self, line: str) -> None:
        self.status.setText(line)
        self.history.show_loading()
        self._open_storage()

    def _on_storage_open(self) -> None:
        self._history_poll.start()
        self.send.setEnabled(not self.session.running)
        self.goal.setFocus(Qt.FocusReason.OtherFocusReason)  # a newcomer types a goal, not a search
        self.history.refresh()
        self._offer_resume()
        self._offer_crash_resume()
        self._show_model_notice()
        self.storageReady.emit()

    def _poll_history(self) -> None:
        """Show runs another process writes (a `troupe run` in a terminal) without waiting
        for something here to refresh the list: two cheap queries every few seconds."""
        if not self.service.ready or not self.isVisible():
            return
        try:
            store = self.service.store
            newest = store.list_runs(limit=1)
            seen = (store.count_runs(), *((newest[0].id, newest[0].status, newest[0].updated) if newest else ()))
        except Exception:  # noqa: BLE001 - a locked or busy database: try again next time
            return
        if seen != self._history_seen:
            if self._history_seen:
                self.history.refresh()
            self._history_seen = seen

    def _show_model_notice(self) -> None:
        config = self.session.config
        self.notice.show_for_model(config.planner_model or config.model)
        self._show_models()

    def _show_models(self) -> None:
        """The picker lists the models this install can reach, the run's one chosen."""
        current = self.session.config.model
        refs = list(dict.fromkeys([current, self.service.settings.default_model,
                                   *self.service.providers.model_refs()]))
        with QSignalBlocker(self.model_picker):
            self.model_picker.clear()
            for ref in refs:
                self.model_picker.addItem(ref, ref)
            self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(current)))

    def _on_model_picked(self, _index: int) -> None:
        ref = str(self.model_picker.currentData() or "")
        if not ref or self.session.running:
            return
        # for the runs started from here on; the default stays what Settings says
        self.session.config = self.service.config(model=ref)
        self.notice.show_for_model(self.session.config.planner_model or ref)
        self.status.setText(f"Model: {ref}  ·  Project: {self.session.project}")

    def apply_first_run(self, found: Detection) -> None:
        """First-run setup found providers and may have chosen a default model."""
        self.service.settings = load_settings()
        self.service.providers = load_providers()
        if not self.session.running:
            self.session.config = self.service.config()
        self.status.setText("Found: " + "; ".join(found.notes) if found.notes else
                            "No model provider found: using the embedded offline model")
        self._show_model_notice()

    # --- handlers -------------------------------------------------------------------------

    def _on_send(self) -> None:
        if not self.service.ready:  # Ctrl+Enter while the database is still opening
            return
        if problem := self.constraints_row.problem():
            self.status.setText(f"Deadline: {problem}")
            self.constraints_row.deadline.setFocus()
            return
        if self.session.submit(self.goal.toPlainText(), self.constraints_row.constraints()):
            self.goal.clear()
            self.constraints_row.reset()  # the next run only

    def _on_project_budget(self, project: str) -> None:
        """A project's "Monthly budget…": set it in a small dialog (open(), not exec())."""
        from app.storage.limits import month_name, project_budget  # noqa: PLC0415 - SQLAlchemy
        from ui.project_budget import ProjectBudgetDialog  # noqa: PLC0415

        found = project_budget(self.service.store, project)
        if found is None:
            return
        dialog = ProjectBudgetDialog(project, found.monthly_budget_usd, found.spent, month_name(), self)
        dialog.accepted.connect(lambda: self._set_project_budget(project, dialog.result_budget()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.project_budget_dialog = dialog

    def _set_project_budget(self, project: str, usd: float | None) -> None:
        from app.approval_text import dollars  # noqa: PLC0415
        from app.storage.limits import set_project_budget  # noqa: PLC0415

        set_project_budget(self.service.store, project, usd)
        said = f"{dollars(usd)} a month" if usd is not None else "no monthly budget"
        self.status.setText(f"Project {project}: {said}")

    def _on_replan(self) -> None:
        text, ok = QInputDialog.getMultiLineText(
            self, "Replan", "What should change? Finished tasks stay as they are.")
        if ok and text.strip():
            self.session.replan(text)

    def _on_settings(self, tab: str = "") -> None:
        # open(), not exec(): no nested event loop under qasync.
        from ui.settings import SettingsDialog  # noqa: PLC0415 - keyring: 50 ms at start-up

        dialog = SettingsDialog(self.service.settings, self.service.roster, self)
        named = [i for i in range(dialog.tabs.count()) if dialog.tabs.tabText(i).replace("&", "") == tab]
        if named:
            dialog.tabs.setCurrentIndex(named[0])
        self.settings_dialog = dialog
        dialog.accepted.connect(lambda: self._apply_settings(dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _on_spending(self) -> None:
        if not self.service.ready:  # the shortcut while the database is still opening
            return
        if self.spending is None:
            from app.usage import named_period, usage_report  # noqa: PLC0415
            from ui.spending import SpendingView  # noqa: PLC0415 - pyqtgraph: only when opened

            store = self.service.store
            self.spending = SpendingView(lambda period, by: usage_report(store, named_period(period), by), self)
            self.spending.runOpened.connect(self._on_spending_run)
            self.session.historyChanged.connect(self._on_history_for_spending)
        else:
            self.spending.refresh()
        self.spending.show()
        self.spending.raise_()
        self.spending.activateWindow()

    def _on_history_for_spending(self) -> None:
        if self.spending is not None and self.spending.isVisible():
            self.spending.refresh()  # a run spent more

    def _on_spending_run(self, run_id: str) -> None:
        """A run double-clicked in the spending view: show it here."""
        if self.session.running:
            self.status.setText("A run is going: open that one when it is done")
            return
        self.session.open_run(run_id)
        self.history.select_run(run_id)
        self.raise_()
        self.activateWindow()

    def _apply_settings(self, dialog: SettingsDialog) -> None:
        settings, roster = dialog.result_settings(), dialog.result_roster()
        themed = settings.theme != self.service.settings.theme
        save_settings(settings)
        self.service.settings = settings
        self.service.providers = dialog.result_providers()  # saved by the dialog
        if roster != self.service.roster:
            save_user_roster(roster)
            self.service.roster = roster
            self.plan_model.set_roster(roster)
        if not self.session.running:
            self.session.config = self.service.config()
        self._show_model_notice()
        if themed and not self.session.running and self.session.run_id is not None:
            self.session.open_run(self.session.run_id)  # cards painted in the old colours, anew
        # what first-run detection said ("No model provider found") is old news now
        self.status.setText(f"Model: {self.session.config.model}  ·  Project: {self.session.project}")

    def show_warning(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def _on_new_project(self) -> None:
        if self.session.running:
            self.status.setText("A run is going: start a new project when it is done")
            return
        dialog = QInputDialog(self)
        dialog.setWindowTitle("New project")
        dialog.setLabelText("Project name:")
        dialog.textValueSelected.connect(self._start_project)
        dialog.finished.connect(dialog.deleteLater)
        self.project_dialog = dialog
        dialog.open()  # no nested event loop under qasync

    def _start_project(self, name: str) -> None:
        if name.strip():
            self.session.new_project(name.strip())
            self.status.setText(f"Project: {name.strip()}")
            self.goal.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_new_conversation(self) -> None:
        if self.session.running:
            self.status.setText("A run is going: start a new conversation when it is done")
            return
        self.session.new_conversation()
        self.goal.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_follow_up_changed(self, goal: str) -> None:
        """The composer says when the next goal follows up a result (and lets it go)."""
        self.follow_up_label.setText(f"↳ Following up “{goal}”" if goal else "")
        self.follow_up_row.setVisible(bool(goal))
        self.goal.setPlaceholderText(FOLLOW_UP_PLACEHOLDER if goal else GOAL_PLACEHOLDER)
        if goal:
            self.goal.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_search(self) -> None:
        if self.splitter.sizes()[0] == 0:  # collapsed on a small screen: open it to search
            sizes = self.splitter.sizes()
            self.splitter.setSizes([220, max(CONVERSATION_MIN_WIDTH, sizes[1] - 220), sizes[2]])
        self.history.search.setFocus()
        self.history.search.selectAll()

    def _on_busy_changed(self, busy: bool) -> None:
        self.send.setEnabled(not self.session.running)
        if not busy and self._focus_is_idle():
            self.goal.setFocus(Qt.FocusReason.OtherFocusReason)  # the run is over: ready for the next goal
        self.status.setText("Working…" if busy else f"Project: {self.session.project}")
        self.settings_action.setEnabled(not self.session.running)
        self.crash_notice.resume_button.setEnabled(not self.session.running)
        self.replan_action.setEnabled(not busy and self.session.can_replan())

    def _on_edit_plan(self) -> None:
        """"Edit plan…": the table (not the graph), with the focus in it."""
        self.plan_view.show_graph(False)
        self.plan_view.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _use_example(self, goal: str) -> None:
        """An example goal from the empty conversation: in the goal box, ready to edit or send."""
        self.goal.setPlainText(goal)
        self.goal.moveCursor(QTextCursor.MoveOperation.End)
        self.goal.setFocus(Qt.FocusReason.OtherFocusReason)

    def _after_approve(self) -> None:
        if self._focus_is_idle():
            self.goal.setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus_is_idle(self) -> bool:
        """Nothing the person is typing in has the focus (none, a hidden button, the
        search box it fell into when a card's buttons went away)."""
        widget = QApplication.focusWidget()
        return widget is None or not widget.isVisible() or widget is self.history.search and not (
            self.history.search.text())

    def _on_model_changed(self) -> None:
        self.run_action.setEnabled(self.plan_model.is_valid())
        self.run_view.set_plan_runnable(self.plan_model.is_valid())
        self.replan_action.setEnabled(self.session.can_replan())

    def _on_export_requested(self, fmt: str) -> None:
        from app.export import export_stored_run  # noqa: PLC0415

        run_id = self.session.run_id
        if run_id is None:
            return

        def write(path: Path) -> None:
            path.write_text(export_stored_run(self.service.store, run_id, fmt), encoding="utf-8")  # with tool calls

        def saved(box: QMessageBox) -> None:
            self.export_confirmation = box

        self.export_dialog = ask_export(self, self.service.get_run(run_id).goal, fmt, write, saved)

    def _offer_resume(self) -> None:
        """Show the newest interrupted run, with Resume enabled."""
        run_id = self.session.latest_interrupted()
        if run_id is not None:
            self.session.open_run(run_id)
            self.history.select_run(run_id)

    def report_unexpected_end(self, last: UnexpectedEnd) -> None:
        """The last session ended unexpectedly (app/session_marker.py): say so at
        once, and offer Resume for the run it interrupted once the history is open."""
        self._last_end = last
        self.crash_notice.show_for(last)
        if self.service.ready:
            self._offer_crash_resume()

    def _offer_crash_resume(self) -> None:
        if self._last_end is None or not self.crash_notice.isVisibleTo(self):
            return  # nothing to say, or dismissed before the history opened
        self.service.store.mark_interrupted()
        run = interrupted_by(self._last_end, self.service.store.list_runs(limit=50))
        if run is not None:
            self.crash_notice.show_for(self._last_end, run.id, run.goal)

    def _on_crash_resume(self, run_id: str) -> None:
        if self.session.running:
            return
        if self.session.run_id != run_id:
            self.session.open_run(run_id)
            self.history.select_run(run_id)
        if self.service.get_run(run_id).status == "interrupted":  # not resumed meanwhile
            self.session.resume()

    # --- window state ----------------------------------------------------------------------

    def _restore_layout(self) -> None:
        settings = _ui_settings()
        if geometry := settings.value("geometry"):
            self.restoreGeometry(QByteArray(geometry))
        if sizes := settings.value("splitter"):
            self.splitter.restoreState(QByteArray(sizes))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        settings = _ui_settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("splitter", self.splitter.saveState())
        # A run still going is stopped by the app's shutdown (Session.aclose),
        # which leaves it "interrupted": the next start offers to resume it.
        super().closeEvent(event)


def _ui_settings() -> QSettings:
    # Beside the rest of the user's data (and per TROUPE_HOME in tests).
    return QSettings(str(data_dir() / "window.ini"), QSettings.Format.IniFormat)
