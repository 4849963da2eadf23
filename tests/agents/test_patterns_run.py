"""Task patterns run by the runner against the scripted local server (issue 14).

Each pattern: its steps reach the server as separate requests, its result is
the task's output, disagreements become conflicts the gate settles, and a
resumed run replays finished steps instead of asking the server again.
"""

from __future__ import annotations

import json

import pytest

from agents.approvals import Subject
from agents.events import StepFinished, StepStarted, TaskSkipped, TokenDelta
from agents.llm.calls import RetryPolicy
from agents.llm.client import LiteLLMClient
from agents.plan import Plan
from agents.plan.roster import load_roster
from agents.ports import Action, Decision
from agents.run.agent import Input, ModelSettings
from agents.run.runner import Runner, RunOptions
from agents.run.state import TaskStatus
from agents.run.team import PriorStep, agreement, split_items, verdict
from agents.testing import RecordingSink, ScriptedGate
from tests.support.scripted_server import Reply


@pytest.fixture
async def llm():
    client = LiteLLMClient()
    yield client
    await client.aclose()


def make_runner(llm, server, plan: Plan, gate=None, prior_steps=None, **options):
    sink = RecordingSink()
    settings = ModelSettings(model="openai/test-model", api_base=server.base_url, api_key="sk-test-x")
    runner = Runner(run_id="r", plan=plan, roster=load_roster(), llm=llm, settings=settings, sink=sink,
                    gate=gate or ScriptedGate(), prior_steps=prior_steps,
                    options=RunOptions(retry=RetryPolicy(base_delay=0.01, max_attempts=2), synthesize=False,
                                       **options))
    return runner, sink


def plan(*tasks: dict) -> Plan:
    return Plan.from_dict({"goal": "Write about penguins", "tasks": list(tasks)})


def everything(request) -> str:
    return "\n".join(str(m.get("content") or "") for m in request.messages)


def steps(sink, task_id: str) -> list[tuple[str, str]]:
    return [(e.step, e.note) for e in sink.of(StepFinished) if e.task_id == task_id]


# --- review ----------------------------------------------------------------------------

REVIEWED = {"id": "essay", "title": "Essay", "agent": "writer", "instructions": "Write it.",
            "pattern": "review", "reviewer": "reviewer", "max_rounds": 3}


def reviewer_wants(approve_at: int | None):
    """The writer drafts "draft N"; the reviewer approves draft `approve_at` (never: None)."""
    def answer(request):
        text = everything(request)
        if "The draft to review" in text:
            number = int(text.split("The draft to review:\n\n")[1].split()[1])
            return Reply("APPROVE") if number == approve_at else Reply(f"REVISE\nAdd a source to draft {number}.")
        rounds = text.count("The reviewer asked for a revision")
        previous = int(text.split("Your previous draft:\n\n")[1].split()[1]) if rounds else 0
        return Reply(f"draft {previous + 1} about penguins")
    return answer


async def test_review_revises_with_the_feedback_until_approved(llm, llm_server):
    llm_server.script(reviewer_wants(approve_at=2))
    runner, sink = make_runner(llm, llm_server, plan(REVIEWED))
    outcome = await runner.run()
    assert outcome.status == "completed"
    assert runner.states["essay"].output == "draft 2 about penguins"
    assert steps(sink, "essay") == [("draft 1", ""), ("review 1", "revise"), ("draft 2", ""),
                                     ("review 2", "approved")]
    second_draft = llm_server.chat_requests[2]
    assert "Add a source to draft 1." in everything(second_draft)  # the feedback went back to the maker
    assert len(llm_server.chat_requests) == 4


async def test_a_review_never_approved_is_a_conflict_the_person_settles(llm, llm_server):
    llm_server.script(reviewer_wants(approve_at=None))
    gate = ScriptedGate({"essay": Decision(Action.PICK, "2")})  # an earlier draft
    runner, sink = make_runner(llm, llm_server, plan(REVIEWED), gate=gate)
    await runner.run()
    [question] = gate.requests
    assert question.subject is Subject.CONFLICT and question.conflict is not None
    assert question.conflict.why == ("the reviewer did not approve after 3 rounds; its last review: "
                                     "Add a source to draft 3.")
    # only drafts can be picked: the reviewer's objection is never the output
    assert [c.who for c in question.conflict.claims] == ["writer, draft 3", "writer, draft 2", "writer, draft 1"]
    assert question.conflict.proposed == "draft 3 about penguins"
    assert runner.states["essay"].output == "draft 2 about penguins"
    assert ("decision 1", "pick") in steps(sink, "essay")


async def test_another_round_then_accept(llm, llm_server):
    llm_server.script(reviewer_wants(approve_at=4))
    gate = ScriptedGate({"essay": Decision(Action.RETRY)})
    runner, _ = make_runner(llm, llm_server, plan(REVIEWED), gate=gate)
    await runner.run()
    assert len(gate.requests) == 1  # round 4 was approved: no second question
    assert runner.states["essay"].output == "draft 4 about penguins"


async def test_a_resumed_review_replays_its_finished_steps(llm, llm_server):
    llm_server.script(reviewer_wants(approve_at=2))
    prior = {"essay": {"draft 1": PriorStep("draft 1 about penguins"),
                       "review 1": PriorStep("REVISE\nAdd a source to draft 1.", "revise")}}
    runner, sink = make_runner(llm, llm_server, plan(REVIEWED), prior_steps=prior)
    await runner.run()
    assert runner.states["essay"].output == "draft 2 about penguins"
    assert len(llm_server.chat_requests) == 2  # draft 2 and review 2 only
    replayed = [e.step for e in sink.of(StepFinished) if e.replayed]
    assert replayed == ["draft 1", "review 1"]
    assert [e.step for e in sink.of(StepStarted)] == ["draft 2", "review 2"]


# --- vote ------------------------------------------------------------------------------


def voting(answers: dict[str, str], judge: str = ""):
    def answer(request):
        text = everything(request)
        if "Several agents answered" in text:
            return Reply(judge)
        system = request.messages[0]["content"]
        for role, said in answers.items():
            if role in system.lower():
                return Reply(said)
        return Reply("?")
    return answer


async def test_a_majority_vote_takes_the_most_common_answer(llm, llm_server):
    llm_server.script(voting({"analyst": "Emperor penguin", "researcher": "emperor penguin.",
                              "writer": "King penguin"}))
    task = {"id": "q", "title": "Largest penguin?", "agent": "analyst", "pattern": "vote",
            "voters": ["analyst", "researcher", "writer"]}
    runner, sink = make_runner(llm, llm_server, plan(task))
    await runner.run()
    assert runner.states["q"].output == "Emperor penguin"
    tally = next(e for e in sink.of(StepFinished) if e.step == "tally")
    assert tally.note == "agreement 67%"
    assert "2× 'Emperor penguin'" in tally.output and "3. writer: King penguin" in tally.output


async def test_a_tied_vote_is_a_conflict_and_yes_takes_the_proposal(llm, llm_server):
    llm_server.script(voting({"analyst": "Emperor", "researcher": "King"}))
    task = {"id": "q", "title": "Largest penguin?", "agent": "analyst", "pattern": "vote",
            "voters": ["analyst", "researcher"]}
    gate = ScriptedGate({"q": Decision(Action.APPROVE, "no person decided (--yes)")})
    runner, _ = make_runner(llm, llm_server, plan(task), gate=gate)
    await runner.run()
    [question] = gate.requests
    assert question.conflict is not None and question.conflict.why == "the vote is tied"
    assert runner.states["q"].output == "Emperor"


async def test_a_judge_picks_and_says_why(llm, llm_server):
    # long and not one phrase over and over (that is a loop: agents/run/guard.py)
    def long(about: str) -> str:
        return f"A long answer about emperor penguins and {about}. " + " ".join(
            f"Point {i} of {about}." for i in range(12))

    llm_server.script(voting({"analyst": long("their size"), "researcher": long("their weight")},
                             judge="WINNER: 2\nIt gives the weight."))
    task = {"id": "q", "title": "Largest penguin?", "agent": "analyst", "pattern": "vote",
            "voters": ["analyst", "researcher"], "judge": "reviewer"}
    runner, sink = make_runner(llm, llm_server, plan(task))
    await runner.run()
    assert runner.states["q"].output.startswith("A long answer about emperor penguins and their weight")
    assert ("judgement", "picked answer 2") in steps(sink, "q")


def test_agreement_is_measured_as_documented():
    assert agreement(["Yes", "yes.", "No"]) == pytest.approx(2 / 3)
    assert agreement(["a b c " * 80, "a b c " * 80]) == 1.0
    assert agreement(["alpha beta " * 60, "gamma delta " * 60]) == 0.0


# --- debate ----------------------------------------------------------------------------


async def test_a_debate_shows_each_debater_the_others_and_the_judge_decides(llm, llm_server):
    def answer(request):
        text = everything(request)
        if "The debaters' final arguments" in text:
            return Reply("WINNER: 1\nBetter evidence.\nEmperor penguins are the largest.")
        me = "analyst" if "analyst" in request.messages[0]["content"].lower() else "researcher"
        return Reply(f"{me} argues round {text.count('round 2 of') + 1}")
    llm_server.script(answer)
    task = {"id": "d", "title": "Which penguin is largest?", "agent": "analyst", "pattern": "debate",
            "debaters": ["analyst", "researcher"], "rounds": 2, "judge": "reviewer"}
    runner, sink = make_runner(llm, llm_server, plan(task))
    await runner.run()
    assert runner.states["d"].output.startswith("WINNER: 1")
    second_round = [r for r in llm_server.chat_requests if "round 2 of" in everything(r)]
    assert len(second_round) == 2
    assert all("The other debaters' last arguments" in everything(r) for r in second_round)
    assert [s for s, _ in steps(sink, "d")] == ["round 1 · 1", "round 1 · 2", "round 2 · 1",
                                               "round 2 · 2", "judgement 2"]


# --- route -----------------------------------------------------------------------------


async def test_a_route_runs_the_chosen_task_and_skips_the_other(llm, llm_server):
    def answer(request):
        text = everything(request)
        if "Choose exactly one of these routes" in text:
            return Reply("prose\nThe goal asks for an essay.")
        return Reply(f"did {request.last_user.split('Your task (')[1].split(')')[0]}")
    llm_server.script(answer)
    router = {"id": "pick", "title": "Pick the approach", "agent": "analyst", "pattern": "route",
              "routes": {"code": "build", "prose": "write"}}
    build = {"id": "build", "title": "Build a tool", "agent": "coder", "depends_on": ["pick"]}
    write = {"id": "write", "title": "Write prose", "agent": "writer", "depends_on": ["pick"]}
    final = {"id": "final", "title": "Wrap up", "agent": "writer", "depends_on": ["build", "write"]}
    runner, sink = make_runner(llm, llm_server, plan(router, build, write, final))
    outcome = await runner.run()
    assert outcome.status == "completed" and not outcome.partial
    assert runner.states["build"].status is TaskStatus.SKIPPED
    [skip] = sink.of(TaskSkipped)
    assert skip.reason == "not chosen by “Pick the approach” (it chose prose)"
    assert runner.states["write"].output == "did write"
    assert runner.states["final"].status is TaskStatus.COMPLETED  # goes on without the skipped route
    assert runner.state.counts() == (3, 3, 0, 0)  # the route not taken is not work left undone
    assert runner.states["pick"].output == "Chose “prose” (Write prose): The goal asks for an essay."


# --- map -------------------------------------------------------------------------------


async def test_a_map_runs_one_agent_per_item_in_order(llm, llm_server):
    sources = "Sources:\n\n- Antarctic survey\n- Zoo records\n  (two zoos)\n1. Field notes\n"

    def answer(request):
        text = everything(request)
        if "Your task (list)" in text:
            return Reply(sources)
        item = text.split("Do this for one item only, item ")[1].split("\n\n", 1)[1].split("\n\n")[0]
        return Reply(f"summary of {item}", latency=0.05 * len(item) % 0.2)
    llm_server.script(answer)
    lister = {"id": "list", "title": "Sources", "agent": "researcher"}
    mapper = {"id": "each", "title": "Summarise each", "agent": "analyst", "depends_on": ["list"],
              "pattern": "map", "over": "list"}
    runner, sink = make_runner(llm, llm_server, plan(lister, mapper))
    await runner.run()
    out = runner.states["each"].output
    assert out.index("summary of Antarctic survey") < out.index("summary of Zoo records (two zoos)") \
        < out.index("summary of Field notes")
    item_requests = [r for r in llm_server.chat_requests if "Do this for one item only" in everything(r)]
    assert len(item_requests) == 3
    assert all("Antarctic survey" not in everything(r) for r in item_requests
               if "item 2 of 3" in everything(r))  # each agent sees its item alone


async def test_a_map_of_300_items_runs_them_all(llm, llm_server):
    items = [f"penguin colony {i}" for i in range(300)]

    def answer(request):
        text = everything(request)
        if "Your task (list)" in text:
            return Reply(json.dumps(items))
        return Reply("ok " + text.split("Do this for one item only, item ")[1].split(" ")[0])
    llm_server.script(answer)
    lister = {"id": "list", "title": "Colonies", "agent": "researcher"}
    mapper = {"id": "each", "title": "Describe each", "agent": "analyst", "depends_on": ["list"],
              "pattern": "map", "over": "list", "max_items": 300}
    runner, sink = make_runner(llm, llm_server, plan(lister, mapper), max_parallel=50)
    await runner.run()
    assert runner.states["each"].status is TaskStatus.COMPLETED
    assert len([e for e in sink.of(StepFinished) if e.task_id == "each"]) == 300
    assert "### 300. penguin colony 299\n\nok 300" in runner.states["each"].output
    assert not [e for e in sink.of(TokenDelta) if e.task_id == "each"]  # 300 streams are not shown live


async def test_a_map_over_text_that_is_not_a_list_fails_clearly(llm, llm_server):
    llm_server.script(lambda r: Reply("Just a paragraph about penguins."))
    lister = {"id": "list", "title": "Sources", "agent": "researcher"}
    mapper = {"id": "each", "title": "Summarise each", "agent": "analyst", "depends_on": ["list"],
              "pattern": "map", "over": "list"}
    runner, _ = make_runner(llm, llm_server, plan(lister, mapper))
    outcome = await runner.run()
    assert outcome.status == "failed"
    assert runner.states["each"].error == ("the output of “Sources” is not a list (a JSON array or a "
                                           "Markdown list): nothing to work through")


def test_items_are_split_from_json_or_markdown():
    assert split_items('["a", "b", {"c": 1}]') == ["a", "b", '{"c": 1}']
    assert split_items("Here:\n```json\n[\"x\", \"y\"]\n```") == ["x", "y"]
    assert split_items("* one\n* two\n   wrapped\n\n3) three") == ["one", "two wrapped", "three"]
    assert split_items("no list here") is None
    assert split_items("[]") == []
    nested = "- Antarctic survey\n  - 2019 edition\n- Zoo records\n    - two zoos\n\nNotes:\n- a caveat"
    assert split_items(nested) == ["Antarctic survey — 2019 edition", "Zoo records — two zoos"]


def test_a_verdict_reads_the_first_line():
    assert verdict("APPROVE") and verdict("**Approve.**\nGood work")
    assert not verdict("REVISE\nplease approve later")
    assert not verdict("Needs work")


# --- the planner -------------------------------------------------------------------------


async def test_the_planner_knows_the_patterns_and_hears_about_a_bad_one(llm, llm_server):
    from agents.llm.calls import CallContext
    from agents.plan.patterns import Review
    from agents.plan.planner import Planner

    bad = {"goal": "g", "tasks": [{"id": "essay", "title": "Essay", "agent": "writer",
                                   "pattern": "review", "reviewer": "critic"}]}
    good = {"goal": "g", "tasks": [{"id": "essay", "title": "Essay", "agent": "writer",
                                    "pattern": "review", "reviewer": "reviewer", "max_rounds": 2}]}
    llm_server.enqueue(Reply(json.dumps(bad)), Reply(json.dumps(good)))
    planner = Planner(llm, load_roster(), ModelSettings(model="openai/test-model", api_base=llm_server.base_url,
                                                        api_key="sk-test-x"), retry=RetryPolicy(base_delay=0.01))
    result = await planner.plan(CallContext(run_id="r", sink=RecordingSink()), "Write about penguins")
    assert result.plan.tasks[0].pattern == Review("reviewer", 2)
    first, second = llm_server.chat_requests
    assert '"pattern": "review"' in first.messages[0]["content"]  # the prompt teaches the patterns
    assert "reviewer 'critic' is not a known role" in second.last_user


# --- delegate ----------------------------------------------------------------------------

SUB_PLAN = {"tasks": [
    {"id": "facts", "title": "Gather facts", "agent": "researcher", "instructions": "Find facts."},
    {"id": "angle", "title": "Pick an angle", "agent": "analyst", "instructions": "Choose."},
    {"id": "draft", "title": "Draft it", "agent": "writer", "depends_on": ["facts", "angle"],
     "pattern": "review", "reviewer": "reviewer", "max_rounds": 2},
]}


def managing(first_plan: dict | None = None):
    def answer(request):
        text = everything(request)
        if "You manage this task" in text:
            asked_again = "That is not a usable plan" in text
            return Reply(json.dumps(SUB_PLAN if asked_again or first_plan is None else first_plan))
        if "Your team's results" in text:
            return Reply("integrated: " + " | ".join(
                line for line in text.splitlines() if line.startswith("did ")))
        if "The draft to review" in text:
            return Reply("APPROVE")
        task = request.last_user.split("Your task (")[1].split(")")[0] if "Your task (" in request.last_user \
            else text.split("Your task (")[-1].split(")")[0]
        return Reply(f"did {task}")
    return answer


DELEGATED = {"id": "report", "title": "Penguin report", "agent": "writer", "pattern": "delegate",
             "max_subtasks": 4}


async def test_a_manager_plans_runs_and_integrates_sub_tasks(llm, llm_server):
    llm_server.script(managing())
    runner, sink = make_runner(llm, llm_server, plan(DELEGATED))
    outcome = await runner.run()
    assert outcome.status == "completed", outcome.error
    keys = [s for s, _ in steps(sink, "report")]
    assert keys[0] == "plan" and keys[-1] == "integrate"
    assert {"sub facts", "sub angle", "sub draft · draft 1", "sub draft · review 1"} <= set(keys)
    assert keys.index("sub draft · draft 1") > max(keys.index("sub facts"), keys.index("sub angle"))
    assert runner.state.tasks["report"].subtasks[""][2]["pattern"] == "review"
    draft_request = next(r for r in llm_server.chat_requests if "Your task (draft)" in everything(r))
    assert "did facts" in everything(draft_request) and "did angle" in everything(draft_request)
    assert runner.states["report"].output.startswith("integrated: ")


async def test_a_manager_is_told_what_is_wrong_with_its_sub_plan(llm, llm_server):
    too_many = {"tasks": [{"id": f"s{i}", "title": f"S{i}", "agent": "writer"} for i in range(6)]}
    llm_server.script(managing(first_plan=too_many))
    runner, sink = make_runner(llm, llm_server, plan(DELEGATED))
    await runner.run()
    notes = dict(steps(sink, "report"))
    assert notes["plan"] == "unusable: 6 sub-tasks; at most 4"
    assert notes["plan (asked again)"] == "3 sub-tasks"
    retry = next(r for r in llm_server.chat_requests if "That is not a usable plan" in everything(r))
    assert "6 sub-tasks; at most 4" in retry.last_user


async def test_a_resumed_delegate_replays_its_plan_and_finished_sub_tasks(llm, llm_server):
    llm_server.script(managing())
    first, sink = make_runner(llm, llm_server, plan(DELEGATED))
    await first.run()
    recorded = {e.step: PriorStep(e.output, e.note) for e in sink.of(StepFinished)
                if e.task_id == "report" and e.step != "integrate"}
    before = len(llm_server.chat_requests)
    second, _ = make_runner(llm, llm_server, plan(DELEGATED), prior_steps={"report": recorded})
    await second.run()
    assert len(llm_server.chat_requests) - before == 1  # only the integration is asked again
    assert second.states["report"].output == first.states["report"].output


# --- inputs that contradict each other ------------------------------------------------------

SOURCES = [{"id": "a", "title": "Survey A", "agent": "researcher"},
           {"id": "b", "title": "Survey B", "agent": "researcher"},
           {"id": "sum", "title": "Summary", "agent": "writer", "depends_on": ["a", "b"]}]


def contradicting(request):
    text = everything(request)
    if "Your task (a)" in text:
        return Reply("Emperor penguins weigh 40 kg.")
    if "Your task (b)" in text:
        return Reply("Emperor penguins weigh 20 kg.")
    if "trust “Survey B”" in text:
        return Reply("Emperor penguins weigh about 20 kg.")
    return Reply("CONTRADICTION: the surveys give different weights.\nThey weigh 20 to 40 kg.")


async def test_a_task_that_finds_its_inputs_contradict_asks_the_person(llm, llm_server):
    llm_server.script(contradicting)
    gate = ScriptedGate({"sum": Decision(Action.PICK, "2")})
    runner, sink = make_runner(llm, llm_server, plan(*SOURCES), gate=gate)
    await runner.run()
    [question] = gate.requests
    assert question.conflict is not None and question.conflict.kind == "inputs"
    assert question.conflict.why == "the writer found its inputs contradict: the surveys give different weights."
    assert [c.who for c in question.conflict.claims] == ["Survey A (a)", "Survey B (b)"]
    assert runner.states["sum"].output == "Emperor penguins weigh about 20 kg."
    assert ("decision 1", "pick") in steps(sink, "sum")
    first = next(r for r in llm_server.chat_requests if "Your task (sum)" in everything(r))
    assert "CONTRADICTION:" in everything(first)  # tasks with two or more inputs are told how to say so


async def test_accepting_a_contradiction_keeps_the_answer_without_the_marker(llm, llm_server):
    llm_server.script(contradicting)
    runner, _ = make_runner(llm, llm_server, plan(*SOURCES))  # ScriptedGate approves: accept as is
    await runner.run()
    assert runner.states["sum"].output == "They weigh 20 to 40 kg."


def test_a_finished_task_after_a_route_is_kept_on_resume():
    from agents.plan.reuse import reusable_tasks

    router = {"id": "pick", "title": "Pick", "agent": "analyst", "pattern": "route",
              "routes": {"code": "build", "prose": "write"}}
    build = {"id": "build", "title": "Build", "agent": "coder", "depends_on": ["pick"]}
    write = {"id": "write", "title": "Write", "agent": "writer", "depends_on": ["pick"]}
    final = {"id": "final", "title": "Wrap up", "agent": "writer", "depends_on": ["build", "write"]}
    both = plan(router, build, write, final)
    assert reusable_tasks(both, both, {"pick", "write", "final"}) == {"pick", "write", "final"}
    assert reusable_tasks(both, both, {"pick", "write", "final"}, retry={"pick"}) == set()


async def test_a_voter_at_a_model_asks_that_model_first(llm, llm_server):
    llm_server.script(lambda r: Reply(f"from {r.body['model']}"))
    task = {"id": "q", "title": "Largest penguin?", "agent": "analyst", "pattern": "vote",
            "voters": ["analyst@openai/other-model", "analyst"]}
    runner, _ = make_runner(llm, llm_server, plan(task))
    await runner.run()
    assert sorted(r.body["model"] for r in llm_server.chat_requests) == ["other-model", "test-model"]


def test_long_answers_conflict_only_when_they_barely_overlap():
    from agents.run.team import _too_low

    essay = "Emperor penguins are the largest penguins and breed in the Antarctic winter " * 3
    other = "The largest penguins are emperors; they breed during the Antarctic winter on sea ice " * 3
    level = agreement([essay, other])
    assert 0.2 <= level < 0.5  # a typical pair of long answers to one question
    assert not _too_low([essay, other], level)
    assert _too_low(["alpha beta " * 60, "gamma delta " * 60], 0.0)
    assert _too_low(["Yes", "No"], 0.5 - 1e-9)


# --- what the review of the core found -------------------------------------------------------

from agents.events import ApprovalResolved, LLMCallFinished, TaskFinished  # noqa: E402
from agents.run.team import _judge_pick  # noqa: E402


def test_a_judge_is_read_as_judges_write():
    assert _judge_pick("**WINNER:** 2\nBecause.", 3) == 1
    assert _judge_pick("WINNER: Debater 2", 2) == 1
    assert _judge_pick("Winner: answer 3", 3) == 2
    assert _judge_pick("UNDECIDED. There is no winner: 1 and 2 are equally strong.", 2) is None
    assert _judge_pick("WINNER: 4", 3) is None


def test_a_review_that_does_not_clearly_approve_is_a_revision():
    for refusal in ("I cannot approve this draft: it has no sources.", "Not approved - missing sources",
                    "Do not approve yet; add a citation.", "Needs work"):
        assert not verdict(refusal), refusal
    assert verdict("Looks good, approved.") and verdict("> **APPROVE**")


async def test_two_labels_to_one_task_do_not_skip_the_chosen_task(llm, llm_server):
    llm_server.script(lambda r: Reply("urgent\nIt is on fire.") if "Choose exactly one" in everything(r)
                      else Reply("handled"))
    router = {"id": "triage", "title": "Triage", "agent": "analyst", "pattern": "route",
              "routes": {"urgent": "esc", "critical": "esc", "normal": "file"}}
    esc = {"id": "esc", "title": "Escalate", "agent": "writer", "depends_on": ["triage"]}
    file_ = {"id": "file", "title": "File it", "agent": "writer", "depends_on": ["triage"]}
    runner, _ = make_runner(llm, llm_server, plan(router, esc, file_))
    await runner.run()
    assert runner.states["esc"].status is TaskStatus.COMPLETED
    assert runner.states["file"].status is TaskStatus.SKIPPED


async def test_a_failed_voter_stops_the_others(llm, llm_server):
    def answer(request):
        if "analyst" in request.messages[0]["content"].lower():
            return Reply.error(400, "bad request")
        return Reply("slow answer", latency=1.5)
    llm_server.script(answer)
    task = {"id": "q", "title": "Q", "agent": "analyst", "pattern": "vote", "voters": ["analyst", "writer"]}
    runner, sink = make_runner(llm, llm_server, plan(task))
    outcome = await runner.run()
    assert outcome.status == "failed"
    assert not [e for e in sink.of(StepFinished) if e.step == "answer 2"]  # cancelled, not left running
    assert not [e for e in sink.of(LLMCallFinished) if e.task_id == "q" and not e.error]  # nothing paid for


async def test_a_voter_at_a_model_keeps_its_model_when_the_role_has_tools(llm, llm_server, tmp_path):
    from agents.tools.builtin import builtin_registry
    from agents.tools.loop import ToolSetup

    llm_server.script(lambda r: Reply(f"from {r.body['model']}"))
    task = {"id": "q", "title": "Q", "agent": "coder", "pattern": "vote",
            "voters": ["coder@openai/other-model", "coder"]}
    runner, _ = make_runner(llm, llm_server, plan(task), tools=ToolSetup(builtin_registry(), tmp_path))
    await runner.run()
    assert sorted(r.body["model"] for r in llm_server.chat_requests) == ["other-model", "test-model"]


async def test_waiting_for_the_person_about_contradicting_inputs_holds_no_slot(llm, llm_server):
    llm_server.script(contradicting)
    other = {"id": "z", "title": "Other", "agent": "writer", "depends_on": ["a", "b"], "instructions": "z"}
    runner, sink = make_runner(llm, llm_server, plan(*SOURCES, other), max_parallel=1,
                               gate=ScriptedGate(delay=1.0))
    llm_server.script(lambda r: contradicting(r) if "Your task (z)" not in everything(r) else Reply("z done"))
    await runner.run()
    z_done = next(e.ts for e in sink.of(TaskFinished) if e.task_id == "z")
    decided = next(e.ts for e in sink.of(ApprovalResolved) if e.task_id == "sum")
    assert z_done < decided  # z ran while the question waited


def test_pattern_steps_are_not_told_to_report_contradictions(llm_server):
    from agents.run.team import TeamHost

    host = TeamHost(run_id="r", goal="g", task=plan(*SOURCES).task("sum"), inputs=[
        Input("a", "A", "x"), Input("b", "B", "y")], roles=load_roster().get, models=lambda r, m: (),
        ask=None, emit=lambda e: None, decide=None, prior={}, titles={}, warn=lambda m: None)  # type: ignore[arg-type]
    assert "CONTRADICTION" not in host.base_messages(load_roster().get("writer"))[1].content


async def test_a_group_a_route_did_not_choose_is_skipped_not_failed(llm, llm_server):
    llm_server.script(lambda r: Reply("prose\nessay") if "Choose exactly one" in everything(r) else Reply("ok"))
    router = {"id": "pick", "title": "Pick", "agent": "analyst", "pattern": "route",
              "routes": {"code": "build", "prose": "write"}}
    build = {"id": "build", "title": "Build", "agent": "coder", "depends_on": ["pick"], "children": [
        {"id": "b1", "title": "B1", "agent": "coder"}, {"id": "b2", "title": "B2", "agent": "coder"}]}
    write = {"id": "write", "title": "Write", "agent": "writer", "depends_on": ["pick"]}
    runner, _ = make_runner(llm, llm_server, plan(router, build, write))
    outcome = await runner.run()
    assert outcome.status == "completed"
    assert runner.states["build"].status is TaskStatus.SKIPPED
    assert runner.states["build"].error.startswith("not chosen by")


async def test_a_router_answered_by_hand_takes_the_route_it_names(llm, llm_server):
    llm_server.script(lambda r: Reply("ok"))
    router = {"id": "pick", "title": "Pick", "agent": "analyst", "pattern": "route", "requires_approval": True,
              "routes": {"code": "build", "prose": "write"}}
    build = {"id": "build", "title": "Build", "agent": "coder", "depends_on": ["pick"]}
    write = {"id": "write", "title": "Write", "agent": "writer", "depends_on": ["pick"]}
    gate = ScriptedGate({"pick": Decision(Action.OVERRIDE, "code\nwe need a tool")})
    runner, _ = make_runner(llm, llm_server, plan(router, build, write), gate=gate)
    await runner.run()
    assert runner.states["build"].status is TaskStatus.COMPLETED
    assert runner.states["write"].status is TaskStatus.SKIPPED
    assert runner.states["pick"].output.startswith("Chose “code” (Build)")


def test_a_pattern_task_after_a_route_replays_its_steps():
    from agents.plan.reuse import reusable_steps

    router = {"id": "pick", "title": "Pick", "agent": "analyst", "pattern": "route",
              "routes": {"code": "build", "prose": "write"}}
    build = {"id": "build", "title": "Build", "agent": "coder", "depends_on": ["pick"]}
    write = {"id": "write", "title": "Write", "agent": "writer", "depends_on": ["pick"]}
    final = {**REVIEWED, "id": "final", "depends_on": ["build", "write"]}
    p = plan(router, build, write, final)
    assert "final" in reusable_steps(p, p, {"pick", "write"}, {"pick", "write"})


async def test_a_sub_task_that_needs_approval_asks_the_person_once(llm, llm_server):
    plan_with_approval = {"tasks": [
        {"id": "facts", "title": "Gather facts", "agent": "researcher", "instructions": "Find facts."},
        {"id": "post", "title": "Publish the post", "agent": "writer", "instructions": "Publish.",
         "depends_on": ["facts"], "requires_approval": True},
    ]}

    def answer(request):
        text = everything(request)
        if "You manage this task" in text:
            assert "requires_approval" in text  # the manager is told it can ask for it
            return Reply(json.dumps(plan_with_approval))
        if "Your team's results" in text:
            return Reply("integrated")
        return Reply(f"did {text.split('Your task (')[-1].split(')')[0]}: {text.split('Instructions:')[-1][:40]}")
    llm_server.script(answer)
    gate = ScriptedGate({"": Decision(Action.EDIT, "Publish it as a draft only.")})
    runner, sink = make_runner(llm, llm_server, plan(DELEGATED), gate=gate)
    outcome = await runner.run()
    assert outcome.status == "completed", outcome.error
    [question] = gate.requests
    assert question.subject is Subject.TASK and question.task_id == ""  # the manager's task runs on
    assert question.title == "Penguin report › Publish the post" and question.task is not None
    assert [ref.title for ref in question.task.inputs] == ["Gather facts"]
    post = [everything(r) for r in llm_server.chat_requests if "Your task (post)" in everything(r)]
    assert len(post) == 1 and "Publish it as a draft only." in post[0], [p[-400:] for p in post]
    assert ("sub post · approval", "edit") in steps(sink, "report")
    assert runner.states["report"].status is TaskStatus.COMPLETED

    # a resume replays the answer: nobody is asked again
    recorded = {e.step: PriorStep(e.output, e.note) for e in sink.of(StepFinished)
                if e.task_id == "report" and e.step in ("plan", "sub facts", "sub post · approval")}
    again = ScriptedGate()
    second, _ = make_runner(llm, llm_server, plan(DELEGATED), gate=again, prior_steps={"report": recorded})
    await second.run()
    assert again.requests == []


async def test_a_rejected_sub_task_is_left_out_of_the_integration(llm, llm_server):
    rejected = {"tasks": [{"id": "post", "title": "Publish the post", "agent": "writer",
                           "requires_approval": True}]}
    llm_server.script(lambda r: Reply(json.dumps(rejected)) if "You manage this task" in everything(r)
                      else Reply("integrated") if "Your team's results" in everything(r) else Reply("published!"))
    gate = ScriptedGate({"": Decision(Action.REJECT, "not yet")})
    runner, _ = make_runner(llm, llm_server, plan(DELEGATED), gate=gate)
    await runner.run()
    integrate = next(r for r in llm_server.chat_requests if "Your team's results" in everything(r))
    assert "(Not done: the person rejected this sub-task: not yet.)" in everything(integrate)
    assert not [r for r in llm_server.chat_requests if "Your task (post)" in everything(r)]


async def test_only_steps_that_run_alone_stream_to_the_live_output(llm, llm_server):
    llm_server.script(reviewer_wants(approve_at=1))
    runner, sink = make_runner(llm, llm_server, plan(REVIEWED))
    await runner.run()
    assert [e for e in sink.of(TokenDelta) if e.task_id == "essay"]  # a review's steps come one at a time
    llm_server.script(voting({"analyst": "Emperor", "researcher": "Emperor"}))
    task = {"id": "q", "title": "Q", "agent": "analyst", "pattern": "vote", "voters": ["analyst", "researcher"]}
    runner, sink = make_runner(llm, llm_server, plan(task))
    await runner.run()
    assert not [e for e in sink.of(TokenDelta) if e.task_id == "q"]  # answers side by side would interleave
