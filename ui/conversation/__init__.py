"""The conversation column: goal, orchestrator replies, plan, approvals, deliverable."""

from ui.conversation.markdown_render import render_markdown
from ui.conversation.view import ConversationView
from ui.conversation.widgets import DeliverableCard, MessageBubble, PlanCard

__all__ = ["ConversationView", "DeliverableCard", "MessageBubble", "PlanCard", "render_markdown"]
