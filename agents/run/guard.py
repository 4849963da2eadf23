"""Answers that must not be passed on: a model echoing its prompt or looping.

Tiny models (the embedded 135M one; the Gemma 270M base model before it) answer
a prompt they cannot follow by repeating it: the chat template's markers, the
system prompt, or one line over and over. `unusable(text, messages)` says why
such an answer is not one; `call_with_fallbacks` (agents/run/agent.py) asks once
more, cooler and with a repetition penalty, then fails the call with that reason.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from agents.ports import Message

__all__ = ["RETRY_REPEAT_PENALTY", "RETRY_TEMPERATURE", "TEMPLATE_MARKERS", "unusable"]

RETRY_TEMPERATURE = 0.2
"""The second try's temperature at most (lower: fewer wild turns)."""
RETRY_REPEAT_PENALTY = 1.3
"""The second try's repetition penalty (llama.cpp's repeat_penalty; 1.0 is none)."""

TEMPLATE_MARKERS = (
    "<|im_start|>", "<|im_end|>",  # ChatML (SmolLM2, Qwen)
    "<start_of_turn>", "<end_of_turn>",  # Gemma
    "<|start_header_id|>", "<|eot_id|>",  # Llama 3
    "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",  # Phi, Zephyr
    "<|endoftext|>", "[INST]", "[/INST]", "<<SYS>>",
)
"""Chat-template tokens: never part of an answer meant for a person."""

_SCAFFOLDING = (
    "overall goal of the team:",
    "reply with the result of your task only",
    "results of the tasks this one builds on",
    "compose the final deliverable for the person's goal",
    "you are the editor of a team of ai agents",
)
"""Fixed phrases of Troupe's own prompts (agents/run/agent.py, synthesizer.py)."""
_TEMPLATE_CHARS = 24  # the fixed sentences of a plan shape's instructions at least this long
_CLAUSE_END = re.compile(r"[.:,]\s+|\.$")


@functools.cache
def _template_phrases() -> tuple[str, ...]:
    """The fixed parts of the built-in plan shapes' instructions (a tiny model says its
    task back: "Read the steps you are given for this goal: ...")."""
    from agents.plan.templates import SHAPES  # noqa: PLC0415 - only when first needed

    parts = (" ".join(sentence.lower().split()).strip(" .:")
             for shape in SHAPES for step in shape.steps
             for part in step.instructions.split("{goal}") for sentence in _CLAUSE_END.split(part))
    return tuple(dict.fromkeys(p for p in parts if len(p) >= _TEMPLATE_CHARS))

_ECHO_CHARS = 48  # the system prompt's opening (this long), found in the answer, is an echo
_ECHO_MIN = 24  # shorter system prompts ("Be brief.") may be said back honestly
_LOOP_COUNT = 3  # the same line or sentence this many times is a loop
_LOOP_CHARS = 20  # shorter lines ("---", "}", "Yes.") may repeat honestly
_LOOP_KEY = 40  # lines or sentences that start alike this far count as one
_RUN_COUNT = 6  # a word or two this many times in a row ("utensils, utensils, ...")
_RUN_PHRASE_COUNT = 4  # a longer phrase (3+ words) this many times in a row
_RUN_WORDS = 12  # the longest phrase looked for
_WORD = re.compile(r"[\w'-]+")
_LIST_MARK = re.compile(r"^\s*(?:[-*+>#]+|\d+[.)]|\(?[a-z]\))\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


def unusable(text: str, messages: Sequence[Message]) -> str | None:
    """Why `text` is not an answer to `messages` (it repeats the chat template, the
    system prompt or Troupe's prompt, or loops on one line); None: it is usable."""
    for marker in TEMPLATE_MARKERS:
        if marker in text:
            return f"wrote the chat template ({marker}) instead of an answer"
    flat = _flat(text)
    for message in messages:
        if message.role == "system" and (opening := _flat(message.content)[:_ECHO_CHARS]):
            if len(opening) >= _ECHO_MIN and opening in flat:
                return "repeated its instructions (the system prompt) instead of answering"
    if any(phrase in flat for phrase in _SCAFFOLDING + _template_phrases()):
        return "repeated Troupe's prompt instead of answering"
    looped = _loop(text)
    if looped:
        line, times = looped
        return f"repeated one line {times} times (\"{line[:60]}\")"
    stuck = _stuck(_FENCE.sub("\n", text))
    if stuck:
        phrase, times = stuck
        return f"repeated \"{phrase[:60]}\" {times} times in a row"
    return None


def _flat(text: str) -> str:
    """Lower case, one space between words: how echoes are compared."""
    return " ".join(text.lower().split())


def _loop(text: str) -> tuple[str, int] | None:
    """The line or sentence said `_LOOP_COUNT` times or more, and how often (code
    blocks left out: code repeats lines honestly)."""
    prose = _FENCE.sub("\n", text)
    units: list[str] = []
    for line in prose.splitlines():
        line = _LIST_MARK.sub("", line).strip()
        units += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    # keyed by their opening: "Use a pot that is specifically designed for indoor use, which
    # ..." three times with different endings is the same loop
    counts = Counter(_flat(u).strip(" .!?*_`")[:_LOOP_KEY] for u in units)
    counts = Counter({u: n for u, n in counts.items() if len(u) >= _LOOP_CHARS})
    if not counts:
        return None
    unit, times = counts.most_common(1)[0]
    return (unit, times) if times >= _LOOP_COUNT else None


def _stuck(text: str) -> tuple[str, int] | None:
    """A word or phrase of up to `_RUN_WORDS` words said again and again in a row, and
    how often (a loop inside one line, which `_loop` cannot see)."""
    words = [w.lower() for w in _WORD.findall(text)]
    for size in range(1, _RUN_WORDS + 1):
        i = 0
        while i + 2 * size <= len(words):
            times = 1
            while words[i + times * size:i + (times + 1) * size] == words[i:i + size]:
                times += 1
            if times >= (_RUN_COUNT if size <= 2 else _RUN_PHRASE_COUNT):
                return " ".join(words[i:i + size]), times
            i += 1 if times == 1 else (times - 1) * size
    return None
