"""Search results in the history: each run shows where it matched (goal, task output,
deliverable, an approval's edit) with the words around the match, the match marked.

Runs come from a real database written through the EventWriter; rows are drawn by
the real delegate offscreen (the marker's colour is looked for in the pixels)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPalette
from PySide6.QtWidgets import QApplication

from agents import events as ev
from agents.approvals import TaskQuestion
from app.storage import EventWriter, Store, open_database
from tests.app.storage_events import emit_all, finished, sample_plan
from ui import theme
from ui.history import HIT_ROLE, MARKER_COLOUR, META_ROLE, HistoryPanel, hit_pieces

SHOTS = os.environ.get("TROUPE_SHOTS")  # a folder: save screenshots there
SURVEY = ("The survey walked every beach of the southern coast in March and April. "
          "Near the lighthouse we counted forty nesting penguins on the cliffs. "
          "Weather was calm for most of the week and the boats ran on time.")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_database(tmp_path / "troupe.db")
    yield store
    store.close()


def seed(store: Store) -> dict[str, str]:
    """Four runs that mention penguins in one place each (never in their plans)."""
    ids = {name: store.create_run("Birds", goal) for name, goal in (
        ("approval", "Publish the findings"),
        ("deliverable", "Summarise a paper on seabird diets"),
        ("output", "Survey the southern coast"),
        ("goal", "Write a report on emperor penguins"),
    )}
    writer = EventWriter(store, linger=0)
    emit_all(writer, [
        ev.RunStarted(run_id=ids["output"], goal="Survey the southern coast", plan=sample_plan("Survey")),
        finished(ids["output"], "r1", SURVEY),
        ev.DeliverableReady(run_id=ids["deliverable"],
                            markdown="# Seabird diets\n\nKrill makes up most of what penguins eat in winter."),
        ev.RunStarted(run_id=ids["approval"], goal="Publish the findings", plan=sample_plan("Publish")),
        ev.ApprovalRequested(run_id=ids["approval"], request_id="req-1", task_id="risky", subject="task",
                             title="Publish", task=TaskQuestion(agent="coder", instructions="Do publish.")),
        ev.ApprovalResolved(run_id=ids["approval"], request_id="req-1", task_id="risky", action="edit",
                            text="Publish only the appendix on penguins, as a draft for review."),
    ])
    writer.close()
    return ids


def panel_for(qtbot, store: Store, width: int = 380, height: int = 420) -> HistoryPanel:
    panel = HistoryPanel(lambda text: store.list_runs(search=text or None))
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    return panel


def search(qtbot, panel: HistoryPanel, text: str) -> None:
    panel.search.setText(text)
    # what the debounce timer does when it fires; not waited for: after test_crash's quit,
    # Qt's timers in a later test can stay silent under qtbot.waitUntil (seen in make test)
    panel._timer.stop()
    panel.refresh()
    qtbot.wait(10)


def test_each_match_shows_where_it_was_found_with_the_words_around_it(qtbot, store: Store) -> None:
    ids = seed(store)
    panel = panel_for(qtbot, store)
    assert all(panel._run_index(i).data(HIT_ROLE) is None for i in ids.values())  # no search: no third line
    two_lines = panel.tree.sizeHintForIndex(panel._run_index(ids["goal"])).height()

    search(qtbot, panel, "penguin")
    assert panel.run_ids() == [ids["goal"], ids["output"], ids["deliverable"], ids["approval"]]
    found = {name: panel._run_index(i).data(HIT_ROLE) for name, i in ids.items()}
    assert {name: hit.where for name, hit in found.items()} == {
        "goal": "goal", "output": "output of “Find colonies”", "deliverable": "deliverable",
        "approval": "approval edit of “Publish”"}
    assert found["goal"].marked("[", "]") == "Write a report on emperor [penguins]"
    assert "forty nesting [penguins] on the cliffs" in found["output"].marked("[", "]")
    assert found["approval"].marked("[", "]") == "Publish only the appendix on [penguins], as a draft for review."
    index = panel._run_index(ids["output"])
    assert panel.tree.sizeHintForIndex(index).height() > two_lines  # a third line
    assert index.data(META_ROLE)  # the date, status and cost stay
    assert "Found in the output of “Find colonies”: …" in index.data(0x03)  # the tooltip

    search(qtbot, panel, "")
    assert panel._run_index(ids["output"]).data(HIT_ROLE) is None
    assert panel.tree.sizeHintForIndex(panel._run_index(ids["output"])).height() == two_lines


def test_the_matched_word_is_painted_on_a_marker(qtbot, store: Store) -> None:
    ids = seed(store)
    panel = panel_for(qtbot, store)
    marker = theme.mix(panel.tree.palette().color(QPalette.ColorRole.Base), QColor(MARKER_COLOUR), 0.38)
    assert _pixels(panel.tree.viewport().grab().toImage(), marker) == 0
    search(qtbot, panel, "penguin")
    panel.tree.clearSelection()
    image = panel.tree.viewport().grab().toImage()
    for run_id in ids.values():  # every row has its marked word inside its own rectangle
        rect = panel.tree.visualRect(panel._run_index(run_id))
        assert _pixels(image.copy(rect), marker) > 20, run_id


def test_a_match_far_into_a_narrow_line_is_brought_into_view() -> None:
    store_hit = _hit("…The survey walked every beach of the southern coast in March and April. Near the "
                     "lighthouse we counted forty nesting penguins on the cliffs…", "penguins")
    metrics = QFontMetrics(QFont())
    room = metrics.horizontalAdvance("x" * 30)
    pieces = hit_pieces(store_hit, metrics.horizontalAdvance, room)
    before = "".join(words for words, _ in pieces[:1])
    assert pieces[1] == ("penguins", True)
    assert before.startswith("…") and metrics.horizontalAdvance(before + "penguins") <= room
    assert before[1:2].isalpha() and before[1] != " "  # starts at a word
    assert hit_pieces(store_hit, metrics.horizontalAdvance, 10_000)[0][0].startswith("…The survey")


def _hit(text: str, word: str):
    from app.storage.records import SearchHit  # noqa: PLC0415

    start = text.index(word)
    return SearchHit("output", "r1", "output of “Find colonies”", text, ((start, start + len(word)),))


def _pixels(image: QImage, colour: QColor) -> int:
    """How many pixels of `image` are (about) `colour`."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    count = 0
    for y in range(0, image.height()):
        for x in range(0, image.width()):
            pixel = image.pixelColor(x, y)
            if (abs(pixel.red() - colour.red()) <= 2 and abs(pixel.green() - colour.green()) <= 2
                    and abs(pixel.blue() - colour.blue()) <= 2):
                count += 1
    return count


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_search_snippets(qtbot, store: Store, tmp_path: Path, scheme: str, qapp: QApplication) -> None:
    ids = seed(store)
    theme.apply_theme(scheme)
    try:
        panel = panel_for(qtbot, store, 380, 360)
        search(qtbot, panel, "penguin")
        panel.select_run(ids["output"])
        qtbot.wait(20)
        panel.grab().save(os.path.join(SHOTS or str(tmp_path), f"history-search-snippets-{scheme}.png"))
    finally:
        theme.apply_theme("system")
