"""The small, closed expression tree a checked condition compiles to.

Only these node types exist, so nothing outside them (calls, attribute access, comprehensions,
regular expressions) can reach an evaluator. Nodes are hashable: equal sub-conditions shared by
many rules are evaluated once per table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rules.vocabulary import AttributeType


class Op(StrEnum):
    """Comparison operators (rule-engine's own operator names)."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


@dataclass(frozen=True, slots=True)
class Attr:
    """The value of one vocabulary attribute."""

    name: str
    type: AttributeType


@dataclass(frozen=True, slots=True)
class Const:
    """A literal: text, or a number already rounded to what a float column holds."""

    value: str | int | float


@dataclass(frozen=True, slots=True)
class Add:
    """Integer addition or subtraction (sign = +1 or -1) of two number expressions."""

    left: Num
    right: Num
    sign: int


@dataclass(frozen=True, slots=True)
class Neg:
    """Integer negation."""

    operand: Num


Num = Attr | Const | Add | Neg


@dataclass(frozen=True, slots=True)
class Compare:
    """`left op right`; text compares only for (in)equality with a literal."""

    op: Op
    left: Num
    right: Num


@dataclass(frozen=True, slots=True)
class Member:
    """`attr in [literal, ...]`."""

    attr: Attr
    values: tuple[str | int | float, ...]


@dataclass(frozen=True, slots=True)
class Truth:
    """A literal `true` or `false` condition."""

    value: bool


@dataclass(frozen=True, slots=True)
class All:
    """Conjunction of two or more conditions (`and`, flattened)."""

    terms: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Disjunction of two or more conditions (`or`, flattened)."""

    terms: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """Negation of a condition."""

    operand: Cond


Cond = Compare | Member | Truth | All | AnyOf | Not


def attributes_of(node: Cond | Num) -> frozenset[str]:
    """The attribute names a condition or number expression reads."""
    match node:
        case Attr(name=name):
            return frozenset((name,))
        case Const() | Truth():
            return frozenset()
        case Add(left=left, right=right) | Compare(left=left, right=right):
            return attributes_of(left) | attributes_of(right)
        case Neg(operand=operand):
            return attributes_of(operand)
        case Not(operand=operand):
            return attributes_of(operand)
        case Member(attr=attr):
            return frozenset((attr.name,))
        case All(terms=terms) | AnyOf(terms=terms):
            return frozenset().union(*(attributes_of(t) for t in terms))
    raise TypeError(node)
