"""Lower rule-engine's checked AST into the IR, accepting only the supported constructs.

The compiled evaluators must agree exactly with rule-engine, which computes with Decimal. So
arithmetic is integer-only (`+`, `-`, unary minus; constant products like `24 * 60` are folded by
the library before we see them), and number literals must survive a round trip through float.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NoReturn

from rule_engine import ast as re_ast

from rules.errors import ConditionError, ConditionProblem, ErrorCode, Position
from rules.ir import Add, All, AnyOf, Attr, Compare, Cond, Const, Member, Neg, Not, Num, Op, Truth
from rules.vocabulary import ATTRIBUTES, Attribute, AttributeType

MAX_NODES = 120
MAX_DEPTH = 24
MAX_LITERAL = 10**9  # keeps every integer sum far inside int64

_DESCRIBE = {
    "FunctionCallExpression": "function calls",
    "GetAttributeExpression": "attribute access",
    "GetItemExpression": "indexing",
    "GetSliceExpression": "slicing",
    "ComprehensionExpression": "comprehensions",
    "TernaryExpression": "the `? :` operator",
    "FuzzyComparisonExpression": "regular expressions (use `in [...]`)",
    "ArithmeticExpression": "multiplication and division of attributes",
    "BitwiseExpression": "bitwise operators",
    "BitwiseShiftExpression": "bitwise operators",
    "CoalesceExpression": "the `??` operator",
    "NullExpression": "null",
    "MappingExpression": "mappings",
    "SetExpression": "sets (use a list `[...]`)",
    "DatetimeExpression": "datetime literals",
    "TimedeltaExpression": "timedelta literals",
    "BytesExpression": "bytes literals",
}


_OPERANDS = (
    re_ast.SymbolExpression,
    re_ast.FloatExpression,
    re_ast.StringExpression,
    re_ast.AddExpression,
    re_ast.SubtractExpression,
    re_ast.UnaryExpression,
)


class _Lowering:
    def __init__(self, text: str) -> None:
        self.text = text
        self.nodes = 0

    def fail(self, code: ErrorCode, message: str, needle: str | None = None) -> NoReturn:
        position = None
        if needle:
            found = re.search(re.escape(needle), self.text)
            position = Position.at(self.text, found.start()) if found else None
        raise ConditionError(ConditionProblem(code, message, position))

    def visit(self, node: Any, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            self.fail(
                ErrorCode.TOO_COMPLEX,
                f"too complex (at most {MAX_NODES} terms, nesting {MAX_DEPTH})",
            )

    def unsupported(self, node: Any) -> NoReturn:
        name = type(node).__name__
        what = _DESCRIBE.get(name, name)
        self.fail(ErrorCode.UNSUPPORTED, f"not part of the rule language: {what}")

    def cond(self, node: Any, depth: int = 0) -> Cond:
        self.visit(node, depth)
        kind = type(node)
        if kind is re_ast.BooleanExpression:
            return Truth(bool(node.value))
        if kind is re_ast.LogicExpression:
            left, right = self.cond(node.left, depth + 1), self.cond(node.right, depth + 1)
            if node.type == "and":
                return All(_flatten(All, left) + _flatten(All, right))
            return AnyOf(_flatten(AnyOf, left) + _flatten(AnyOf, right))
        if kind is re_ast.UnaryExpression and node.type == "not":
            return Not(self.cond(node.right, depth + 1))
        if kind in (re_ast.ComparisonExpression, re_ast.ArithmeticComparisonExpression):
            return self.compare(Op(node.type), node.left, node.right, depth)
        if kind is re_ast.ContainsExpression:
            return self.member(node.member, node.container, depth)
        if kind in (
            re_ast.SymbolExpression,
            re_ast.FloatExpression,
            re_ast.StringExpression,
            re_ast.AddExpression,
            re_ast.SubtractExpression,
        ):
            self.fail(
                ErrorCode.TYPE_MISMATCH,
                'a condition must be true or false, e.g. `modality == "CT"`, not a value',
            )
        if kind is re_ast.UnaryExpression:
            self.fail(ErrorCode.TYPE_MISMATCH, "a condition must be true or false, not a number")
        self.unsupported(node)

    def attribute(self, node: Any) -> Attribute:
        if node.scope is not None or node.name not in ATTRIBUTES:
            self.fail(ErrorCode.UNSUPPORTED, f"`{node.name}` is not a vocabulary attribute")
        return ATTRIBUTES[node.name]

    def compare(self, op: Op, left: Any, right: Any, depth: int) -> Cond:
        for side in (left, right):
            if type(side) not in _OPERANDS:
                self.unsupported(side)
        text_side = _text_attr(left) or _text_attr(right)
        if text_side is None and (
            type(left) is re_ast.StringExpression or type(right) is re_ast.StringExpression
        ):
            self.fail(ErrorCode.TYPE_MISMATCH, "text is compared with a number")
        if text_side is None:
            return Compare(op, self.num(left, depth + 1), self.num(right, depth + 1))
        attr = self.attribute(text_side)
        other = right if text_side is left else left
        if type(other) is not re_ast.StringExpression:
            self.fail(
                ErrorCode.TYPE_MISMATCH,
                f"`{attr.name}` holds text; compare it with a quoted value",
                attr.name,
            )
        if op not in (Op.EQ, Op.NE):
            self.fail(
                ErrorCode.UNSUPPORTED,
                f"`{attr.name}` compares only with ==, != or in (ordering is for numbers)",
                attr.name,
            )
        self.visit(other, depth + 1)
        value = self.text_value(attr, other.value)
        left_ir: Num = Attr(attr.name, attr.type)
        return (
            Compare(op, left_ir, Const(value))
            if text_side is left
            else Compare(op, Const(value), left_ir)
        )

    def member(self, member: Any, container: Any, depth: int) -> Cond:
        if type(member) is not re_ast.SymbolExpression:
            self.fail(
                ErrorCode.UNSUPPORTED,
                '`in` needs an attribute on its left, e.g. `modality in ["CT", "MR"]`',
            )
        attr = self.attribute(member)
        if type(container) is not re_ast.ArrayExpression:
            self.fail(ErrorCode.UNSUPPORTED, f"`{attr.name} in ...` needs a list of values `[...]`")
        values: list[str | int | float] = []
        for item in container.value:
            self.visit(item, depth + 1)
            if attr.is_text and type(item) is re_ast.StringExpression:
                values.append(self.text_value(attr, item.value))
            elif attr.is_number and type(item) is re_ast.FloatExpression:
                values.append(self.number_value(item.value, attr))
            else:
                self.fail(
                    ErrorCode.TYPE_MISMATCH,
                    f"the list after `{attr.name} in` holds a value of the wrong type",
                )
        return Member(Attr(attr.name, attr.type), tuple(values))

    def num(self, node: Any, depth: int) -> Num:
        self.visit(node, depth)
        kind = type(node)
        if kind is re_ast.SymbolExpression:
            attr = self.attribute(node)
            if not attr.is_number:
                self.fail(ErrorCode.TYPE_MISMATCH, f"`{attr.name}` is text, not a number")
            return Attr(attr.name, attr.type)
        if kind is re_ast.FloatExpression:
            return Const(self.number_value(node.value, None))
        if kind in (re_ast.AddExpression, re_ast.SubtractExpression):
            left, right = self.num(node.left, depth + 1), self.num(node.right, depth + 1)
            self.require_integer(left, right)
            return Add(left, right, 1 if kind is re_ast.AddExpression else -1)
        if kind is re_ast.UnaryExpression and node.type == "uminus":
            operand = self.num(node.right, depth + 1)
            self.require_integer(operand)
            return Neg(operand)
        if kind in (
            re_ast.ComparisonExpression,
            re_ast.ArithmeticComparisonExpression,
            re_ast.LogicExpression,
            re_ast.BooleanExpression,
            re_ast.UnaryExpression,
        ):
            self.fail(ErrorCode.TYPE_MISMATCH, "a true/false value is used where a number belongs")
        self.unsupported(node)

    def require_integer(self, *operands: Num) -> None:
        for operand in operands:
            if not _is_integer(operand):
                self.fail(
                    ErrorCode.UNSUPPORTED,
                    "arithmetic works on whole numbers only (e.g. `minutes_waiting - 30`); "
                    "compare decimal attributes such as ai_score directly",
                )

    def number_value(self, value: Decimal, attr: Attribute | None) -> int | float:
        if not value.is_finite() or abs(value) > MAX_LITERAL:
            self.fail(ErrorCode.VALUE_OUT_OF_RANGE, f"the number {value} is out of range")
        if value == value.to_integral_value():
            number: int | float = int(value)
        else:
            number = float(value)
            if Decimal(repr(number)) != value:
                self.fail(ErrorCode.UNSUPPORTED, f"the number {value} has too many digits")
        if attr is not None:
            self.check_range(attr, number)
        return number

    def text_value(self, attr: Attribute, value: str) -> str:
        if attr.type is AttributeType.ENUM and value not in attr.values:
            self.fail(
                ErrorCode.UNKNOWN_VALUE,
                f"`{value}` is not a {attr.name}; allowed: {', '.join(attr.values)}",
                f'"{value}"' if f'"{value}"' in self.text else f"'{value}'",
            )
        return value

    def check_range(self, attr: Attribute, number: float) -> None:
        low, high = attr.minimum, attr.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            self.fail(
                ErrorCode.VALUE_OUT_OF_RANGE,
                f"`{attr.name}` is never {number} (range {low} to {high})",
            )


def _text_attr(node: Any) -> Any | None:
    if (
        type(node) is re_ast.SymbolExpression
        and node.name in ATTRIBUTES
        and ATTRIBUTES[node.name].is_text
    ):
        return node
    return None


def _is_integer(node: Num) -> bool:
    match node:
        case Attr(type=t):
            return t is AttributeType.INT
        case Const(value=v):
            return isinstance(v, int)
        case _:
            return True  # Add and Neg are only built over integers


def _flatten(kind: type[All] | type[AnyOf], node: Cond) -> tuple[Cond, ...]:
    return node.terms if isinstance(node, kind) else (node,)


def lower_condition(expression: Any, text: str) -> Cond:
    """Lower a rule-engine expression to IR, raising ConditionError on what is not supported."""
    lowering = _Lowering(text)
    ir = lowering.cond(expression)
    for part in _equalities(ir):
        attr, const = part
        if isinstance(const.value, int | float) and attr.name in ATTRIBUTES:
            lowering.check_range(ATTRIBUTES[attr.name], const.value)
    return ir


def _equalities(node: Cond) -> list[tuple[Attr, Const]]:
    """`attr == number` pairs: an out-of-range value there makes the test meaningless."""
    match node:
        case (
            Compare(op=Op.EQ, left=Attr() as a, right=Const() as c)
            | Compare(op=Op.EQ, left=Const() as c, right=Attr() as a)
        ):
            return [(a, c)]
        case All(terms=terms) | AnyOf(terms=terms):
            return [p for t in terms for p in _equalities(t)]
        case Not(operand=operand):
            return _equalities(operand)
    return []
