"""radflow's rules engine: supervisor policy as validated data, compiled for fast evaluation.

Pure: no database, no GraphQL. The lead's wiring calls, in order:
`validate_rule_set` (save) -> `compile_rule_set` (activation, once per version) ->
`apply` over a `FactsTable` of the open studies (activation, preview) or `apply_one` for a
single changed study. See docs/rules.md.
"""

from rules.compiled import CompiledRuleSet, InvalidRuleSet, compile_rule_set
from rules.defaults import DEFAULT_RULE_SET, DEFAULT_TURNAROUND
from rules.effects import AppliedRule, Change, Effect, RuleSetEffect, Weights
from rules.errors import ErrorCode, Position, RuleError, RuleWarning, WarningCode
from rules.evaluation import Evaluation, apply
from rules.facts import FactsTable, facts_table
from rules.lint import contradictions, unassignable, unmatched_rules
from rules.model import (
    Action,
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    HoldWaitingBound,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    Rule,
    RuleSet,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.one import apply_one
from rules.preview import StudyChange, changes
from rules.serialization import rule_set_from_data, rule_set_to_data
from rules.validation import validate_rule_set
from rules.vocabulary import VOCABULARY, Attribute, AttributeType, StudyFacts, Weekday

__all__ = [
    "DEFAULT_RULE_SET",
    "DEFAULT_TURNAROUND",
    "VOCABULARY",
    "Action",
    "AppliedRule",
    "Attribute",
    "AttributeType",
    "CapPerRadiologist",
    "Change",
    "CompiledRuleSet",
    "Effect",
    "ErrorCode",
    "EscalatePriority",
    "Evaluation",
    "ExcludeRadiologists",
    "ExcludeSites",
    "FactsTable",
    "HoldWaitingBound",
    "InvalidRuleSet",
    "Position",
    "RequireSubspecialty",
    "RestrictRadiologists",
    "RestrictSites",
    "Rule",
    "RuleError",
    "RuleSet",
    "RuleSetEffect",
    "RuleWarning",
    "SetPriority",
    "SetTurnaround",
    "SetWeights",
    "StudyChange",
    "StudyFacts",
    "WarningCode",
    "Weekday",
    "Weights",
    "apply",
    "apply_one",
    "changes",
    "compile_rule_set",
    "contradictions",
    "facts_table",
    "rule_set_from_data",
    "rule_set_to_data",
    "unassignable",
    "unmatched_rules",
    "validate_rule_set",
]
