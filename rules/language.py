"""Parse and type-check a condition with rule-engine, then lower its AST to the closed IR.

rule-engine does the parsing, the symbol resolution and its own type checks; this module only
walks the library's typed AST and accepts an explicit allow-list of node types, rejecting the
rest (calls, attribute and item access, comprehensions, regexes, ternaries, builtins) by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import rule_engine
from rule_engine import errors as re_errors

from rules.errors import ConditionError, ConditionProblem, ErrorCode, Position
from rules.ir import Cond
from rules.lowering import lower_condition
from rules.vocabulary import VOCABULARY, StudyFacts

MAX_CONDITION_CHARS = 1000

_CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(
        {
            a.name: rule_engine.DataType.FLOAT if a.is_number else rule_engine.DataType.STRING
            for a in VOCABULARY
        }
    ),
)


@dataclass(frozen=True)
class CheckedCondition:
    """A condition rule-engine accepted and the IR it lowers to."""

    text: str
    library_rule: Any  # rule_engine.Rule: the library's own evaluator, kept for cross-checks
    ir: Cond


def check_condition(text: str) -> CheckedCondition:
    """Parse, type-check and lower a condition; raise ConditionError with the first problem."""
    if not text.strip():
        raise _error(
            ErrorCode.REQUIRED, "the condition is empty; write `true` to match every study"
        )
    if len(text) > MAX_CONDITION_CHARS:
        raise _error(
            ErrorCode.TOO_COMPLEX,
            f"the condition has {len(text)} characters; at most {MAX_CONDITION_CHARS}",
        )
    try:
        library_rule = rule_engine.Rule(text, context=_CONTEXT)
    except RecursionError:
        raise _error(ErrorCode.TOO_COMPLEX, "the condition is nested too deeply") from None
    except re_errors.RuleSyntaxError as e:
        raise ConditionError(_syntax_problem(text, e)) from None
    except re_errors.SymbolResolutionError as e:
        raise _unknown_symbol(text, e) from None
    except re_errors.AttributeResolutionError as e:
        raise _error(
            ErrorCode.UNSUPPORTED,
            f"`.{e.attribute_name}`: attribute access is not part of the rule language",
            _find(text, f".{e.attribute_name}"),
        ) from None
    except re_errors.EvaluationError as e:
        raise _error(
            ErrorCode.TYPE_MISMATCH,
            f"{e.message}: the two sides of an operator have different types",
        ) from None
    except re_errors.EngineError as e:
        raise _error(ErrorCode.SYNTAX, str(getattr(e, "message", e))) from None
    ir = lower_condition(library_rule.statement.expression, text)
    return CheckedCondition(text, library_rule, ir)


def library_matches(checked: CheckedCondition, facts: StudyFacts) -> bool:
    """rule-engine's own (slow) verdict on one study: what the compiled forms must match."""
    return bool(checked.library_rule.matches(facts.as_plain_dict()))


def _error(code: ErrorCode, message: str, position: Position | None = None) -> ConditionError:
    return ConditionError(ConditionProblem(code, message, position))


def _find(text: str, needle: str) -> Position | None:
    """Best-effort position of a token the library reported without one."""
    found = re.search(rf"(?<![A-Za-z0-9_$]){re.escape(needle)}(?![A-Za-z0-9_])", text)
    return Position.at(text, found.start()) if found else None


def _syntax_problem(text: str, error: Any) -> ConditionProblem:
    token = getattr(error, "token", None)
    offset = int(token.lexpos) if token is not None else len(text)
    message = str(error.message)
    if token is None:
        message += " (the condition ends too early)"
    rest = text[offset:]
    if rest.startswith(("&&", "&")):
        message += "; write `and` instead of `&&`"
    elif rest.startswith(("||", "|")):
        message += "; write `or` instead of `||`"
    elif rest.startswith("!"):
        message += "; write `not` instead of `!`"
    return ConditionProblem(ErrorCode.SYNTAX, message, Position.at(text, offset))


def _unknown_symbol(text: str, error: Any) -> ConditionError:
    name = str(error.symbol_name)
    if error.symbol_scope:  # `$name`: rule-engine's builtin symbols and functions
        return _error(
            ErrorCode.UNSUPPORTED,
            f"`${name}`: builtins are not part of the rule language",
            _find(text, f"${name}"),
        )
    hint = f"; did you mean `{error.suggestion}`?" if error.suggestion else ""
    return _error(
        ErrorCode.UNKNOWN_ATTRIBUTE, f"unknown attribute `{name}`{hint}", _find(text, name)
    )
