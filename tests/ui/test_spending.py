"""The spending view over a real SQLite file: the table shows what `troupe usage`
prints for the same data, the choosers switch period and grouping, and the top
runs open in the main window."""

from __future__ import annotations

import json

import pytest

from app.cli.main import main
from app.paths import db_path
from app.storage import open_database
from app.usage import named_period, usage_report
from tests.support.usage_data import Seeded, seed_usage
from ui.history import META_ROLE
from ui.spending import SpendingView

CLI_SINCE = {"7d": "7d", "30d": "30d", "90d": "90d", "all": "1970-01-02"}
"""The command's --since for each of the view's periods."""


@pytest.fixture
def seeded() -> Seeded:
    store = open_database(db_path())
    try:
        return seed_usage(store)
    finally:
        store.close()


@pytest.fixture
def view(qtbot, seeded):
    store = open_database(db_path())
    view = SpendingView(lambda period, by: usage_report(store, named_period(period), by))
    qtbot.addWidget(view)
    view.show()
    yield view
    store.close()


def command_rows(capsys, period: str, by: str) -> tuple[list[list[str]], dict]:
    """What `troupe usage --json` says for the same choice, as the table's cells."""
    assert main(["usage", "--by", by, "--since", CLI_SINCE[period], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = [[r["key"], f"{r['calls']:,}", f"{r['tokens']:,}", r["cost_text"]] for r in data["rows"]]
    return rows, data


@pytest.mark.parametrize("period", ["7d", "30d", "90d", "all"])
@pytest.mark.parametrize("by", ["day", "project", "model", "role"])
def test_the_table_shows_what_the_command_prints(view, capsys, period, by):
    view.choose(period, by)
    rows, data = command_rows(capsys, period, by)
    assert view.table_rows() == rows
    assert [row[0] for row in view.run_rows()] == [r["cost_text"] for r in data["top_runs"]]
    assert data["total"]["cost_text"] in view.total.text()
    header = view.table.horizontalHeaderItem(0)
    assert header is not None and header.text() == by.capitalize()


def test_the_choosers_switch_period_and_grouping(view, seeded):
    assert view.period.currentText() == "Last 30 days" and view.by.currentText() == "Day"
    assert len(view.table_rows()) == 2  # yesterday and today
    view.by.setCurrentIndex(view.by.findData("project"))
    assert [r[0] for r in view.table_rows()] == ["Alpha", "Mystery", "Local"]
    assert [r[3] for r in view.table_rows()] == ["$0.1000", "$0.0500 + price unknown (2 calls)", "free"]
    view.period.setCurrentIndex(view.period.findData("all"))
    assert view.table_rows()[0][:2] == ["Alpha", "6"]  # the run of 60 days ago joins
    assert view.run_rows()[0][0] == "$1.00"
    assert "2 calls went to models with no known price" in view.note.text()
    assert view.note.isVisibleTo(view)


def test_a_period_without_calls_says_so(qtbot, tmp_path):
    store = open_database(tmp_path / "empty.db")
    view = SpendingView(lambda period, by: usage_report(store, named_period(period), by))
    qtbot.addWidget(view)
    view.show()
    assert view.table_rows() == [] and view.empty.isVisibleTo(view) and not view.chart.isVisibleTo(view)
    store.close()


def test_double_clicking_a_top_run_asks_to_open_it(view, qtbot, seeded):
    item = view.runs.item(1, 3)
    assert item is not None and item.text() == "Translate the manual"
    with qtbot.waitSignal(view.runOpened) as opened:
        view.runs.itemDoubleClicked.emit(item)
    assert opened.args == [seeded.mystery]


def test_the_chart_draws_one_bar_per_row(view):
    pytest.importorskip("pyqtgraph", reason="pyqtgraph (and its colorama) from requirements/runtime.txt")
    from ui.spending_chart import SpendingChart  # noqa: PLC0415

    assert isinstance(view.chart, SpendingChart)
    view.choose("30d", "model")
    assert view.chart.bar_labels() == [row[0] for row in view.table_rows()]
    view.choose("30d", "day")  # every day of the period, quiet ones too
    assert len(view.chart.bar_labels()) == 30 and view.chart.bar_labels()[-2:] == [
        row[0] for row in view.table_rows()]


def test_the_chart_follows_the_palette(view, qapp):
    pytest.importorskip("pyqtgraph", reason="pyqtgraph (and its colorama) from requirements/runtime.txt")
    from PySide6.QtGui import QColor, QPalette  # noqa: PLC0415

    original = qapp.palette()
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Base, QColor("#1f1f1f"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    try:
        qapp.setPalette(dark)
        qapp.processEvents()
        assert view.chart.backgroundBrush().color().name() == "#1f1f1f"
    finally:
        qapp.setPalette(original)
    qapp.processEvents()
    assert view.chart.backgroundBrush().color() == original.color(QPalette.ColorRole.Base)


def test_history_rows_and_the_run_totals_say_price_unknown(qtbot, seeded):
    from ui.history import HistoryPanel  # noqa: PLC0415
    from ui.run_view import format as fmt  # noqa: PLC0415

    store = open_database(db_path())
    panel = HistoryPanel(lambda text: store.list_runs(search=text or None))
    qtbot.addWidget(panel)
    panel.refresh()
    index = panel._run_index(seeded.mystery)
    assert index.data(META_ROLE).endswith("· $0.0500 + price unknown (2 calls)")
    assert panel._run_index(seeded.local).data(META_ROLE).endswith("· $0.0000")  # free: priced at $0, known
    store.close()
    assert fmt.cost(0.0, known=False) == "price unknown"  # never a silent $0.0000
    assert fmt.cost(0.25, known=False) == "≥ $0.2500"
