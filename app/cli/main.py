"""`troupe`: the command line. Its options, output and exit codes are a contract.

Exit codes: 0 completed, 1 run failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from agents.constraints import Constraints
from agents.errors import LLMError, PlanError, PlannerError, TroupeError
from agents.plan import MAX_NESTING, Plan, validate_plan
from agents.plan.estimate import RunEstimate
from agents.ports import ApprovalGate
from agents.run.runner import RunOutcome
from agents.run.state import RunState, RunStatus, TaskStatus
from app.cli.console import (
    JsonLinesSink,
    ProgressPrinter,
    TerminalGate,
    TerminalPrompter,
    UnattendedGate,
    render_plan,
)
from app.cli.db import add_commands as add_db_commands
from app.cli.db import cmd_db
from app.cli.models import add_commands as add_model_commands
from app.cli.models import cmd_models
from app.cli.projects import add_commands as add_project_commands
from app.cli.projects import cmd_projects
from app.cli.providers import add_commands as add_provider_commands
from app.cli.providers import cmd_keys, cmd_providers, first_run
from app.cli.tools import add_commands as add_tool_commands
from app.cli.tools import cmd_mcp, cmd_tools
from app.cli.usage import add_commands as add_usage_commands
from app.cli.usage import cmd_usage
from app.constraints import (
    DEADLINE_HELP,
    NONE_WORDS,
    BadConstraint,
    constraints_line,
    parse_budget,
    parse_deadline,
)
from app.cost_text import cost_text
from app.estimate_text import compared, headline, money, notes
from app.export import FORMATS, export_run, run_to_dict
from app.logs import setup_logging
from app.paths import data_dir
from app.roster_store import load_user_roster
from app.runs.service import NotResumable, RunConfig, RunService, UnknownRun
from app.safe_text import SafeStream, safe_json
from app.storage import RunDetail
from app.storage.errors import StorageError, storage_error
from app.storage.run_state import stored_run_state
from app.team_history import ConflictRecord, conflicts_from_events, step_line, steps_to_show
from app.tools.history import ToolCallRecord, tool_calls_from_events

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class BadInput(TroupeError):
    """The command line or a file it names is wrong (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: scripts read stderr.
        self.exit(EXIT_BAD_INPUT, f"troupe: {message} (see `troupe --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="troupe", description="Run a team of AI agents on your own machine. "
                     "Without a command, starts the desktop app.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="plan a goal and run it to a deliverable")
    run.add_argument("goal", type=_goal)
    run.add_argument("--project", default="Default")
    run.add_argument("--plan", type=Path, help="run this plan file instead of asking the planner")
    _model_options(run)
    run.add_argument("--planner-model", help="model for planning (default: --model)")
    run.add_argument("--max-parallel", type=_positive_int)
    _constraint_options(run, clear=False)
    _approval_options(run, "the plan and every task approval")
    run.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    run.add_argument("--max-cost", type=_dollars_arg, metavar="USD", help=(
        "refuse to start (exit 2) when the cost estimate's high end is above USD"))
    run.add_argument("--yes-over-estimate", action="store_true", help=(
        "start even when the estimate's high end is above --max-cost (or cannot be priced)"))

    plan = sub.add_parser("plan", help="ask the planner for a plan and print or save it")
    plan.add_argument("goal", type=_goal)
    plan.add_argument("--out", type=Path)
    _model_options(plan)

    resume = sub.add_parser("resume", help="continue an interrupted or failed run")
    resume.add_argument("run_id")
    _constraint_options(resume, clear=True)
    _approval_options(resume, "every task approval")
    resume.add_argument("--json", action="store_true", help="one JSON event per line on stdout")

    runs = sub.add_parser("runs", help="list runs, newest first")
    runs.add_argument("--search", help="only runs whose goal, plan, outputs, deliverable or approval edits "
                      "hold every word; each with the words around the match")
    runs.add_argument("--limit", type=_positive_int, default=RUNS_PAGE,
                      help=f"list at most this many runs (default {RUNS_PAGE})")
    runs.add_argument("--offset", type=_count, default=0, help="skip this many of the newest runs first")
    runs.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="show one run")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="export a run's deliverable")
    export.add_argument("run_id")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--out", type=Path)
    add_provider_commands(sub)
    add_tool_commands(sub)
    add_db_commands(sub)
    add_model_commands(sub)
    add_project_commands(sub)
    add_usage_commands(sub)
    return parser


def _approval_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--yes", action="store_true", help=(
        f"approve {what}, and continue each time the budget is spent; risky tool calls still "
        "follow your tool rules (see --allow-risky-tools): a call whose rule is ask is refused "
        "(the agent is told, stderr says so) and a call in doubt after a crash is not run again"))
    parser.add_argument("--allow-risky-tools", action="store_true", help=(
        "approve every risky tool call (shell, code, writes, network, MCP) without asking, "
        "and re-run tool calls in doubt after a crash; tools your rules deny stay denied"))


def _constraint_options(parser: argparse.ArgumentParser, clear: bool) -> None:
    """--budget and --deadline: this run's own limits (on resume: replace the stored ones)."""
    none = " (none: remove it)" if clear else ""
    keep = KEEP if clear else None  # resume: as stored unless given
    parser.add_argument("--budget", metavar="USD", type=_constraint(parse_budget, clear), default=keep, help=(
        "this run's budget in US dollars, instead of the settings' budget per run: once spent "
        "(the planner's calls included), new model calls pause and ask; --yes continues" + none))
    parser.add_argument("--deadline", metavar="WHEN", type=_constraint(parse_deadline, clear), default=keep, help=(
        f"when the run should be done: {DEADLINE_HELP}. A run that will miss it at its pace "
        "is warned of; at the deadline new work pauses and asks: continue, or stop and write up "
        "what is finished (--yes stops, a partial result)" + none))


KEEP = object()
"""`troupe resume` without --budget / --deadline: the run's stored one holds."""


def _constraint(parse: Callable[[str], float], clear: bool) -> Callable[[str], float | None]:
    """An argparse type for --budget / --deadline: `parse`'s value, or None for "none" on resume."""
    def read(text: str) -> float | None:
        if clear and text.strip().lower() in NONE_WORDS:
            return None
        try:
            return parse(text)
        except BadConstraint as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return read


def _gate(args: argparse.Namespace, prompter: TerminalPrompter) -> ApprovalGate:
    """Who answers the run's approvals: the person, or (--yes) no one (see UnattendedGate)."""
    if args.yes:
        return UnattendedGate(args.allow_risky_tools)
    return TerminalGate(prompter, args.allow_risky_tools)


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help='model reference, "provider/model" (default: from settings)')
    parser.add_argument("--max-tokens", type=_positive_int, help="longest answer per model call")
    parser.add_argument("--api-base", help="base URL of an OpenAI-compatible server")


def _goal(text: str) -> str:
    """A goal with something in it (argparse then says `argument goal: ...`, exit 2)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("it is empty or only spaces: say what the team should do")
    return text


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}")
    return value


def _dollars_arg(text: str) -> float:
    try:
        amount = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in US dollars (e.g. 0.50)") from None
    if not amount > 0 or amount == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive amount in US dollars (e.g. 0.50)")
    return amount


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _count(text: str) -> int:
    return _whole_number(text, 0)


def main(argv: list[str] | None = None) -> int:
    # what models and tools wrote reaches the terminal without control characters or escapes
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(stdout), SafeStream(stderr)  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        # The window starts from the `troupe` launcher (ui.gui.launch); app/
        # itself never imports Qt.
        build_parser().print_help()
        return EXIT_OK
    setup_logging()
    try:
        return COMMANDS[args.command](args)
    except BadInput as exc:
        print(f"troupe: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StorageError as exc:  # the history database is unusable as it is; the message says why
        print(f"troupe: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # a file of the data folder (or one the command names) cannot be written
        print(f"troupe: {_os_error_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("troupe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _os_error_line(exc: OSError) -> str:
    """The error in one line: a full disk or read-only data folder in StorageError's words
    (an error without a file name came from writing one, most likely in the data folder)."""
    home = data_dir(create=False)
    where = Path(exc.filename) if isinstance(exc.filename, str) else home
    typed = storage_error(exc, where) if where.is_relative_to(home) else None
    return str(typed) if typed is not None else f"{exc.strerror or exc}: {where}"


def _embedded_model_note(model: str) -> None:
    if model.startswith("local/"):
        print(EMBEDDED_NOTE, file=sys.stderr)


EMBEDDED_NOTE = (
    "troupe: using the embedded offline model, a tiny one for trying Troupe: expect weak answers. "
    "For real work connect a stronger model: `troupe providers add openai` then "
    "`troupe keys set openai`, or run Ollama or LM Studio (found automatically).")


# --- run / resume ------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    plan = _read_plan_file(args.plan, args.goal) if args.plan else None
    first_run()
    service = RunService.open()
    try:
        config = service.config(args.model, args.planner_model, args.api_base, args.max_parallel,
                                args.max_tokens)
        _embedded_model_note(config.planner_model or config.model)
        run_id = service.create_run(args.project, args.goal, config, Constraints(args.budget, args.deadline))
        print(f"run {run_id}: {args.goal}", file=sys.stderr)
        return _run_async(service, run_id, _plan_and_run(service, run_id, args, config, plan))
    finally:
        service.close()


async def _plan_and_run(service: RunService, run_id: str, args: argparse.Namespace,
                        config: RunConfig, plan: Plan | None) -> int:
    sinks = _sinks(args.json, args.yes)
    prompter = TerminalPrompter()
    if plan is None:
        try:
            planned = await service.plan(run_id, args.goal, config, sinks)
        except (PlannerError, LLMError) as exc:
            return _fail(service, run_id, f"planning failed: {exc}")
        plan = planned.plan
        if planned.template_notice:
            print(f"troupe: {planned.template_notice}", file=sys.stderr)
    else:
        service.save_plan(run_id, plan, "file")
    estimate = service.estimate(plan, config, run_id)
    print(render_plan(plan, estimate), file=sys.stderr)
    refusal = _over_max_cost(estimate, args)
    if refusal:
        service.store.set_run_status(run_id, RunStatus.CANCELLED, refusal)
        print(f"troupe: {refusal}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.yes:
        answer = await prompter.confirm("Run this plan?")
        if not answer:
            service.store.set_run_status(run_id, RunStatus.CANCELLED, "plan not approved")
            print("troupe: plan not approved; nothing was run"
                  + ("" if answer is False else " (no answer on stdin; pass --yes)"), file=sys.stderr)
            return EXIT_FAILED
    gate = _gate(args, prompter)
    outcome = await service.start(run_id, plan, config, gate, sinks, estimate=estimate,
                                  constraints=Constraints(args.budget, args.deadline)).run()
    return _report(outcome, args.json)


def _over_max_cost(estimate: RunEstimate, args: argparse.Namespace) -> str | None:
    """Why --max-cost refuses this plan (None: it may start)."""
    if args.max_cost is None or args.yes_over_estimate:
        return None
    if estimate.total.high > args.max_cost:
        return (f"not started: the estimate's high end, {money(estimate.total.high)}, is above "
                f"--max-cost {money(args.max_cost)}; raise it, trim the plan, or pass --yes-over-estimate")
    if estimate.unpriced:
        names = ", ".join(f"“{t}”" for t in estimate.unpriced[:3]) + (" …" if len(estimate.unpriced) > 3 else "")
        return (f"not started: --max-cost cannot be checked, no known price for {names}; set a price "
                "with `troupe providers price`, or pass --yes-over-estimate")
    return None


def cmd_resume(args: argparse.Namespace) -> int:
    service = RunService.open()
    try:
        gate = _gate(args, TerminalPrompter())
        try:
            handle = service.resume(args.run_id, gate, _sinks(args.json, args.yes),
                                    constraints=_resume_constraints(service, args))
        except (UnknownRun, NotResumable) as exc:
            raise BadInput(str(exc)) from None
        run = service.get_run(handle.run_id)
        steps = f", {handle.replayed_steps} finished step(s) replayed" if handle.replayed_steps else ""
        print(f"resuming run {run.id} ({len(handle.kept)} finished task(s) reused{steps}): {run.goal}",
              file=sys.stderr)

        async def go() -> int:
            return _report(await handle.run(), args.json)

        return _run_async(service, run.id, go())
    finally:
        service.close()


def _resume_constraints(service: RunService, args: argparse.Namespace) -> Constraints | None:
    """The stored budget and deadline with what --budget / --deadline replace (None: as stored)."""
    if args.budget is KEEP and args.deadline is KEEP:
        return None
    stored = service.constraints(args.run_id)
    return Constraints(stored.budget_usd if args.budget is KEEP else args.budget,
                       stored.deadline if args.deadline is KEEP else args.deadline)


def _run_async(service: RunService, run_id: str, coro) -> int:  # type: ignore[no-untyped-def]
    """Run the coroutine; Ctrl+C or SIGTERM leaves the run resumable (exit 130)."""

    async def guarded() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None and sys.platform != "win32":
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await coro
        except asyncio.CancelledError:
            return EXIT_INTERRUPTED
        finally:
            await service.aclose_llm()

    try:
        code = asyncio.run(guarded())
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        service.writer.flush()
        service.store.set_run_status(run_id, RunStatus.INTERRUPTED, "stopped by the person")
        print(f"troupe: interrupted; continue with `troupe resume {run_id}`", file=sys.stderr)
    return code


def _sinks(as_json: bool, unattended: bool) -> list:
    return [JsonLinesSink()] if as_json else [ProgressPrinter(unattended=unattended)]


def _fail(service: RunService, run_id: str, message: str) -> int:
    service.writer.flush()
    service.store.set_run_status(run_id, RunStatus.FAILED, message)
    print(f"troupe: {message}", file=sys.stderr)
    return EXIT_FAILED


def _report(outcome: RunOutcome, as_json: bool) -> int:
    if outcome.status is RunStatus.COMPLETED:
        if outcome.partial:
            why = outcome.error or "some tasks were rejected"
            print(f"troupe: partial result: {why}; the deliverable says what is missing", file=sys.stderr)
        if outcome.deliverable and not as_json:
            print(outcome.deliverable)
        return EXIT_OK
    print(f"troupe: run {outcome.status}: {outcome.error}", file=sys.stderr)
    return EXIT_FAILED


def _read_plan_file(path: Path, goal: str) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"plan file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read plan file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"plan file {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:  # Python's parser gives up about a thousand levels down
        raise BadInput(f"invalid plan file {path}: it is nested too deeply to read "
                       f"(a plan's tasks nest at most {MAX_NESTING} levels)") from None
    if isinstance(data, dict) and goal.strip():  # the goal typed wins: the agents work on it
        data["goal"] = goal
    try:
        plan = Plan.from_dict(data)
        validate_plan(plan, load_user_roster().names)
    except PlanError as exc:
        raise BadInput(f"invalid plan file {path}: {exc}") from None
    return plan


# --- plan ------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    first_run()
    service = RunService.open()
    try:
        config = service.config(args.model, None, args.api_base, max_tokens=args.max_tokens)
        _embedded_model_note(config.model)

        async def go() -> Plan:
            # Planning alone creates no run: nothing is stored.
            from agents.llm.calls import CallContext  # noqa: PLC0415

            planner = service.planner(config)
            ctx = CallContext(run_id="", sink=ProgressPrinter(), purpose="plan", stream_tokens=False)
            try:
                planned = await planner.plan(ctx, args.goal)
            finally:
                await service.aclose_llm()
            if planned.template_notice:
                print(f"troupe: {planned.template_notice}", file=sys.stderr)
            return planned.plan

        try:
            plan = asyncio.run(go())
        except (PlannerError, LLMError) as exc:
            print(f"troupe: planning failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        estimate = service.estimate(plan, config)
    finally:
        service.close()
    text = safe_json(plan.to_dict(), indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(render_plan(plan, estimate), file=sys.stderr)
        print(f"plan written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
        print("\n".join([headline(estimate), *notes(estimate)]), file=sys.stderr)
    return EXIT_OK


# --- history -------------------------------------------------------------------------


RUNS_PAGE = 50
"""How many runs `troupe runs` lists without --limit."""


def cmd_runs(args: argparse.Namespace) -> int:
    service = RunService.open()
    try:
        runs = service.store.list_runs(search=args.search, limit=args.limit, offset=args.offset)
        total = service.store.count_runs(search=args.search)
    finally:
        service.close()
    if args.json:
        rows = [{"id": r.id, "goal": r.goal, "status": r.status, "partial": r.partial,
                 "created": r.created, "project": r.project, "tokens": r.total_tokens,
                 "tokens_estimated": r.estimated_calls > 0,
                 "cost": r.cost, "unpriced_calls": r.unpriced_calls, "tasks": r.task_count,
                 "tasks_completed": r.tasks_completed,
                 "snippet": r.hit.to_dict() if r.hit else None}  # null unless --search
                for r in runs]
        print(safe_json(rows, indent=2))
    else:
        for r in runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
            status = "partial" if r.partial and r.status == "completed" else r.status
            print(f"{r.id}  {when}  {status:<11}  {cost_text(r.cost, r.unpriced_calls):<9}  {r.goal}")
            if r.hit is not None:  # where the words were found, each marked «like this»
                print(f"    {r.hit.where}: {r.hit.marked('«', '»')}")
    if note := _runs_note(args, len(runs), total):
        print(note, file=sys.stderr)
    return EXIT_OK


def _runs_note(args: argparse.Namespace, shown: int, total: int) -> str | None:
    """What the listing did not show, and the command that shows it (stderr: stdout stays data)."""
    if total == 0:
        return "no runs yet" if not args.search else f"no runs match {args.search!r}"
    if shown == 0:
        return f"no runs after the first {total}: try a smaller --offset"
    more = total - args.offset - shown
    if more <= 0:
        return None
    command = f"troupe runs --offset {args.offset + shown}"
    if args.limit != RUNS_PAGE:
        command += f" --limit {args.limit}"
    if args.search:
        command += f" --search {shlex.quote(args.search)}"
    if args.json:
        command += " --json"
    return f"… {more} more: {command}"


def cmd_show(args: argparse.Namespace) -> int:
    """The run as the fold of its stored events (statuses, attempts, totals); a task with
    a pattern lists its steps and its conflicts with their answers."""
    run, calls, state, conflicts = _load_run(args.run_id)
    if args.json:
        print(safe_json(run_to_dict(run, calls, state, conflicts), indent=2))
        return EXIT_OK
    status = state.status.value + (" (partial)" if state.partial and state.status is RunStatus.COMPLETED else "")
    about = "~" if state.tokens_estimated else ""  # some counted by Troupe: the server sent none
    print(f"{run.id}  {status}  {about}{state.total_tokens} tokens  {cost_text(state.cost, run.unpriced_calls)}"
          f"\n{run.goal}\n")
    if run.estimate:  # how far to trust the next estimate
        print(f"  cost: {compared(RunEstimate.from_dict(run.estimate), state.cost)}")
    if limits := constraints_line(state.budget_usd, state.cost, state.deadline,
                                  live=state.status in (RunStatus.RUNNING, RunStatus.PAUSED)):
        print(f"  {limits}")
    pad = f"  {'':<12} "
    for warning in state.warnings:  # a map cut at max_items, an MCP server that failed
        print(f"  ! {warning}")
    for t in state.tasks.values():
        print(f"  {t.task_id:<12} {t.status.value:<16} {t.agent:<11} {t.title}")
        if t.error and t.status in (TaskStatus.SKIPPED, TaskStatus.FAILED, TaskStatus.BLOCKED):
            print(f"{pad}why: {t.error}")  # rejected, not chosen by a route, what failed
        for call in (c for c in calls if c.task_id == t.task_id):
            print(f"{pad}⚙ {call.line()}")
        shown, more = steps_to_show(t.steps.values())
        for step in shown:
            print(f"{pad}· {step_line(step)}")
        if more:
            print(f"{pad}· … {more} more steps (every one: troupe show {run.id} --json)")
        for record in (c for c in conflicts if c.task_id == t.task_id):
            print("\n".join(pad + line if line else "" for line in _conflict_lines(record)))
    if run.deliverable:
        print("\n" + run.deliverable)
    return EXIT_OK


def _conflict_lines(record: ConflictRecord) -> list[str]:
    """A conflict in `troupe show`: why, each claim in full, and who settled it how."""
    question = record.question
    lines = [f"⚖ conflict ({question.kind}): {question.why}"]
    for number, claim in enumerate(question.claims, 1):
        lines.append(f"    {number}. {claim.who}:")
        lines += [f"       {line}".rstrip() for line in claim.text.strip().splitlines()]
    who = record.decided_by
    lines.append(f"    → {record.resolution}" + (f" (decided by {who})" if who == "the person" else
                                                    f" ({who})" if who else ""))
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    run, calls, state, conflicts = _load_run(args.run_id)
    text = export_run(run, args.format, calls, state, conflicts)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"exported to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _load_run(run_id: str) -> tuple[RunDetail, list[ToolCallRecord], RunState, list[ConflictRecord]]:
    """The stored run, its tool calls, the fold of its events and its conflicts."""
    service = RunService.open()
    try:
        run = service.get_run(run_id)
        events = service.store.events(run_id)
        return (run, tool_calls_from_events(events), stored_run_state(service.store, run),
                conflicts_from_events(events))
    except UnknownRun as exc:
        raise BadInput(str(exc)) from None
    finally:
        service.close()


COMMANDS = {
    "run": cmd_run, "resume": cmd_resume, "plan": cmd_plan,
    "runs": cmd_runs, "show": cmd_show, "export": cmd_export,
    "providers": cmd_providers, "keys": cmd_keys, "tools": cmd_tools, "mcp": cmd_mcp,
    "db": cmd_db, "models": cmd_models, "usage": cmd_usage, "projects": cmd_projects,
}

if __name__ == "__main__":
    sys.exit(main())
