"""Column-wise evaluation of IR conditions over a whole FactsTable with numpy.

A shared cache keyed by IR node lets a sub-condition used by many rules (`modality == "CT"`)
be computed once per table.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from rules.facts import BoolArray, FactsTable
from rules.ir import Add, All, AnyOf, Attr, Compare, Cond, Const, Member, Neg, Not, Num, Op, Truth
from rules.vocabulary import AttributeType

_OPS: dict[Op, Callable[[Any, Any], Any]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}

Cache = dict[Cond, BoolArray]


def evaluate_table(node: Cond, table: FactsTable, cache: Cache | None = None) -> BoolArray:
    """Which studies of `table` satisfy the condition (a boolean vector, do not mutate it)."""
    if cache is None:
        cache = {}
    hit = cache.get(node)
    if hit is not None:
        return hit
    result = _evaluate(node, table, cache)
    cache[node] = result
    return result


def _evaluate(node: Cond, table: FactsTable, cache: Cache) -> BoolArray:
    n = len(table)
    match node:
        case Truth(value=value):
            return np.full(n, value, dtype=np.bool_)
        case All(terms=terms):
            out = evaluate_table(terms[0], table, cache).copy()
            for term in terms[1:]:
                out &= evaluate_table(term, table, cache)
            return out
        case AnyOf(terms=terms):
            out = evaluate_table(terms[0], table, cache).copy()
            for term in terms[1:]:
                out |= evaluate_table(term, table, cache)
            return out
        case Not(operand=operand):
            return ~evaluate_table(operand, table, cache)
        case Member(attr=attr, values=values):
            if attr.type in (AttributeType.STRING, AttributeType.ENUM):
                return table.text(attr.name).isin([str(v) for v in values])
            return np.isin(table.number(attr.name), np.asarray(values, dtype=np.float64))
        case Compare(op=op, left=left, right=right):
            return _compare(op, left, right, table)
    raise TypeError(node)


def _compare(op: Op, left: Num, right: Num, table: FactsTable) -> BoolArray:
    # Text comparisons are always attribute against literal (the lowering guarantees it):
    # compare the small integer codes instead of strings.
    if isinstance(left, Attr) and isinstance(right, Const) and isinstance(right.value, str):
        return _text_equal(op, table, left.name, right.value)
    if isinstance(right, Attr) and isinstance(left, Const) and isinstance(left.value, str):
        return _text_equal(op, table, right.name, left.value)
    result = _OPS[op](_number(left, table), _number(right, table))
    return np.asarray(result, dtype=np.bool_)


def _text_equal(op: Op, table: FactsTable, name: str, value: str) -> BoolArray:
    column = table.text(name)
    code = column.code_of(value)
    result = column.codes == code if op is Op.EQ else column.codes != code
    return np.asarray(result, dtype=np.bool_)


def _number(node: Num, table: FactsTable) -> Any:
    match node:
        case Attr(name=name):
            return table.number(name)
        case Const(value=value):
            assert not isinstance(value, str)
            return value
        case Add(left=left, right=right, sign=sign):
            a, b = _number(left, table), _number(right, table)
            return a + b if sign > 0 else a - b
        case Neg(operand=operand):
            return -_number(operand, table)
    raise TypeError(node)
