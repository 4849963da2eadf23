"""Where the plan graph puts each task: a layered layout, left to right, no Qt.

A leaf task's column is the length of the longest chain of dependencies before
it (a dependency on a group means every leaf of the group; children inherit
their ancestors' dependencies, as the runner reads them). A group is a frame
around its children: each group is packed as one block whose rows no other task
shares, so a frame never encloses a task that is not in it. Within a block,
tasks go column by column, each as near the middle of its dependencies as the
tasks above it allow, so that chains read as straight rows. Edges are the plan's
own `depends_on` links, from the dependency (node or frame) to the dependant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agents.plan import Plan, Task

NODE_W = 192.0
NODE_H = 50.0
COL_GAP = 56.0
"""Room between columns for the arrows (and for group frames' side padding)."""
ROW_GAP = 16.0
GROUP_PAD = 10.0
"""A frame's padding around what it holds, per level of nesting."""
GROUP_HEADER = 26.0
"""The frame's title line above its children."""
MAX_INSET = COL_GAP / 2 - 8
"""Frames nested very deep stop growing sideways before they reach the next column."""


@dataclass(frozen=True)
class Box:
    """A rectangle in scene coordinates."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def middle(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class Edge:
    """One `depends_on` link: `target` waits for `source`."""

    source: str
    target: str
    backwards: bool = False
    """The arrow cannot go left to right (a cycle, or a task waiting for its own group)."""


@dataclass(frozen=True)
class GraphLayout:
    """Boxes of the leaf tasks and of the groups' frames, and the edges between them."""

    nodes: dict[str, Box] = field(default_factory=dict)
    groups: dict[str, Box] = field(default_factory=dict)
    group_depth: dict[str, int] = field(default_factory=dict)
    """How many groups enclose each group (0 at the top level)."""
    edges: tuple[Edge, ...] = ()
    columns: dict[str, int] = field(default_factory=dict)
    """Each leaf's column."""

    def box(self, task_id: str) -> Box | None:
        return self.nodes.get(task_id) or self.groups.get(task_id)

    def anchor(self, task_id: str) -> float:
        """Where arrows meet a task: a node's middle, a frame's title line (not a child's middle)."""
        if task_id in self.groups:
            return self.groups[task_id].y + GROUP_HEADER / 2
        return self.nodes[task_id].middle


def structure(plan: Plan) -> tuple[object, ...]:
    """What the layout depends on: ids, nesting, order and dependencies (not titles, agents)."""
    return tuple((t.id, tuple(c.id for c in t.children), t.depends_on) for t in plan.iter_tasks()) + (
        tuple(t.id for t in plan.tasks),
    )


def layout(plan: Plan) -> GraphLayout:
    """Lay `plan` out: every leaf a node, every group a frame, every dependency an edge."""
    tasks = {t.id: t for t in plan.iter_tasks()}
    columns = leaf_columns(plan)
    block = _pack(plan.tasks, columns, _predecessors(plan, tasks))
    nodes: dict[str, Box] = {}
    groups: dict[str, Box] = {}
    depth: dict[str, int] = {}
    for entry in block.entries:
        x = entry.lo * (NODE_W + COL_GAP) - entry.inset
        w = (entry.hi - entry.lo) * (NODE_W + COL_GAP) + NODE_W + 2 * entry.inset
        box = Box(x, entry.y, w, entry.h)
        if entry.group:
            groups[entry.task_id] = box
            depth[entry.task_id] = entry.level
        else:
            nodes[entry.task_id] = box
    edges = tuple(_edges(plan, tasks, nodes, groups))
    return GraphLayout(nodes, groups, depth, edges, columns)


# --- columns ---------------------------------------------------------------------------------


def leaf_columns(plan: Plan) -> dict[str, int]:
    """Each leaf's column: 0 without dependencies, else one more than its latest dependency."""
    tasks = {t.id: t for t in plan.iter_tasks()}
    preds = _predecessors(plan, tasks)
    order = [t.id for t in plan.leaves()]
    waiting = {leaf: len(preds[leaf]) for leaf in order}
    followers: dict[str, list[str]] = {leaf: [] for leaf in order}
    for leaf in order:
        for pred in preds[leaf]:
            followers[pred].append(leaf)
    columns: dict[str, int] = {}
    ready = [leaf for leaf in order if not waiting[leaf]]
    while len(columns) < len(order):
        if not ready:  # a cycle: place its first task after what it has placed so far
            stuck = next(leaf for leaf in order if leaf not in columns)
            ready = [stuck]
            waiting[stuck] = 0
        for leaf in ready:
            columns[leaf] = 1 + max((columns[p] for p in preds[leaf] if p in columns), default=-1)
        ready = _release(ready, followers, waiting, columns)
    return columns


def _release(done: list[str], followers: dict[str, list[str]], waiting: dict[str, int],
             columns: dict[str, int]) -> list[str]:
    """The leaves whose last dependency is among `done` (Kahn's algorithm, one layer)."""
    out: list[str] = []
    for leaf in done:
        for follower in followers[leaf]:
            waiting[follower] -= 1
            if waiting[follower] == 0 and follower not in columns:
                out.append(follower)
    return out


def _predecessors(plan: Plan, tasks: dict[str, Task]) -> dict[str, set[str]]:
    """Each leaf's effective dependencies, as leaves (groups expanded, ancestors' inherited)."""
    parents = plan.parents()
    leaves_of: dict[str, list[str]] = {}
    for task in tasks.values():
        leaves_of[task.id] = [t.id for t in _walk(task) if not t.is_group]
    out: dict[str, set[str]] = {}
    for leaf in (t for t in tasks.values() if not t.is_group):
        wanted: set[str] = set()
        at: str | None = leaf.id
        while at is not None:
            for dep in tasks[at].depends_on:
                wanted.update(leaves_of.get(dep, ()))
            at = parents.get(at)
        wanted.discard(leaf.id)
        out[leaf.id] = wanted
    return out


def _walk(task: Task) -> Iterable[Task]:
    yield task
    for child in task.children:
        yield from _walk(child)


# --- packing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    task_id: str
    group: bool
    lo: int
    hi: int
    y: float
    h: float
    inset: float
    level: int

    def moved(self, dy: float, dlevel: int) -> _Entry:
        return _Entry(self.task_id, self.group, self.lo, self.hi, self.y + dy, self.h, self.inset,
                      self.level + dlevel)


@dataclass(frozen=True)
class _Block:
    lo: int
    hi: int
    h: float
    inset: float
    entries: tuple[_Entry, ...]
    members: frozenset[str]
    """The leaves inside."""


def _pack(tasks: Sequence[Task], columns: dict[str, int], preds: dict[str, set[str]]) -> _Block:
    """Stack sibling blocks column by column; a block never shares a row range with another in its columns."""
    blocks = [_block(t, columns, preds) for t in tasks]
    bottom: dict[int, float] = {}
    middles: dict[str, float] = {}
    entries: list[_Entry] = []
    placed = sorted(range(len(blocks)), key=lambda i: (blocks[i].lo, i))
    for i in _by_wish(placed, blocks, preds, middles):
        block = blocks[i]
        top = max((bottom.get(c, 0.0) for c in range(block.lo, block.hi + 1)), default=0.0)
        y = max(top, _wish(block, preds, middles))
        for c in range(block.lo, block.hi + 1):
            bottom[c] = y + block.h + ROW_GAP
        for entry in block.entries:
            moved = entry.moved(y, 0)
            entries.append(moved)
            if not moved.group:
                middles[moved.task_id] = moved.y + moved.h / 2
    lo = min((b.lo for b in blocks), default=0)
    hi = max((b.hi for b in blocks), default=0)
    h = max((e.y + e.h for e in entries), default=0.0)
    inset = max((b.inset for b in blocks), default=0.0)
    members = frozenset().union(*(b.members for b in blocks)) if blocks else frozenset()
    return _Block(lo, hi, h, inset, tuple(entries), members)


def _by_wish(order: list[int], blocks: list[_Block], preds: dict[str, set[str]],
             middles: dict[str, float]) -> Iterable[int]:
    """`order`, but within one starting column by where their dependencies already are."""
    i = 0
    while i < len(order):
        column = blocks[order[i]].lo
        same = [j for j in order[i:] if blocks[j].lo == column]
        yield from sorted(same, key=lambda j: (_wish(blocks[j], preds, middles), j))
        i += len(same)


def _wish(block: _Block, preds: dict[str, set[str]], middles: dict[str, float]) -> float:
    """The top that would centre `block` on the dependencies placed so far (0 without any)."""
    outside = {p for leaf in block.members for p in preds.get(leaf, ()) if p not in block.members}
    known = [middles[p] for p in outside if p in middles]
    if not known:
        return 0.0
    return max(0.0, sum(known) / len(known) - block.h / 2)


def _block(task: Task, columns: dict[str, int], preds: dict[str, set[str]]) -> _Block:
    if not task.is_group:
        column = columns[task.id]
        entry = _Entry(task.id, False, column, column, 0.0, NODE_H, 0.0, 0)
        return _Block(column, column, NODE_H, 0.0, (entry,), frozenset({task.id}))
    inner = _pack(task.children, columns, preds)
    inset = min(MAX_INSET, inner.inset + GROUP_PAD)
    h = GROUP_HEADER + inner.h + GROUP_PAD
    frame = _Entry(task.id, True, inner.lo, inner.hi, 0.0, h, inset, 0)
    children = tuple(e.moved(GROUP_HEADER, 1) for e in inner.entries)
    return _Block(inner.lo, inner.hi, h, inset, (frame, *children), inner.members)


# --- edges --------------------------------------------------------------------------------


def _edges(plan: Plan, tasks: dict[str, Task], nodes: dict[str, Box],
           groups: dict[str, Box]) -> Iterable[Edge]:
    for task in plan.iter_tasks():
        for dep in dict.fromkeys(task.depends_on):
            if dep == task.id or dep not in tasks:
                continue  # the table's problem banner names these
            source = nodes.get(dep) or groups[dep]
            target = nodes.get(task.id) or groups[task.id]
            yield Edge(dep, task.id, backwards=source.right >= target.x)
