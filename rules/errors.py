"""Typed, stable error and warning codes: the rules engine reports problems as data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a rule set cannot be saved."""

    SYNTAX = "SYNTAX"
    UNKNOWN_ATTRIBUTE = "UNKNOWN_ATTRIBUTE"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    UNKNOWN_VALUE = "UNKNOWN_VALUE"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
    UNSUPPORTED = "UNSUPPORTED"
    TOO_COMPLEX = "TOO_COMPLEX"
    IMPOSSIBLE_VALUE = "IMPOSSIBLE_VALUE"
    UNKNOWN_RADIOLOGIST = "UNKNOWN_RADIOLOGIST"
    UNKNOWN_SITE = "UNKNOWN_SITE"
    DUPLICATE_NAME = "DUPLICATE_NAME"
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"


class WarningCode(StrEnum):
    """What a supervisor should look at before activating, without blocking the save."""

    MATCHES_NO_STUDY = "MATCHES_NO_STUDY"
    CONTRADICTION = "CONTRADICTION"
    NO_ELIGIBLE_RADIOLOGIST = "NO_ELIGIBLE_RADIOLOGIST"


@dataclass(frozen=True, slots=True)
class Position:
    """Where in a condition's text a problem is: 0-based offset, 1-based line and column."""

    offset: int
    line: int
    column: int

    @staticmethod
    def at(text: str, offset: int) -> Position:
        """The position of `offset` in `text`."""
        offset = max(0, min(offset, len(text)))
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return Position(offset, line, column)


@dataclass(frozen=True, slots=True)
class ConditionProblem:
    """One problem with a condition's text, before it is tied to a rule."""

    code: ErrorCode
    message: str
    position: Position | None = None


class ConditionError(ValueError):
    """A condition that cannot be compiled; carries the problem as data."""

    def __init__(self, problem: ConditionProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RuleError:
    """A blocking problem in a rule set: which rule, which field, what and where."""

    rule_index: int | None
    rule_name: str | None
    field: str
    code: ErrorCode
    message: str
    position: Position | None = None


@dataclass(frozen=True, slots=True)
class RuleWarning:
    """A non-blocking finding about a rule set, with the rules and studies it concerns."""

    code: WarningCode
    message: str
    rule_indexes: tuple[int, ...] = ()
    rule_names: tuple[str, ...] = ()
    study_ids: tuple[int, ...] = ()
