"""The waiting bound across readers, held: a supervisor's switch for the balancer's
`Params.hold_overtake_bound`.

A rule-set-level action, like the weights: the highest-precedence rule that carries it and
matches at least one open study decides, for the whole department, that no study past its age
limit is overtaken by more than `margin_minutes` by younger work of the same or a lower tier on
a reader who may read it (`balancer.waiting`, docs/balancer.md). It is off unless a rule holds
it: on a backlog mostly past its age limits, holding it costs re-plan time and moves studies
(the figures are in docs/balancer.md), so it is the department's choice. A condition on
`hour_of_day` or `weekday` holds it for part of the week only; `true` always.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.actions.base import (
    ActionField,
    ActionKind,
    Context,
    FieldType,
    Problem,
    finite_number,
)
from rules.effects import Change
from rules.errors import ErrorCode
from rules.model import HoldWaitingBound


class HoldWaitingBoundKind(ActionKind):
    kind = "hold_waiting_bound"
    action = HoldWaitingBound
    fields = (
        ActionField(
            "margin_minutes",
            FieldType.FLOAT,
            float,
            "HOLD_WAITING_BOUND: the minutes a study past its age limit may be overtaken by "
            "younger work of the same or a lower tier on a reader who may read it (default 30).",
        ),
    )
    position = 120
    single_valued = True
    description = (
        "Hold the waiting bound across readers for the whole department while the rule matches "
        "an open study: no study past its age limit is overtaken by younger work by more than "
        "the margin."
    )

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        margin = action.margin_minutes
        if not finite_number(margin) or margin <= 0:
            yield (
                "margin_minutes",
                ErrorCode.IMPOSSIBLE_VALUE,
                "the waiting bound's margin must be a number of minutes > 0",
            )

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return Change("waiting_bound", f"held, margin {action.margin_minutes:g} min")


KIND = HoldWaitingBoundKind()
