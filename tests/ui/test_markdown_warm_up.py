"""A plan card starts markdown's first-use work, a piece per event-loop turn, so
the run's deliverable does not stall the window with it (~0.1 s at once)."""

from __future__ import annotations

import pytest

from ui.conversation import ConversationView
from ui.conversation import view as conversation_view
from ui.conversation.markdown_render import WARM_UP, render_markdown


def test_a_plan_card_warms_markdown_up_one_piece_per_turn(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[int] = []
    steps = [lambda i=i: ran.append(i) for i in range(3)]
    monkeypatch.setattr(conversation_view, "_warm_up_steps", iter(steps))
    monkeypatch.setattr(conversation_view, "_warming_up", False)
    view = ConversationView()
    qtbot.addWidget(view)

    view.add_plan_card("Here is the plan.")
    assert ran == []  # not in the handler that shows the plan
    qtbot.waitUntil(lambda: bool(ran), timeout=2000)
    assert ran == [0]  # one piece, then the loop's other events
    qtbot.waitUntil(lambda: ran == [0, 1, 2], timeout=2000)
    view.add_plan_card("A second plan.")
    qtbot.wait(100)
    assert ran == [0, 1, 2]  # once per process


def test_the_warm_up_pieces_leave_rendering_as_it_was() -> None:
    for step in WARM_UP:
        step()
    assert "<strong>x</strong>" in render_markdown("**x**")
