"""The condition language: what it accepts, what it refuses, and that it can never run code."""

from __future__ import annotations

import pytest

from rules.errors import ConditionError, ErrorCode
from rules.ir import All, Compare, Member, Not
from rules.language import MAX_CONDITION_CHARS, check_condition, library_matches
from rules.scalar import compile_predicate

from ._support import facts


def problem(text: str) -> tuple[ErrorCode, str]:
    with pytest.raises(ConditionError) as caught:
        check_condition(text)
    return caught.value.problem.code, caught.value.problem.message


def test_the_issue_example_compiles_to_a_conjunction() -> None:
    checked = check_condition('modality == "CT" and body_part == "HEAD" and patient_class == "ED"')
    assert isinstance(checked.ir, All) and len(checked.ir.terms) == 3
    assert compile_predicate(checked.ir)(facts()) is True
    assert library_matches(checked, facts()) is True


def test_in_and_not_in_lists() -> None:
    assert isinstance(check_condition('weekday in ["SAT", "SUN"]').ir, Member)
    assert isinstance(check_condition('weekday not in ["SAT", "SUN"]').ir, Not)


def test_constant_arithmetic_is_folded_by_the_library() -> None:
    checked = check_condition("minutes_waiting > 24 * 60")
    assert isinstance(checked.ir, Compare) and checked.ir.right.value == 1440  # type: ignore[union-attr]


def test_syntax_error_has_its_position() -> None:
    with pytest.raises(ConditionError) as caught:
        check_condition('modality == "CT" and\n  body_part == ')
    p = caught.value.problem
    assert p.code is ErrorCode.SYNTAX
    assert p.position is not None and p.position.line == 2


def test_cel_style_operators_get_a_hint() -> None:
    with pytest.raises(ConditionError) as caught:
        check_condition('modality == "CT" && body_part == "HEAD"')
    p = caught.value.problem
    assert p.code is ErrorCode.SYNTAX and "`and`" in p.message
    assert p.position is not None and p.position.line == 1 and p.position.offset in (17, 18)


def test_unknown_attribute_suggests_the_right_one() -> None:
    code, message = problem('modalty == "CT"')
    assert code is ErrorCode.UNKNOWN_ATTRIBUTE and "modality" in message


@pytest.mark.parametrize(
    "text",
    [
        "priority == 3",  # enum compared with a number
        'patient_age == "old"',  # number compared with text
        'patient_age + "x" > 3',  # rule-engine's own type check
        "site == referrer",  # text attributes only compare with literals
        "modality in [1, 2]",
        "modality",  # not a condition
        "patient_age",
        "not patient_age",
    ],
)
def test_type_mismatches(text: str) -> None:
    assert problem(text)[0] is ErrorCode.TYPE_MISMATCH


@pytest.mark.parametrize(
    "text", ['modality == "XX"', 'priority in ["STAT", "ASAP"]', 'weekday == "SATURDAY"']
)
def test_unknown_enum_values(text: str) -> None:
    assert problem(text)[0] is ErrorCode.UNKNOWN_VALUE


@pytest.mark.parametrize(
    "text",
    ["hour_of_day == 24", "ai_score == 2", "patient_age in [200]", "minutes_waiting > 99999999999"],
)
def test_impossible_literals(text: str) -> None:
    assert problem(text)[0] is ErrorCode.VALUE_OUT_OF_RANGE


@pytest.mark.parametrize(
    "text",
    [
        "ai_score * 2 > 1",  # float arithmetic would not match Decimal exactly
        "minutes_waiting * 2 > 60",
        'priority < "STAT"',  # enums are not ordered as text
        'modality =~ "C.*"',  # no regular expressions (no ReDoS either)
        "ai_score > 0.10000000000000000001",  # more digits than a float holds
        'ai_flag == "x" ? true : false',
        "null == null or patient_age == null",
    ],
)
def test_unsupported_constructs(text: str) -> None:
    assert problem(text)[0] is ErrorCode.UNSUPPORTED


# A rule can never run code: every road to Python objects or functions is closed.
@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ('__import__("os").system("true")', {ErrorCode.UNKNOWN_ATTRIBUTE, ErrorCode.UNSUPPORTED}),
        ("modality.__class__.__mro__", {ErrorCode.UNSUPPORTED}),
        ("body_part.as_lower == 'head'", {ErrorCode.UNSUPPORTED}),
        ("modality.length > 1", {ErrorCode.UNSUPPORTED}),
        ("$abs(patient_age) > 3", {ErrorCode.UNSUPPORTED}),
        ("$now > $now", {ErrorCode.UNSUPPORTED}),
        ("$split(body_part)[0] == 'x'", {ErrorCode.UNSUPPORTED}),
        ('body_part[0] == "H"', {ErrorCode.UNSUPPORTED}),
        ("[x for x in [1, 2]] == [1]", {ErrorCode.UNSUPPORTED, ErrorCode.TYPE_MISMATCH}),
        ('exec("1")', {ErrorCode.UNKNOWN_ATTRIBUTE, ErrorCode.UNSUPPORTED}),
        ("eval", {ErrorCode.UNKNOWN_ATTRIBUTE}),
        ("lambda: 1", {ErrorCode.SYNTAX, ErrorCode.UNKNOWN_ATTRIBUTE}),
        ("open('/etc/passwd')", {ErrorCode.UNKNOWN_ATTRIBUTE, ErrorCode.UNSUPPORTED}),
        ('{"a": patient_age}["a"] == 1', {ErrorCode.UNSUPPORTED}),
    ],
)
def test_a_rule_can_never_run_code(text: str, codes: set[ErrorCode]) -> None:
    assert problem(text)[0] in codes


def test_very_long_conditions_are_refused() -> None:
    text = " or ".join(['body_part == "HEAD"'] * 100)
    assert len(text) > MAX_CONDITION_CHARS
    assert problem(text)[0] is ErrorCode.TOO_COMPLEX


@pytest.mark.parametrize(
    "text",
    [
        "(" * 600 + "patient_age > 1" + ")" * 600,
        "not " * 240 + "patient_age > 1",
        " and ".join(["patient_age > 1"] * 60),
        " or ".join(f"patient_age == {i}" for i in range(60)),
    ],
)
def test_deep_or_wide_conditions_are_refused(text: str) -> None:
    code, _ = problem(text)
    assert code is ErrorCode.TOO_COMPLEX


def test_empty_condition_needs_true() -> None:
    assert problem("  ")[0] is ErrorCode.REQUIRED
    assert compile_predicate(check_condition("true").ir)(facts()) is True
