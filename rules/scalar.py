"""Per-study evaluation: IR conditions become trees of small closures over StudyFacts.

Built only from IR nodes (never from text), so a closure can do nothing but read a fact,
compare and combine. One closure call costs well under a microsecond.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from rules.ir import Add, All, AnyOf, Attr, Compare, Cond, Const, Member, Neg, Not, Num, Op, Truth
from rules.vocabulary import StudyFacts

Predicate = Callable[[StudyFacts], bool]
Value = Callable[[StudyFacts], Any]

_OPS: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


def compile_predicate(node: Cond) -> Predicate:
    """A function deciding the condition for one study."""
    match node:
        case Truth(value=value):
            return lambda _f: value
        case All(terms=terms):
            preds = tuple(compile_predicate(t) for t in terms)
            return lambda f: all(p(f) for p in preds)
        case AnyOf(terms=terms):
            preds = tuple(compile_predicate(t) for t in terms)
            return lambda f: any(p(f) for p in preds)
        case Not(operand=operand):
            pred = compile_predicate(operand)
            return lambda f: not pred(f)
        case Member(attr=Attr(name=name), values=values):
            get = operator.attrgetter(name)
            members = frozenset(values)
            return lambda f: get(f) in members
        case Compare(op=op, left=left, right=right):
            return _compare(op, left, right)
    raise TypeError(node)


def _compare(op: Op, left: Num, right: Num) -> Predicate:
    fn = _OPS[op]
    # The common shape `attribute op literal` gets a closure with no inner calls.
    if isinstance(left, Attr) and isinstance(right, Const):
        get, const = operator.attrgetter(left.name), right.value
        return lambda f: fn(get(f), const)
    if isinstance(left, Const) and isinstance(right, Attr):
        const, get = left.value, operator.attrgetter(right.name)
        return lambda f: fn(const, get(f))
    lhs, rhs = _value(left), _value(right)
    return lambda f: fn(lhs(f), rhs(f))


def _value(node: Num) -> Value:
    match node:
        case Attr(name=name):
            return operator.attrgetter(name)
        case Const(value=value):
            return lambda _f: value
        case Add(left=left, right=right, sign=sign):
            lhs, rhs = _value(left), _value(right)
            if sign > 0:
                return lambda f: lhs(f) + rhs(f)
            return lambda f: lhs(f) - rhs(f)
        case Neg(operand=operand):
            inner = _value(operand)
            return lambda f: -inner(f)
    raise TypeError(node)
