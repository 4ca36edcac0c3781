"""The result of applying a rule set to all open studies: columns, and Effects on demand."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

import numpy as np

from domain.enums import Subspecialty
from rules.compiled import CompiledRuleSet, DefaultTurnaround
from rules.effects import AppliedRule, Effect, RuleSetEffect
from rules.explain import applied_rule
from rules.facts import BoolArray, FactsTable, IntArray
from rules.model import RequireSubspecialty
from rules.one import _action
from rules.table import Columns, evaluate_columns
from rules.vocabulary import PRIORITY_RANK

_SUBSPECIALTIES = tuple(Subspecialty)


class Evaluation:
    """Per-study Effects of a rule set over a FactsTable, plus the rule-set-level effect.

    The work is done column-wise up front; an `Effect` object is only built when asked for
    (`evaluation[i]`, `evaluation.effect_for(study_id)`), so a caller that needs only a few
    explanations does not pay for ten thousand.
    """

    def __init__(
        self, compiled: CompiledRuleSet, columns: Columns, rule_set: RuleSetEffect
    ) -> None:
        self.compiled = compiled
        self.columns = columns
        self.rule_set = rule_set
        self._row_of = {int(s): i for i, s in enumerate(columns.study_ids)}
        self._names = {c.index: c.rule.name for c in compiled.rules}

    def __len__(self) -> int:
        return int(self.columns.study_ids.shape[0])

    def __iter__(self) -> Iterator[Effect]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i: int) -> Effect:
        return self.effect(i)

    def effect(self, i: int, *, explain: bool = True) -> Effect:
        """The Effect at row `i`; `explain=False` skips building applied_rules (faster)."""
        c = self.columns
        turnaround = int(c.turnaround[i])
        return Effect(
            study_id=int(c.study_ids[i]),
            priority=PRIORITY_RANK[int(c.final_rank[i])],
            ordered_priority=PRIORITY_RANK[int(c.ordered_rank[i])],
            turnaround_minutes=turnaround if turnaround >= 0 else None,
            minutes_until_due=int(c.until_due[i]),
            due_shift_minutes=int(c.until_due[i] - c.ordered_until_due[i]),
            required_subspecialty=_SUBSPECIALTIES[int(c.subspecialty[i])],
            allowed_radiologists=c.allowed_radiologists.at(i),
            excluded_radiologists=c.excluded_radiologists.at(i),
            allowed_sites=c.allowed_sites.at(i),
            excluded_sites=c.excluded_sites.at(i),
            cap_groups=c.caps.at(i),
            applied_rules=self.applied_rules(i) if explain else (),
            subspecialty_if_on_shift=self._preference(int(c.winners["subspecialty"][i])),
            marks=c.marks.at(i),
        )

    def _preference(self, winner: int) -> bool:
        """Whether the winning subspecialty action (rule index, -1 for none) is a preference."""
        if winner < 0:
            return False
        return _action(self.compiled, winner, RequireSubspecialty).only_if_on_shift

    def effect_for(self, study_id: int) -> Effect:
        """The Effect of the study with this id."""
        return self[self._row_of[study_id]]

    def applied_rules(self, i: int) -> tuple[AppliedRule, ...]:
        """The rules that fired for the study at row `i`, with what each changed."""
        c = self.columns
        if not c.any_fired[i]:
            return ()
        winners = {k: (int(v[i]) if v[i] >= 0 else None) for k, v in c.winners.items()}
        out: list[AppliedRule] = []
        for r in np.flatnonzero(self._rule_fired[:, i]):
            rule, row = self.compiled.rules[r], c.fired[r]
            hits = [bool(mask[i]) if mask is not None else False for mask in row]
            record = applied_rule(rule, hits, int(c.base_rank[i]), winners, self._names)
            if record is not None:
                out.append(record)
        return tuple(out)

    @cached_property
    def _rule_fired(self) -> BoolArray:
        """Rules x studies: which rule fired where (built on the first explanation asked for)."""
        n = len(self)
        rows = [np.zeros(n, dtype=np.bool_) for _ in self.compiled.rules]
        for fired, row in zip(rows, self.columns.fired, strict=True):
            for mask in row:
                if mask is not None:
                    fired |= mask
        return np.stack(rows) if rows else np.zeros((0, n), dtype=np.bool_)

    def changed_rows(self) -> IntArray:
        """Rows whose urgency or routing the rules changed in any way (for a quick preview)."""
        c = self.columns
        return np.flatnonzero(c.any_fired).astype(np.int64)


def apply(
    compiled: CompiledRuleSet,
    table: FactsTable,
    *,
    default_turnaround: DefaultTurnaround | None = None,
) -> Evaluation:
    """Apply a compiled rule set to every study in `table` (activation, preview)."""
    columns, rule_set = evaluate_columns(compiled, table, default_turnaround=default_turnaround)
    return Evaluation(compiled, columns, rule_set)
