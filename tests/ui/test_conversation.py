"""ConversationView: messages, plan card, inline approvals, streaming, the deliverable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from agents.approvals import Subject, TaskQuestion, TaskRef
from agents.ports import Action, ApprovalRequest
from ui.approvals import ApprovalCard
from ui.conversation import ConversationView, render_markdown
from ui.conversation.markdown_render import has_highlighting
from ui.conversation.widgets import MessageBubble

DELIVERABLE = """# Recommendation

Use **pgvector** for now.

```python
def search(conn, embedding, k=10):
    return conn.execute("SELECT id FROM docs ORDER BY embedding <=> %s LIMIT %s", (embedding, k))
```

| Database | $/1M queries |
|---|---|
| pgvector | 0.33 |
"""


@pytest.fixture
def conversation(qtbot) -> ConversationView:
    view = ConversationView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_deliverable_renders_code_block_and_exports(qtbot, conversation: ConversationView):
    card = conversation.show_deliverable(DELIVERABLE)
    assert "<pre" in card.html and "<h1>Recommendation</h1>" in card.html
    assert "<pre" in card.browser.toHtml()
    if has_highlighting():  # pygments colours the keywords with inline styles
        assert 'style="color:' in card.html.split("<pre", 1)[1]
    assert "ORDER BY embedding &lt;=&gt;" in card.html  # code stays escaped
    assert card.browser.toPlainText().count("def search") == 1
    assert card.browser.height() > 150  # sized to its content, the page scrolls
    formats = []
    conversation.exportRequested.connect(formats.append)
    for fmt in ("md", "html", "json"):
        qtbot.mouseClick(card.export_buttons[fmt], Qt.MouseButton.LeftButton)
    assert formats == ["md", "html", "json"]


def test_render_markdown_without_language_and_inline_code():
    out = render_markdown("Run `make test`.\n\n```\nplain <text>\n```\n")
    assert "<code>make test</code>" in out
    assert "<pre" in out and "plain &lt;text&gt;" in out


def test_streaming_is_coalesced_and_throttled(qtbot, conversation: ConversationView):
    words = [f"word{i} " for i in range(400)]
    for word in words:
        conversation.append_stream(word)
    bubble = conversation.streaming_bubble()
    assert isinstance(bubble, MessageBubble)
    assert conversation.stream_renders == 0 and bubble.text() == ""  # nothing rendered yet
    assert conversation.streaming_text() == "".join(words)
    qtbot.waitUntil(lambda: bubble.text() == "".join(words), timeout=1000)
    assert conversation.stream_renders == 1  # 400 deltas, one re-render
    conversation.append_stream("**done**")
    assert conversation.end_stream() == "".join(words) + "**done**"
    assert "<strong>done</strong>" in bubble.body.text()
    assert conversation.streaming_bubble() is None
    conversation.append_stream("next")  # a new stream opens a new bubble
    assert conversation.streaming_bubble() is not bubble


def test_goal_plan_approval_and_deliverable_in_order(qtbot, conversation: ConversationView):
    goal = conversation.add_user_message("Compare three vector databases")
    reply = conversation.add_orchestrator_message("Here is a plan.")
    plan = {"goal": "Compare three vector databases", "tasks": [
        {"id": "a", "title": "Research", "agent": "researcher"},
        {"id": "g", "title": "Group", "agent": "analyst", "children": [
            {"id": "b", "title": "Analyse", "agent": "analyst", "requires_approval": True},
            {"id": "c", "title": "Compare", "agent": "analyst"}]},
    ]}
    card = conversation.add_plan(plan)
    assert card.task_count == 3 and "3 tasks" in card.facts.text() and "1 needs your approval" in card.facts.text()
    approved = []
    conversation.planApproved.connect(lambda: approved.append(True))
    qtbot.mouseClick(card.approve_button, Qt.MouseButton.LeftButton)
    # the card does not mark itself: the run may be refused (a plan with problems)
    assert approved == [True] and not card.is_approved
    card.set_approved()  # what the session does once the run starts
    qtbot.mouseClick(card.approve_button, Qt.MouseButton.LeftButton)  # hidden now: no second signal
    assert approved == [True] and card.is_approved
    approval = ApprovalCard(ApprovalRequest("q", "r", "b", Subject.TASK, "Analyse",
                                            task=TaskQuestion("analyst", "Do it")))
    conversation.add_approval_card(approval)
    deliverable = conversation.show_deliverable(DELIVERABLE)
    items = conversation.items()
    order = [items.index(w) for w in (goal, reply, card, approval, deliverable)]
    assert order == sorted(order)
    assert goal.body.text() == "Compare three vector databases"  # the person's text is plain
    qtbot.waitUntil(lambda: conversation.scroll_area.verticalScrollBar().value()
                    == conversation.scroll_area.verticalScrollBar().maximum(), timeout=1000)


def test_bubbles_fit_short_text_and_wrap_long_text(qtbot, conversation: ConversationView):
    short = conversation.add_user_message("Hi")
    long = conversation.add_orchestrator_message("lorem ipsum " * 200)
    qtbot.wait(10)
    assert short.body.width() < 120
    limit = conversation.scroll_area.viewport().width() * 0.8
    assert long.body.width() <= limit and long.body.height() > 3 * long.body.fontMetrics().height()


def test_clear_empties_the_column(qtbot, conversation: ConversationView):
    conversation.add_user_message("x")
    conversation.append_stream("y")
    conversation.show_deliverable("z")
    conversation.clear()
    qtbot.wait(1)
    assert conversation.items() == [] and conversation.deliverable is None
    assert conversation.streaming_bubble() is None


def test_clear_removes_message_bubbles_from_the_screen(qtbot, conversation: ConversationView):
    """A bubble sits in a row layout: clearing must delete it, not just forget its row."""
    conversation.show()
    conversation.add_user_message("the first goal")
    qtbot.waitUntil(lambda: any(w.isVisible() for w in conversation.findChildren(MessageBubble)))
    conversation.clear()
    conversation.add_user_message("the second goal")
    qtbot.wait(10)
    shown = [w.text() for w in conversation.findChildren(MessageBubble) if w.isVisible()]
    assert not any("the first goal" in text for text in shown), shown


def test_mnemonics_do_not_clash_across_the_views(qtbot):
    """Run controls, an approval card and the deliverable can share one window."""
    from ui.run_view import RunView

    run_view = RunView()
    card = ApprovalCard(ApprovalRequest("q", "r", "t", Subject.TASK, "T", task=TaskQuestion("writer", "x")))
    conversation = ConversationView()
    deliverable = conversation.show_deliverable("x")
    for widget in (run_view, card, conversation):
        qtbot.addWidget(widget)
    buttons = [*run_view.buttons.values(), card.approve_button, card.edit_button, card.reject_button,
               card.override_button, card.confirm_button, *deliverable.export_buttons.values(),
               deliverable.copy_button]
    keys = [b.text().replace("&&", "").split("&", 1)[1][0].lower() for b in buttons]
    assert len(keys) == len(set(keys)), keys


# --- screenshot -------------------------------------------------------------------------


def test_screenshot(qtbot, tmp_path: Path):
    """Goal, plan, approval, deliverable; TROUPE_SCREENSHOTS=1 saves docs/screenshots/dev_conversation.png."""
    view = ConversationView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    view.add_user_message("Compare Qdrant, Weaviate and pgvector for our 50M-document search product "
                          "and recommend one.")
    view.add_orchestrator_message("Here's the plan: **research** in parallel, a small **benchmark**, "
                                  "then **analysis**, a report and a review.")
    tasks = [("Research Qdrant", "researcher"), ("Research Weaviate", "researcher"),
             ("Research pgvector", "researcher"), ("Write the benchmark script", "coder"),
             ("Cost model per 1M queries", "analyst"), ("Latency comparison", "analyst"),
             ("Draft the recommendation report", "writer"), ("Review the report", "reviewer")]
    plan = view.add_plan_card("Research the three databases in parallel while the coder writes a "
                              "benchmark, then compare cost and latency before writing the report.",
                              tasks, needs_approval=1)
    plan.set_approved()
    approval = ApprovalCard(ApprovalRequest(
        "q1", "r", "t7", Subject.TASK, "Draft the recommendation report",
        task=TaskQuestion("writer", "Write a 1-page recommendation for the CTO. Lead with the choice,\n"
                          "then cost, latency and operational risk.", (TaskRef("t5", "Cost model per 1M queries"),))))
    view.add_approval_card(approval)
    approval.mark_resolved(Action.APPROVE)
    view.show_deliverable(
        "## Recommendation: pgvector\n\nCheapest at 50M documents (**$0.33** per 1M queries) and it "
        "stays inside the Postgres we already run.\n\n```python\ndef search(conn, embedding, k=10):\n"
        "    # HNSW index, cosine distance\n    return conn.execute(\n"
        "        \"SELECT id, title FROM docs ORDER BY embedding <=> %s LIMIT %s\", (embedding, k),\n"
        "    ).fetchall()\n```\n")
    qtbot.wait(30)
    view.scroll_to_bottom()
    qtbot.wait(10)
    image = view.grab()
    assert (image.width(), image.height()) == (1100, 700)
    image.save(str(tmp_path / "conversation.png"))
    if os.environ.get("TROUPE_SCREENSHOTS"):
        target = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "dev_conversation.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target))


def test_the_plan_card_names_patterns_and_counts_every_role_at_work(conversation: ConversationView):
    plan = {"goal": "A note", "tasks": [
        {"id": "essay", "title": "Essay", "agent": "writer", "pattern": "review", "reviewer": "reviewer",
         "max_rounds": 3},
        {"id": "q", "title": "Pick", "agent": "analyst", "pattern": "vote",
         "voters": ["analyst", "researcher@openai/gpt-4o"], "judge": "reviewer"},
    ]}
    card = conversation.add_plan(plan)
    assert "2 tasks  ·  4 agents" in card.facts.text()  # writer, reviewer, analyst, researcher
    from PySide6.QtWidgets import QLabel

    texts = " ".join(w.text() for w in card.findChildren(QLabel))
    assert "Essay — review ×3 by reviewer" in texts and "Pick — vote of 2, judged by reviewer" in texts


def test_a_template_plan_says_so_on_its_card(conversation: ConversationView):
    from agents.plan.templates import template_notice, template_plan  # noqa: PLC0415

    plan = template_plan("How to bake bread", ["researcher", "writer", "reviewer"])
    card = conversation.add_plan(plan)
    assert card.notice.isHidden()  # a planned plan says nothing of the kind
    card.set_notice(template_notice("the embedded model"))
    assert not card.notice.isHidden()
    assert card.notice.text() == ("Offline template plan: the embedded model is too small to plan; "
                                  "edit it as you like.")
    assert card.edit_button.isEnabled()  # edited like any plan


def test_an_empty_conversation_welcomes_with_example_goals(qtbot) -> None:
    view = ConversationView()
    qtbot.addWidget(view)
    view.resize(520, 600)
    view.show()
    assert view.welcome.isVisible() and not view.scroll_area.isVisible()
    chosen: list[str] = []
    view.exampleChosen.connect(chosen.append)
    qtbot.mouseClick(view.welcome.buttons[1], Qt.MouseButton.LeftButton)
    assert chosen == [view.welcome.buttons[1].text()]
    view.grab().save("/tmp/troupe-welcome.png")
    view.add_user_message("A goal")  # the conversation starts: the welcome goes
    assert not view.welcome.isVisible() and view.scroll_area.isVisible()
    view.clear()  # a new conversation: it comes back
    assert view.welcome.isVisible()


def test_clearing_leaves_no_widget_behind(qtbot) -> None:
    # issue 17: after New project the previous goal's bubble stayed on screen
    from ui.conversation.widgets import MessageBubble  # noqa: PLC0415

    view = ConversationView()
    qtbot.addWidget(view)
    view.show()
    view.add_user_message("The old goal")
    view.add_orchestrator_message("An answer")
    view.add_note("a note")
    view.clear()
    qtbot.waitUntil(lambda: not [b for b in view.findChildren(MessageBubble) if b.isVisible()])
    assert view.items() == [] and view.welcome.isVisible()
    view.add_user_message("The new goal")
    qtbot.waitUntil(lambda: [b.text() for b in view.findChildren(MessageBubble) if b.isVisible()]
                    == ["The new goal"])
