"""Builders and hypothesis strategies for the rules tests."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from hypothesis import strategies as st

from domain.enums import Modality, PatientClass, Priority, Subspecialty
from rules.actions.same_patient import GroupSamePatient
from rules.errors import ConditionError, ErrorCode
from rules.language import check_condition
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.vocabulary import StudyFacts, Weekday

BASE = StudyFacts(
    study_id=1,
    procedure_code="CTHEAD",
    modality=Modality.CT,
    body_part="HEAD",
    subspecialty=Subspecialty.NEURO,
    priority=Priority.ROUTINE,
    patient_class=PatientClass.ED,
    site="MAIN",
    referrer="REF1",
    patient_age=50,
    ai_flag="",
    ai_score=0.0,
    hour_of_day=10,
    weekday=Weekday.TUE,
    minutes_until_due=600,
    minutes_waiting=30,
    wrvu=0.85,
)


def facts(**changes: Any) -> StudyFacts:
    """A plausible ED head CT, with some facts changed."""
    return dataclasses.replace(BASE, **changes)


# Small pools so that equalities and boundaries are hit often.
TEXT_POOLS = {
    "procedure_code": ["CTHEAD", "MRBRAIN", "XRCHEST"],
    "body_part": ["HEAD", "CHEST", "KNEE"],
    "site": ["MAIN", "NORTH"],
    "referrer": ["REF1", "REF2"],
    "ai_flag": ["", "bleed", "pe"],
}
ENUM_POOLS = {
    "modality": [m.value for m in Modality],
    "subspecialty": [s.value for s in Subspecialty],
    "priority": [p.value for p in Priority],
    "patient_class": [c.value for c in PatientClass],
    "weekday": [w.value for w in Weekday],
}
INT_ATTRS = {
    "patient_age": (0, 120),
    "hour_of_day": (0, 23),
    "minutes_until_due": (-300, 300),
    "minutes_waiting": (0, 300),
}
FLOAT_ATTRS = {"ai_score": [0.0, 0.1, 0.25, 0.5, 0.8, 0.85, 1.0], "wrvu": [0.2, 0.85, 1.8, 2.3]}


@st.composite
def studies(draw: st.DrawFn, study_id: int = 1) -> StudyFacts:
    """Random facts from small pools (plus arbitrary floats now and then)."""
    values: dict[str, Any] = {}
    for name, pool in {**TEXT_POOLS, **ENUM_POOLS}.items():
        values[name] = draw(st.sampled_from(pool))
    for name, (low, high) in INT_ATTRS.items():
        # Boundaries of the thresholds and turnarounds the strategies below use.
        edges = [
            v
            for v in (-1, 0, 1, 10, 11, 20, 29, 30, 31, 60, 61, 100, 101, 200, 201, 240)
            if low <= v <= high
        ]
        values[name] = draw(st.sampled_from(edges) | st.integers(low, high))
    for name, pool in FLOAT_ATTRS.items():
        values[name] = draw(st.sampled_from(pool) | st.floats(0, 3 if name == "wrvu" else 1))
    enums = {
        "modality": Modality,
        "subspecialty": Subspecialty,
        "priority": Priority,
        "patient_class": PatientClass,
        "weekday": Weekday,
    }
    for name, enum in enums.items():
        values[name] = enum(values[name])
    return StudyFacts(study_id=study_id, **values)


def _quote(value: str) -> str:
    return f'"{value}"'


_int_literal = st.integers(-400, 400).map(str)
_float_literal = st.sampled_from(["0", "0.1", "0.25", "0.5", "0.8", "0.85", "1", "1.5", "2.3"])


@st.composite
def _int_expr(draw: st.DrawFn) -> str:
    attr = draw(st.sampled_from(sorted(INT_ATTRS)))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return attr
    if shape == 1:
        return f"{attr} {draw(st.sampled_from(['+', '-']))} {draw(st.integers(0, 300))}"
    if shape == 2:
        other = draw(st.sampled_from(sorted(INT_ATTRS)))
        return f"({attr} {draw(st.sampled_from(['+', '-']))} {other})"
    return f"-{attr}"


@st.composite
def _atom(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 6))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if kind == 0:
        name = draw(st.sampled_from(sorted({**TEXT_POOLS, **ENUM_POOLS})))
        pool = TEXT_POOLS.get(name) or ENUM_POOLS[name]
        extra = ["UNSEEN"] if name in TEXT_POOLS else []
        value = draw(st.sampled_from(pool + extra))
        return f"{name} {draw(st.sampled_from(['==', '!=']))} {_quote(value)}"
    if kind == 1:
        name = draw(st.sampled_from(sorted({**TEXT_POOLS, **ENUM_POOLS})))
        pool = TEXT_POOLS.get(name) or ENUM_POOLS[name]
        values = draw(st.lists(st.sampled_from(pool), max_size=3))
        neg = draw(st.sampled_from(["in", "not in"]))
        return f"{name} {neg} [{', '.join(_quote(v) for v in values)}]"
    if kind == 2:
        return f"{draw(_int_expr())} {op} {draw(_int_literal)}"
    if kind == 3:
        name = draw(st.sampled_from(sorted(FLOAT_ATTRS)))
        return f"{name} {op} {draw(_float_literal)}"
    if kind == 4:
        left, right = draw(
            st.lists(st.sampled_from(sorted({**INT_ATTRS, **FLOAT_ATTRS})), min_size=2, max_size=2)
        )
        return f"{left} {op} {right}"
    if kind == 5:
        name = draw(st.sampled_from(sorted(INT_ATTRS)))
        values = draw(st.lists(st.integers(0, 30), max_size=3))
        return f"{name} in [{', '.join(map(str, values))}]"
    return draw(st.sampled_from(["true", "false"]))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["and", "or"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    return binary | children.map(lambda c: f"not ({c})")


def _compiles(text: str) -> bool:
    # The generator can write `hour_of_day == 25`, which is rightly refused at compile time.
    try:
        check_condition(text)
    except ConditionError as e:
        assert e.problem.code is ErrorCode.VALUE_OUT_OF_RANGE, (text, e.problem)
        return False
    return True


conditions = st.recursive(_atom(), _combine, max_leaves=6).filter(_compiles)

_actions: st.SearchStrategy[Action] = st.one_of(
    st.sampled_from(list(Priority)).map(SetPriority),
    st.sampled_from([30, 60, 240]).map(SetTurnaround),
    st.builds(
        EscalatePriority,
        st.none() | st.sampled_from(list(Priority)),
        st.none() | st.sampled_from([0, 60, 200]),
        st.none() | st.sampled_from([10, 100]),
    ),
    st.sampled_from(list(Subspecialty)).map(RequireSubspecialty),
    st.frozensets(st.integers(1, 5), min_size=1, max_size=3).map(RestrictRadiologists),
    st.frozensets(st.integers(1, 5), min_size=1, max_size=2).map(ExcludeRadiologists),
    st.frozensets(st.sampled_from(["MAIN", "NORTH", "SOUTH"]), min_size=1).map(RestrictSites),
    st.frozensets(st.sampled_from(["MAIN", "NORTH", "SOUTH"]), min_size=1).map(ExcludeSites),
    st.integers(1, 3).map(CapPerRadiologist),
    st.builds(
        SetWeights,
        lateness=st.none() | st.sampled_from([0.5, 2.0]),
        balance=st.none() | st.just(1.0),
    ),
    st.just(GroupSamePatient()),
)


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    """Random valid rule sets (conditions from the supported grammar, any actions)."""
    count = draw(st.integers(1, 6))
    rules = []
    for i in range(count):
        actions = draw(
            st.lists(_actions, min_size=1, max_size=3, unique_by=lambda a: type(a).__name__)
        )
        rules.append(
            Rule(
                f"r{i}",
                draw(conditions),
                tuple(actions),
                order=draw(st.sampled_from([10, 20, 30])),
                enabled=draw(st.booleans()),
            )
        )
    return RuleSet(tuple(rules))


def edges_of(rule_set: RuleSet) -> list[int]:
    """Minute values at which the rule set's escalations and turnarounds flip (and ±1)."""
    thresholds = {0}
    turnarounds = {0}
    for rule in rule_set.rules:
        for a in rule.actions:
            if isinstance(a, EscalatePriority):
                thresholds |= {a.due_within_minutes or 0, a.waiting_over_minutes or 0}
            elif isinstance(a, SetTurnaround):
                turnarounds.add(a.minutes)
    points = thresholds | {t - n for t in turnarounds for n in thresholds}
    return sorted({p + d for p in points for d in (-1, 0, 1)})


@st.composite
def studies_near(draw: st.DrawFn, rule_set: RuleSet, study_id: int) -> StudyFacts:
    """A random study whose waiting and due minutes often sit on the rule set's edges."""
    study = draw(studies())
    edges = edges_of(rule_set)
    minutes = st.sampled_from(edges) | st.integers(-300, 300)
    return dataclasses.replace(
        study,
        study_id=study_id,
        minutes_until_due=draw(minutes),
        minutes_waiting=abs(draw(minutes)),
    )


@st.composite
def studies_for_condition(draw: st.DrawFn, text: str, study_id: int) -> StudyFacts:
    """A random study whose numbers often equal (or neighbour) the condition's literals."""
    study = draw(studies())
    literals = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]
    if not literals:
        return dataclasses.replace(study, study_id=study_id)
    changes: dict[str, Any] = {"study_id": study_id}
    for name, (low, high) in INT_ATTRS.items():
        near = sorted(
            {int(v) + d for v in literals for d in (-1, 0, 1) if low <= int(v) + d <= high} or {low}
        )
        changes[name] = draw(st.sampled_from(near) | st.just(getattr(study, name)))
    for name in FLOAT_ATTRS:
        changes[name] = draw(st.sampled_from(literals) | st.just(getattr(study, name)))
    return dataclasses.replace(study, **changes)
