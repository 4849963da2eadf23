"""Read queries behind Store; each takes a Core connection, returns records."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import Connection, Row, Select, String, Table, func, select, text
from sqlalchemy.sql.selectable import TextualSelect

from agents.approvals import Subject
from app.storage.models import (
    Approval,
    EventRecord,
    LLMCall,
    PlanVersion,
    Project,
    Run,
    TaskRecord,
)
from app.storage.records import (
    AnswerSample,
    ApprovalRow,
    FinishedTask,
    LLMCallRow,
    PlanVersionRow,
    RunDetail,
    RunSummary,
    SearchHit,
    TaskRow,
)

runs_t = cast(Table, Run.__table__)
tasks_t = cast(Table, TaskRecord.__table__)
projects_t = cast(Table, Project.__table__)
plans_t = cast(Table, PlanVersion.__table__)
events_t = cast(Table, EventRecord.__table__)
calls_t = cast(Table, LLMCall.__table__)
approvals_t = cast(Table, Approval.__table__)

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_WORDS = 12
_RUNS_MATCHING = (
    "SELECT search_docs.run_id FROM search_fts "
    "JOIN search_docs ON search_docs.id = search_fts.rowid "
    "WHERE search_fts MATCH :w{n}"
)


def fts_terms(user_text: str) -> list[str]:
    """One FTS5 term per word of `user_text`: a quoted prefix (any input is safe).

    Empty when there are no words.
    """
    return [f'"{w}"*' for w in _WORD.findall(user_text)[:_MAX_WORDS]]


def _runs_matching_all(terms: list[str]) -> TextualSelect:
    """Ids of runs where every term occurs in some text of the run (goal, plan,
    an output, the deliverable): one FTS lookup per word, intersected."""
    sql = " INTERSECT ".join(_RUNS_MATCHING.format(n=n) for n in range(len(terms)))
    params = {f"w{n}": term for n, term in enumerate(terms)}
    return text(sql).bindparams(**params).columns(run_id=String)


_OPEN, _CLOSE = "\ue000", "\ue001"
"""Private-use characters snippet() puts around each matched word (stripped again)."""
_SNIPPET_WORDS = 14
_BEST_DOCS = (
    "SELECT search_docs.run_id, search_docs.id FROM search_fts "
    "JOIN search_docs ON search_docs.id = search_fts.rowid "
    "WHERE search_fts MATCH :query AND search_docs.run_id IN ({ids}) "
    "ORDER BY bm25(search_fts)"
)
_SNIPPETS = (  # with the task an output or an approval edit is of, and its title
    "SELECT d.run_id, d.kind, d.ref, snippet(search_fts, 0, :open, :close, '…', {words}), "
    "CASE d.kind WHEN 'output' THEN d.ref WHEN 'approval' THEN a.task_id END AS task_id, t.title "
    "FROM search_fts CROSS JOIN search_docs AS d ON d.id = search_fts.rowid "  # FTS first: MATCH once
    "LEFT JOIN approvals AS a ON d.kind = 'approval' AND a.run_id = d.run_id AND a.request_id = d.ref "
    "LEFT JOIN tasks AS t ON t.run_id = d.run_id "
    "AND t.task_id = (CASE d.kind WHEN 'output' THEN d.ref WHEN 'approval' THEN a.task_id END) "
    "WHERE search_fts MATCH :query AND search_fts.rowid IN ({ids})"
)
_KIND_WORDS = {"goal": "goal", "plan": "plan", "deliverable": "deliverable",
               "output": "output", "approval": "approval edit"}


_BATCH = 500
"""Runs per query (SQLite caps the bound parameters of a statement)."""


def search_hits(conn: Connection, terms: list[str], run_ids: list[str]) -> dict[str, SearchHit]:
    """For each of `run_ids`, its text that best matches any of `terms` (FTS5's bm25),
    as a snippet with the matched words marked."""
    hits: dict[str, SearchHit] = {}
    for start in range(0, len(run_ids) if terms else 0, _BATCH):
        hits.update(_search_hits(conn, " OR ".join(terms), run_ids[start:start + _BATCH]))
    return hits


def _search_hits(conn: Connection, query: str, run_ids: list[str]) -> dict[str, SearchHit]:
    runs = {f"r{n}": run_id for n, run_id in enumerate(run_ids)}
    best: dict[str, int] = {}
    for run_id, doc in conn.execute(text(_BEST_DOCS.format(ids=_names(runs))), {"query": query, **runs}):
        best.setdefault(run_id, doc)  # ranked: the first is the best
    docs = {f"d{n}": doc for n, doc in enumerate(best.values())}
    if not docs:
        return {}
    sql = _SNIPPETS.format(words=_SNIPPET_WORDS, ids=_names(docs))
    rows = conn.execute(text(sql), {"open": _OPEN, "close": _CLOSE, "query": query, **docs})
    return {run_id: _hit(kind, ref, snippet, task_id, title) for run_id, kind, ref, snippet, task_id, title in rows}


def _names(params: dict[str, Any]) -> str:
    """":r0, :r1, ..." for an IN list of bound parameters."""
    return ", ".join(f":{key}" for key in params)


def _hit(kind: str, ref: str, snippet: str, task_id: str | None, title: str | None) -> SearchHit:
    words, marks = _unmark(snippet)
    where = _KIND_WORDS.get(kind, kind)
    if task_id:  # "output of “Draft”", "approval edit of “Draft”"
        where += f" of “{title or task_id}”"
    return SearchHit(kind, ref, where, words, marks)


def _unmark(snippet: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The snippet on one line (runs of white space as one space) and where its marks were."""
    pieces: list[str] = []
    marks: list[tuple[int, int]] = []
    at = start = 0
    for piece in re.split(f"([{_OPEN}{_CLOSE}])", snippet):
        if piece == _OPEN:
            start = at
        elif piece == _CLOSE:
            marks.append((start, at))
        else:
            piece = re.sub(r"\s+", " ", piece)
            pieces.append(piece)
            at += len(piece)
    joined = "".join(pieces)
    lead, stripped = len(joined) - len(joined.lstrip()), joined.strip()
    return stripped, tuple((max(0, a - lead), min(len(stripped), b - lead)) for a, b in marks if b > a)


def run_summaries(conn: Connection, terms: list[str], limit: int, offset: int = 0) -> list[RunSummary]:
    """Runs newest first, `offset` of them skipped; only those matching every FTS term
    when `terms` is not empty."""
    task_count = select(func.count()).where(tasks_t.c.run_id == runs_t.c.id).scalar_subquery()
    completed = (
        select(func.count())
        .where(tasks_t.c.run_id == runs_t.c.id, tasks_t.c.status == "completed")
        .scalar_subquery()
    )
    unpriced = _unpriced_calls(runs_t.c.id).scalar_subquery()
    estimated = _estimated_calls(runs_t.c.id).scalar_subquery()
    stmt = (
        select(
            runs_t.c.id,
            projects_t.c.name,
            runs_t.c.goal,
            runs_t.c.status,
            runs_t.c.created,
            runs_t.c.updated,
            runs_t.c.prompt_tokens,
            runs_t.c.completion_tokens,
            runs_t.c.cost,
            task_count,
            completed,
            runs_t.c.partial,
            unpriced,
            estimated,
            func.json_extract(runs_t.c.settings, "$.follow_up_of").label("follow_up_of"),
        )
        .join(projects_t, projects_t.c.id == runs_t.c.project_id)
        .order_by(runs_t.c.created.desc(), runs_t.c.id)
        .limit(limit)
        .offset(offset)
    )
    if terms:
        stmt = stmt.where(runs_t.c.id.in_(_runs_matching_all(terms)))
    return [replace(RunSummary(*row[:-1]), follow_up_of=row[-1] or None) for row in conn.execute(stmt)]


def _unpriced_calls(run_id: Any) -> Select[Any]:
    """How many of a run's model calls had no known price (their cost counts as $0)."""
    return select(func.count()).where(calls_t.c.run_id == run_id, calls_t.c.cost_known.is_(False))


def _estimated_calls(run_id: Any) -> Select[Any]:
    """How many of a run's model calls Troupe counted the tokens of (the provider sent none)."""
    return select(func.count()).where(calls_t.c.run_id == run_id, calls_t.c.tokens_estimated.is_(True))


def run_count(conn: Connection, terms: list[str]) -> int:
    """How many runs there are; only those matching every FTS term when `terms` is not empty."""
    stmt = select(func.count()).select_from(runs_t)
    if terms:
        stmt = stmt.where(runs_t.c.id.in_(_runs_matching_all(terms)))
    return int(conn.execute(stmt).scalar() or 0)


def run_detail(conn: Connection, run_id: str) -> RunDetail:
    row = conn.execute(
        select(runs_t, projects_t.c.name.label("project_name"))
        .join(projects_t, projects_t.c.id == runs_t.c.project_id)
        .where(runs_t.c.id == run_id)
    ).first()
    if row is None:
        raise KeyError(run_id)
    version = conn.execute(
        select(func.max(plans_t.c.version)).where(plans_t.c.run_id == run_id)
    ).scalar()
    return RunDetail(
        id=row.id,
        project=row.project_name,
        goal=row.goal,
        status=row.status,
        created=row.created,
        updated=row.updated,
        settings=dict(row.settings or {}),
        deliverable=row.deliverable,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost=row.cost,
        error=row.error,
        plan_version=version,
        partial=bool(row.partial),
        tasks=tuple(_task_row(r) for r in _task_rows(conn, run_id)),
        unpriced_calls=int(conn.execute(_unpriced_calls(run_id)).scalar() or 0),
        estimated_calls=int(conn.execute(_estimated_calls(run_id)).scalar() or 0),
        estimate=row.estimate or None,
    )


def _task_rows(conn: Connection, run_id: str) -> list[Row[Any]]:
    stmt = select(tasks_t).where(tasks_t.c.run_id == run_id).order_by(tasks_t.c.position)
    return list(conn.execute(stmt))


def _task_row(row: Row[Any]) -> TaskRow:
    return TaskRow(
        task_id=row.task_id,
        parent_id=row.parent_id,
        position=row.position,
        title=row.title,
        agent=row.agent,
        instructions=row.instructions,
        depends_on=tuple(row.depends_on or ()),
        requires_approval=bool(row.requires_approval),
        status=row.status,
        attempts=row.attempts,
        output=row.output,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost=row.cost,
        started=row.started,
        finished=row.finished,
        error=row.error,
    )


def plan_versions(conn: Connection, run_id: str, latest_only: bool) -> list[PlanVersionRow]:
    stmt = select(plans_t.c.version, plans_t.c.source, plans_t.c.plan, plans_t.c.created).where(
        plans_t.c.run_id == run_id
    )
    if latest_only:
        stmt = stmt.order_by(plans_t.c.version.desc()).limit(1)
    else:
        stmt = stmt.order_by(plans_t.c.version)
    return [PlanVersionRow(*row) for row in conn.execute(stmt)]


def events(conn: Connection, run_id: str, after_seq: int) -> list[dict[str, Any]]:
    stmt = (
        select(events_t.c.seq, events_t.c.type, events_t.c.ts, events_t.c.data)
        .where(events_t.c.run_id == run_id, events_t.c.seq > after_seq)
        .order_by(events_t.c.seq)
    )
    return [
        {**data, "type": kind, "run_id": run_id, "ts": ts, "seq": seq}
        for seq, kind, ts, data in conn.execute(stmt)
    ]


def llm_calls(conn: Connection, run_id: str) -> list[LLMCallRow]:
    cols = [c for c in calls_t.c if c.name not in ("id", "run_id")]
    stmt = select(*cols).where(calls_t.c.run_id == run_id).order_by(calls_t.c.id)
    return [LLMCallRow(**row._asdict()) for row in conn.execute(stmt)]


def approvals(conn: Connection, run_id: str) -> list[ApprovalRow]:
    cols = [c for c in approvals_t.c if c.name not in ("id", "run_id")]
    stmt = select(*cols).where(approvals_t.c.run_id == run_id).order_by(approvals_t.c.id)
    return [ApprovalRow(**{**row._asdict(), "subject": Subject(row.subject)}) for row in conn.execute(stmt)]


def finished_tasks(conn: Connection, run_id: str) -> dict[str, FinishedTask]:
    stmt = select(tasks_t).where(tasks_t.c.run_id == run_id, tasks_t.c.status == "completed")
    out: dict[str, FinishedTask] = {}
    for row in conn.execute(stmt):
        out[row.task_id] = FinishedTask(
            task_id=row.task_id,
            output=row.output or "",
            attempts=row.attempts,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            cost=row.cost,
            started=row.started or 0.0,
            finished=row.finished or 0.0,
        )
    return out


def answer_samples(conn: Connection, runs: int) -> list[AnswerSample]:
    """Answer lengths of the finished task and synthesis calls of the newest `runs` runs,
    with the role and pattern of the task that made them (from the run's latest plan)."""
    recent = select(runs_t.c.id).order_by(runs_t.c.created.desc()).limit(runs).scalar_subquery()
    rows = conn.execute(
        select(calls_t.c.run_id, calls_t.c.task_id, calls_t.c.purpose, calls_t.c.completion_tokens,
               func.coalesce(func.nullif(calls_t.c.agent, ""), tasks_t.c.agent).label("agent"))
        .outerjoin(tasks_t, (tasks_t.c.run_id == calls_t.c.run_id) & (tasks_t.c.task_id == calls_t.c.task_id))
        .where(calls_t.c.run_id.in_(recent), calls_t.c.ok.is_(True), calls_t.c.completion_tokens > 0,
               calls_t.c.purpose.in_(("task", "synthesis")))
    ).all()
    kinds = _pattern_kinds(conn, {r.run_id for r in rows})
    return [
        AnswerSample("synthesis" if r.purpose == "synthesis" else (r.agent or ""),
                     "single" if r.purpose == "synthesis" else kinds.get((r.run_id, r.task_id), "single"),
                     r.run_id, r.task_id, int(r.completion_tokens))
        for r in rows if r.purpose == "synthesis" or r.agent
    ]


def _pattern_kinds(conn: Connection, run_ids: set[str]) -> dict[tuple[str, str], str]:
    """(run, task) -> the pattern its latest plan gave the task, for tasks with one."""
    if not run_ids:
        return {}
    latest = (select(plans_t.c.run_id, func.max(plans_t.c.version).label("v"))
              .where(plans_t.c.run_id.in_(run_ids)).group_by(plans_t.c.run_id).subquery())
    found: dict[tuple[str, str], str] = {}
    for run_id, plan in conn.execute(
        select(plans_t.c.run_id, plans_t.c.plan)
        .join(latest, (latest.c.run_id == plans_t.c.run_id) & (latest.c.v == plans_t.c.version))
    ):
        stack = list((plan or {}).get("tasks") or ())
        while stack:
            task = stack.pop()
            if isinstance(task, dict):
                stack.extend(task.get("children") or ())
                if task.get("pattern"):
                    found[(run_id, str(task.get("id")))] = str(task["pattern"])
    return found
