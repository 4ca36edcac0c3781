"""Rules over HTTP: validation, warnings, versions and rollback, preview, activation, AI triage."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from api.relay import to_global_id
from domain.enums import ExamStatus, PatientClass, Priority
from domain.services import worklists
from tests.conftest import Api
from tests.factories import SUPERVISOR as SUPERVISOR_ACTOR
from tests.factories import count_rows, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

SUPERVISOR = ("sup.ortiz", "supervisor")
INTEGRATION = ("ai.vendor", "integration")

SAVE = """mutation($input: SaveRuleSetInput!) { saveRuleSet(input: $input) {
  __typename
  ... on RuleSetSaved { ruleSet { version active rules { name } }
                        warnings { code message ruleNames examCount } }
  ... on RuleSetInvalid { code message
                          errors { ruleIndex ruleName field code message line column } }
  ... on Error { code message }
} }"""
ACTIVATE = """mutation($input: ActivateRuleSetInput!) { activateRuleSet(input: $input) {
  __typename ... on RuleSetActivated { ruleSet { version active } previousVersion }
  ... on Error { code message }
} }"""
PREVIEW = """mutation($input: PreviewRuleSetInput!) { previewRuleSet(input: $input) {
  __typename
  ... on RuleSetPreview { changes { exam { id } fields priorityBefore priorityAfter
      subspecialtyBefore subspecialtyAfter eligibleBefore eligibleAfter assignedBefore
      assignedAfter dueAtBefore dueAtAfter }
    warnings { code ruleNames examCount } }
  ... on RuleSetInvalid { errors { code field } }
} }"""
AI = """mutation($input: PostAiTriageInput!) { postAiTriage(input: $input) {
  __typename ... on AiTriagePosted { exam { appliedRules { ruleName changes { field value } } } }
  ... on Error { code message } } }"""


def rule(name: str, condition: str, *actions: dict[str, Any], order: int = 100) -> dict[str, Any]:
    return {"name": name, "condition": condition, "order": order, "actions": list(actions)}


STAT = {"kind": "SET_PRIORITY", "priority": "STAT"}


async def save(
    api: Api, rules: list[dict[str, Any]], reason: str = "test", based_on: int | None = None
) -> dict[str, Any]:
    data = await api.data(
        SAVE, {"input": {"rules": rules, "reason": reason, "basedOn": based_on}}, actor=SUPERVISOR
    )
    return data["saveRuleSet"]  # type: ignore[return-value]


async def activate(api: Api, version: int) -> dict[str, Any]:
    data = await api.data(
        ACTIVATE, {"input": {"version": version, "reason": "test"}}, actor=SUPERVISOR
    )
    return data["activateRuleSet"]  # type: ignore[return-value]


@pytest.fixture
async def department(api: Api) -> Api:
    await reference(api.db)
    return api


ERROR_CASES = [
    (rule("bad syntax", 'modality == "CT" and and', STAT), "SYNTAX", True),
    (rule("unknown attribute", 'colour == "red"', STAT), "UNKNOWN_ATTRIBUTE", False),
    (rule("type mismatch", "priority > 3", STAT), "TYPE_MISMATCH", False),
    (rule("unknown value", 'modality == "XX"', STAT), "UNKNOWN_VALUE", False),
    (
        rule("negative minutes", 'modality == "CT"', {"kind": "SET_TURNAROUND", "minutes": -5}),
        "IMPOSSIBLE_VALUE",
        False,
    ),
    (
        rule(
            "unknown reader",
            'modality == "CT"',
            {"kind": "RESTRICT_RADIOLOGISTS", "radiologistCodes": ["NOBODY"]},
        ),
        "UNKNOWN_RADIOLOGIST",
        False,
    ),
    (
        rule("unknown site", 'modality == "CT"', {"kind": "RESTRICT_SITES", "sites": ["MARS"]}),
        "UNKNOWN_SITE",
        False,
    ),
    (rule("runs code", '__import__("os").system("true")', STAT), None, False),
]


@pytest.mark.parametrize(
    ("bad", "code", "positioned"), ERROR_CASES, ids=[c[0]["name"] for c in ERROR_CASES]
)
async def test_each_validation_error_is_typed_and_nothing_is_saved(
    department: Api, bad: dict[str, Any], code: str | None, positioned: bool
) -> None:
    good = rule(
        "fine", 'modality == "MG"', {"kind": "REQUIRE_SUBSPECIALTY", "subspecialty": "BREAST"}
    )
    result = await save(department, [good, bad])
    assert result["__typename"] == "RuleSetInvalid", result
    errors = result["errors"]
    assert errors and all(e["ruleIndex"] == 1 and e["ruleName"] == bad["name"] for e in errors)
    if code is not None:
        assert code in {e["code"] for e in errors}, errors
    if positioned:
        assert errors[0]["line"] == 1 and errors[0]["column"] > 1
    assert await department.db.read(count_rows("rule_set_versions")) == 0


async def test_warnings_do_not_block_saving(department: Api) -> None:
    db = department.db
    await drive(db, await order(db), ExamStatus.READY_FOR_READ)  # a US abdomen (BODY)
    result = await save(
        department,
        [
            rule("never matches", 'modality == "NM" and patient_age > 200', STAT),
            rule(
                "first", 'modality == "US"', {"kind": "SET_PRIORITY", "priority": "URGENT"}, order=5
            ),
            rule("second", 'body_part == "ABDOMEN"', STAT, order=5),
            rule(
                "nobody can",
                'modality == "US"',
                {"kind": "REQUIRE_SUBSPECIALTY", "subspecialty": "CARDIAC"},
                order=7,
            ),
        ],
    )
    assert result["__typename"] == "RuleSetSaved"
    codes = {w["code"]: w for w in result["warnings"]}
    assert set(codes) == {"MATCHES_NO_STUDY", "CONTRADICTION", "NO_ELIGIBLE_RADIOLOGIST"}
    assert codes["MATCHES_NO_STUDY"]["ruleNames"] == ["never matches"]
    assert set(codes["CONTRADICTION"]["ruleNames"]) == {"first", "second"}
    assert codes["NO_ELIGIBLE_RADIOLOGIST"]["examCount"] == 1
    assert result["ruleSet"]["active"] is False


async def test_versions_activation_rollback_and_diff(department: Api) -> None:
    one = await save(
        department, [rule("a", 'modality == "CT"', STAT), rule("b", 'modality == "MR"', STAT)]
    )
    v1 = one["ruleSet"]["version"]
    two = await save(
        department,
        [rule("a", 'modality == "CT"', STAT, order=1), rule("c", 'modality == "US"', STAT)],
        based_on=v1,
    )
    v2 = two["ruleSet"]["version"]
    assert (await activate(department, v1))["previousVersion"] is None
    assert (await activate(department, v2))["previousVersion"] == v1
    rollback = await activate(department, v1)
    assert rollback["ruleSet"] == {"version": v1, "active": True}
    assert (await activate(department, v1))["__typename"] == "ValidationFailed"
    assert (await activate(department, 999))["__typename"] == "NotFound"
    data = await department.data(
        """query($a: Int!, $b: Int!) {
        activeRuleSet { version } ruleSets { version active }
        ruleSetDiff(from: $a, to: $b) { added { name } removed { name }
                                        changed { name before { order } after { order } } } }""",
        {"a": v1, "b": v2},
    )
    assert data["activeRuleSet"] == {"version": v1}
    assert data["ruleSets"] == [{"version": v2, "active": False}, {"version": v1, "active": True}]
    diff = data["ruleSetDiff"]
    assert diff == {
        "added": [{"name": "c"}],
        "removed": [{"name": "b"}],
        "changed": [{"name": "a", "before": {"order": 100}, "after": {"order": 1}}],
    }


async def test_only_supervisors_edit_rules(department: Api) -> None:
    body = await department.graphql(
        SAVE, {"input": {"rules": [], "reason": "x"}}, actor=("RAD03", "radiologist")
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]


async def test_preview_shows_changes_and_writes_nothing(department: Api) -> None:
    db = department.db
    exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR_ACTOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=8),
        )
    )
    tables = ["rule_set_versions", "rule_set_activations", "reads", "balancer_runs"]
    before = [await db.read(count_rows(t)) for t in tables]
    data = await department.data(
        PREVIEW,
        {
            "input": {
                "rules": [
                    rule(
                        "urgent ultrasound",
                        'modality == "US"',
                        STAT,
                        {"kind": "RESTRICT_RADIOLOGISTS", "radiologistCodes": ["RAD07"]},
                    )
                ]
            }
        },
    )
    preview = data["previewRuleSet"]
    assert preview["__typename"] == "RuleSetPreview"
    [change] = preview["changes"]
    assert change["exam"]["id"] == to_global_id("Exam", exam.id or 0)
    assert (change["priorityBefore"], change["priorityAfter"]) == ("ROUTINE", "STAT")
    assert set(change["eligibleBefore"]) == {"RAD03", "RAD07"}
    assert change["eligibleAfter"] == ["RAD07"] and change["assignedAfter"] == "RAD07"
    assert change["dueAtAfter"] < change["dueAtBefore"]
    assert [await db.read(count_rows(t)) for t in tables] == before


async def test_activation_replans_the_open_studies(live_api: Api) -> None:
    """Activation re-plans by itself (how fast is bench.rules' `activate_to_replanned_ms`)."""
    db = live_api.db
    await reference(db)
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR_ACTOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=8),
        )
    )
    exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)
    saved = await save(
        live_api,
        [
            rule(
                "to RAD07",
                'modality == "US"',
                {"kind": "RESTRICT_RADIOLOGISTS", "radiologistCodes": ["RAD07"]},
                STAT,
            )
        ],
    )
    worklist = 'query { worklist(radiologistCode: "RAD07") { priority exam { id } } }'
    runs = "{ balancerStatus { recentRuns { trigger } } }"
    # On the new reader's list, with the priority the rule gave it, by a run the activation
    # triggered. Waited for as one condition: the exam may sit on RAD07's list before the
    # activation's run (placed when it became ready), and the run is recorded after its commit.
    expected = [{"priority": "STAT", "exam": {"id": to_global_id("Exam", exam.id or 0)}}]
    await activate(live_api, saved["ruleSet"]["version"])
    items: object = None
    triggers: list[str] = []
    async with asyncio.timeout(120):  # a hang guard only: the machine may be very slow
        while items != expected or not any("RuleSetActivated" in t for t in triggers):
            await asyncio.sleep(0.02)
            items = (await live_api.data(worklist))["worklist"]
            recent = (await live_api.data(runs))["balancerStatus"]["recentRuns"]
            triggers = [run["trigger"] for run in recent]
    assert items == expected


async def test_ai_triage_makes_a_bleed_stat_for_neuro_and_is_explained(department: Api) -> None:
    db = department.db
    from application.planning.rule_effects import install_defaults
    from rules.defaults import DEFAULT_RULE_SET

    await db.run(lambda uow: install_defaults(uow, SUPERVISOR_ACTOR))
    exam = await order(
        db,
        procedure="CTHEAD",
        site="MAIN",
        priority=Priority.ROUTINE,
        patient_class=PatientClass.INPATIENT,
    )
    gid = to_global_id("Exam", exam.id or 0)
    denied = await department.graphql(
        AI, {"input": {"examId": gid, "finding": "x", "score": 0.5}}, actor=SUPERVISOR
    )
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
    bad = await department.data(
        AI, {"input": {"examId": gid, "finding": "bleed!", "score": 1.5}}, actor=INTEGRATION
    )
    assert bad["postAiTriage"]["__typename"] == "ValidationFailed"  # type: ignore[index]
    await drive(db, exam, ExamStatus.READY_FOR_READ, procedure="CTHEAD")
    posted = (
        await department.data(
            AI,
            {
                "input": {
                    "examId": gid,
                    "finding": "intracranial_hemorrhage",
                    "score": 0.93,
                    "model": "brainscan-2",
                }
            },
            actor=INTEGRATION,
        )
    )["postAiTriage"]
    assert posted["__typename"] == "AiTriagePosted"
    fired = {
        r["ruleName"]: {c["field"]: c["value"] for c in r["changes"]}
        for r in posted["exam"]["appliedRules"]
    }
    assert fired["AI suspected bleed"]["priority"] == "STAT"
    assert fired["AI suspected bleed"]["required_subspecialty"] == "NEURO"
    assert DEFAULT_RULE_SET.rules  # the defaults are what the demo department runs


@pytest.mark.parametrize(("preference", "expected"), [(True, "assigned"), (False, "unassignable")])
async def test_a_subspecialty_preference_yields_when_nobody_holding_it_is_on_shift(
    department: Api, preference: bool, expected: str
) -> None:
    db = department.db
    exam = await drive(db, await order(db), ExamStatus.READY_FOR_READ)  # BODY; RAD03 on shift
    saved = await save(
        department,
        [
            rule(
                "children first",
                "patient_age < 200",
                {
                    "kind": "REQUIRE_SUBSPECIALTY",
                    "subspecialty": "PEDIATRIC",
                    "onlyIfOnShift": preference,
                },
            )
        ],
    )
    await activate(department, saved["ruleSet"]["version"])
    done = await department.data(
        "mutation { rebalanceNow { run { unassignable { exam { id } } } } }", actor=SUPERVISOR
    )
    unplaced = [u["exam"]["id"] for u in done["rebalanceNow"]["run"]["unassignable"]]  # type: ignore[index]
    gid = to_global_id("Exam", exam.id or 0)
    assert (gid in unplaced) == (expected == "unassignable")


# -- simulateRuleSet ------------------------------------------------------------------------
SIMULATE = """mutation($input: SimulateRuleSetInput!) { simulateRuleSet(input: $input) {
  __typename
  ... on RuleSetSimulation { studies radiologists seed caveats
    active { ...day } draft { ...day } }
  ... on RuleSetInvalid { ruleErrors: errors { code field } }
  ... on ValidationFailed { code errors { field code message } }
} }
fragment day on SimulatedDay { breachRate wrvuMaxOverMean unread ineligibleReads seconds
  byPriority { priority studies breachRate turnaroundP50Minutes turnaroundP90Minutes
               turnaroundMaxMinutes } }"""
SMALL_DAY = {"studies": 150, "radiologists": 5, "seed": 3}


async def simulate(
    api: Api,
    rules: list[dict[str, Any]],
    scenario: dict[str, Any] | None = None,
    actor: tuple[str, str] = SUPERVISOR,
) -> dict[str, Any]:
    data = await api.data(
        SIMULATE, {"input": {"rules": rules, "scenario": scenario or SMALL_DAY}}, actor=actor
    )
    return data["simulateRuleSet"]  # type: ignore[return-value]


def figures(day: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in day.items() if k != "seconds"}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_simulating_the_active_rules_replays_the_same_day_twice(api: Api) -> None:
    rules = [rule("CT first", 'modality == "CT"', STAT)]
    version = (await save(api, rules))["ruleSet"]["version"]
    await api.data(ACTIVATE, {"input": {"version": version, "reason": "t"}}, actor=SUPERVISOR)
    result = await simulate(api, rules)
    assert result["__typename"] == "RuleSetSimulation"
    assert (result["studies"], result["radiologists"], result["seed"]) == (150, 5, 3)
    assert figures(result["active"]) == figures(result["draft"])
    day = result["active"]
    assert sum(p["studies"] for p in day["byPriority"]) == 150
    assert day["ineligibleReads"] == 0
    assert 0.0 <= day["breachRate"] <= 1.0 and day["wrvuMaxOverMean"] >= 1.0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_draft_that_starves_the_day_shows_its_breaches_beside_the_active_rules(
    api: Api,
) -> None:
    # No active rule set: the balancer alone. The draft sends every study to IR readers only.
    starve = [
        rule("All to IR", "wrvu >= 0", {"kind": "REQUIRE_SUBSPECIALTY", "subspecialty": "IR"})
    ]
    result = await simulate(api, starve)
    assert result["__typename"] == "RuleSetSimulation"
    active, draft = result["active"], result["draft"]
    assert draft["breachRate"] > active["breachRate"]
    assert draft["wrvuMaxOverMean"] > active["wrvuMaxOverMean"]
    assert draft["ineligibleReads"] == 0 and result["caveats"] == []


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_simulation_lists_what_the_synthetic_day_cannot_show(api: Api) -> None:
    rules = [rule("Bleeds", 'ai_flag == "intracranial_hemorrhage"', STAT)]
    result = await simulate(api, rules)
    assert result["__typename"] == "RuleSetSimulation"
    assert len(result["caveats"]) == 1 and "Bleeds" in result["caveats"][0]


async def test_simulation_refuses_a_bad_scenario_and_a_bad_draft_before_replaying(api: Api) -> None:
    bad_day = await simulate(
        api,
        [rule("CT", 'modality == "CT"', STAT)],
        {"studies": 0, "radiologists": 500, "capacityRatio": 0.1},
    )
    assert bad_day["__typename"] == "ValidationFailed"
    assert {e["field"] for e in bad_day["errors"]} == {
        "input.scenario.studies",
        "input.scenario.radiologists",
        "input.scenario.capacityRatio",
    }
    bad_rule = await simulate(api, [rule("CT", 'modality == "CTX" and', STAT)])
    assert bad_rule["__typename"] == "RuleSetInvalid"
    assert bad_rule["ruleErrors"][0]["field"] == "condition"


async def test_only_supervisors_and_admins_may_simulate(api: Api) -> None:
    response = await api.graphql(
        SIMULATE, {"input": {"rules": [], "scenario": SMALL_DAY}}, actor=("dr.lee", "radiologist")
    )
    assert response["data"] is None or response["data"]["simulateRuleSet"] is None
    assert response["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- registered actions and terms -----------------------------------------------------------
LISTS = """query { a: worklist(radiologistCode: "RAD03") { exam { id } }
                  b: worklist(radiologistCode: "RAD07") { exam { id } } }"""
REBALANCE = "mutation { rebalanceNow { run { moved } } }"
SAME_PATIENT = rule("one reader per patient", 'modality == "US"', {"kind": "GROUP_SAME_PATIENT"})


async def _two_readers_four_studies_of_one_patient(api: Api) -> list[str]:
    db = api.db
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR_ACTOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=8),
        )
    )
    exams = [await drive(db, await order(db), ExamStatus.READY_FOR_READ) for _ in range(4)]
    return [to_global_id("Exam", e.id or 0) for e in exams]


async def _readers_of(api: Api, ids: list[str]) -> set[str]:
    await api.data(REBALANCE, actor=SUPERVISOR)
    lists = await api.data(LISTS)
    return {who for who, items in lists.items() if {i["exam"]["id"] for i in items} & set(ids)}  # type: ignore[union-attr]


async def test_same_patient_grouping_is_saved_previewed_explained_and_keeps_one_reader(
    department: Api,
) -> None:
    ids = await _two_readers_four_studies_of_one_patient(department)
    assert await _readers_of(department, ids) == {"a", "b"}  # two idle readers share the work
    preview = (await department.data(PREVIEW, {"input": {"rules": [SAME_PATIENT]}}))[
        "previewRuleSet"
    ]
    assert {c["exam"]["id"] for c in preview["changes"]} == set(ids)  # type: ignore[index]
    assert all("marks" in c["fields"] for c in preview["changes"])  # type: ignore[index]
    saved = await save(department, [SAME_PATIENT])
    assert saved["__typename"] == "RuleSetSaved"
    await activate(department, saved["ruleSet"]["version"])
    assert len(await _readers_of(department, ids)) == 1
    explained = await department.data(
        "query($id: ID!) { exam(id: $id) { appliedRules { ruleName changes { field value } } } }",
        {"id": ids[0]},
        actor=SUPERVISOR,
    )
    [applied] = explained["exam"]["appliedRules"]  # type: ignore[index]
    assert applied == {
        "ruleName": "one reader per patient",
        "changes": [{"field": "reader_group", "value": "same patient"}],
    }
    stored = await department.data(
        "{ activeRuleSet { rules { actions { kind } } } }", actor=SUPERVISOR
    )
    assert stored["activeRuleSet"]["rules"][0]["actions"] == [{"kind": "GROUP_SAME_PATIENT"}]  # type: ignore[index]


async def test_the_preference_weight_is_a_rule_settable_weight(department: Api) -> None:
    weights = {"kind": "SET_WEIGHTS", "preference": 2.5}
    saved = await save(department, [rule("prefer", "true", weights)])
    assert saved["__typename"] == "RuleSetSaved"
    bad = await save(department, [rule("prefer", "true", {**weights, "preference": -1.0})])
    assert [e["code"] for e in bad["errors"]] == ["IMPOSSIBLE_VALUE"]


async def test_the_waiting_bound_is_saved_read_back_activated_and_shown_on_the_balancer(
    department: Api,
) -> None:
    bound = {"kind": "HOLD_WAITING_BOUND", "marginMinutes": 20.0}
    bad = await save(department, [rule("bound", "true", {**bound, "marginMinutes": 0.0})])
    assert bad["__typename"] == "RuleSetInvalid"
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [
        ("actions[0].margin_minutes", "IMPOSSIBLE_VALUE")
    ]
    saved = await save(department, [rule("bound", "true", bound)])
    assert saved["__typename"] == "RuleSetSaved"
    await activate(department, saved["ruleSet"]["version"])
    stored = await department.data(
        "{ activeRuleSet { rules { actions { kind marginMinutes } } } }", actor=SUPERVISOR
    )
    # Department-wide while the rule matches an open study: give it some to match.
    await _two_readers_four_studies_of_one_patient(department)
    assert stored["activeRuleSet"]["rules"][0]["actions"] == [bound]  # type: ignore[index]
    await department.data(REBALANCE, actor=SUPERVISOR)
    status = await department.data(
        "{ balancerStatus { lastRun { formulation } } }", actor=SUPERVISOR
    )
    assert status["balancerStatus"]["lastRun"]["formulation"].endswith(  # type: ignore[index]
        "+waiting bound 20 min"
    )
