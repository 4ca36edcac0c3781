"""The ten actions radflow's rules started with, one `ActionKind` each."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from domain.enums import Priority, Subspecialty
from rules.actions.base import (
    ActionField,
    ActionKind,
    Context,
    FieldType,
    Problem,
    boolean,
    finite_number,
)
from rules.effects import WEIGHT_NAMES, Change
from rules.errors import ErrorCode
from rules.model import (
    CapPerRadiologist,
    EscalatePriority,
    ExcludeRadiologists,
    ExcludeSites,
    RequireSubspecialty,
    RestrictRadiologists,
    RestrictSites,
    SetPriority,
    SetTurnaround,
    SetWeights,
)
from rules.vocabulary import PRIORITY_RANK

if TYPE_CHECKING:
    from rules.compiled import CompiledRule

RADIOLOGISTS = ActionField(
    "radiologist_ids",
    FieldType.RADIOLOGISTS,
    lambda v: frozenset(int(x) for x in v),
    "RESTRICT_/EXCLUDE_RADIOLOGISTS.",
)
SITES = ActionField(
    "sites",
    FieldType.SITES,
    lambda v: frozenset(str(x) for x in v),
    "RESTRICT_/EXCLUDE_SITES (codes).",
)


def escalation_target(action: EscalatePriority, base_rank: int) -> int:
    """The priority rank an escalation raises to from `base_rank`."""
    if action.to is not None:
        return PRIORITY_RANK.index(action.to)
    return min(base_rank + 1, len(PRIORITY_RANK) - 1)


def _winner(
    field: str, value: str, rule: CompiledRule, winner: int | None, names: Mapping[int, str]
) -> Change:
    if winner == rule.index:
        return Change(field, value)
    return Change(field, value, applied=False, overridden_by=names.get(winner or -1))


def _ids(values: frozenset[int] | frozenset[str]) -> str:
    return ",".join(sorted(str(v) for v in values))


def _minutes(value: object, field: str, required: bool = False) -> Iterator[Problem]:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        yield field, ErrorCode.INVALID, f"{field} must be a whole number of minutes"
    elif value < 0 or (required and value == 0):
        yield field, ErrorCode.IMPOSSIBLE_VALUE, f"{field} cannot be {value} minutes"


def _known(
    values: frozenset[Any], known: Any, field: str, code: ErrorCode, what: str
) -> Iterator[Problem]:
    if not values:
        yield field, ErrorCode.REQUIRED, f"name at least one {what}"
    elif known is not None:
        unknown = sorted(str(v) for v in values if v not in known)
        if unknown:
            yield field, code, f"unknown {what}(s): {', '.join(unknown)}"


class SetPriorityKind(ActionKind):
    kind = "set_priority"
    action = SetPriority
    fields = (ActionField("priority", FieldType.PRIORITY, Priority, "SET_PRIORITY."),)
    phase = "urgency"
    position = 10
    single_valued = True

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        if not isinstance(action.priority, Priority):
            yield "priority", ErrorCode.UNKNOWN_VALUE, f"unknown priority {action.priority!r}"

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return _winner("priority", action.priority.value, rule, winners["priority"], names)


class SetTurnaroundKind(ActionKind):
    kind = "set_turnaround"
    action = SetTurnaround
    fields = (ActionField("minutes", FieldType.INT, int, "SET_TURNAROUND."),)
    phase = "urgency"
    position = 20
    single_valued = True

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        yield from _minutes(action.minutes, "minutes", required=True)

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return _winner(
            "turnaround_minutes", str(action.minutes), rule, winners["turnaround"], names
        )


class EscalatePriorityKind(ActionKind):
    kind = "escalate_priority"
    action = EscalatePriority
    fields = (
        ActionField(
            "to", FieldType.PRIORITY, Priority, "ESCALATE_PRIORITY target (default: one level up)."
        ),
        ActionField("due_within_minutes", FieldType.INT, int),
        ActionField("waiting_over_minutes", FieldType.INT, int),
    )
    phase = "urgency"
    position = 30

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        to, due, waiting = action.to, action.due_within_minutes, action.waiting_over_minutes
        if to is not None and not isinstance(to, Priority):
            yield "to", ErrorCode.UNKNOWN_VALUE, f"unknown priority {to!r}"
        if due is None and waiting is None:
            yield (
                "due_within_minutes",
                ErrorCode.REQUIRED,
                "say when to escalate: due within N minutes or waiting over N minutes",
            )
        yield from _minutes(due, "due_within_minutes")
        yield from _minutes(waiting, "waiting_over_minutes")

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        target = escalation_target(action, base_rank)
        return Change("priority", PRIORITY_RANK[target].value, applied=target > base_rank)


class RequireSubspecialtyKind(ActionKind):
    kind = "require_subspecialty"
    action = RequireSubspecialty
    fields = (
        ActionField("subspecialty", FieldType.SUBSPECIALTY, Subspecialty, "REQUIRE_SUBSPECIALTY."),
        ActionField(
            "only_if_on_shift",
            FieldType.BOOL,
            boolean,
            "REQUIRE_SUBSPECIALTY as a preference: applies only while "
            "someone with the subspecialty is on shift.",
        ),
    )
    position = 40
    single_valued = True

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        s = action.subspecialty
        if not isinstance(s, Subspecialty):
            yield "subspecialty", ErrorCode.UNKNOWN_VALUE, f"unknown subspecialty {s!r}"

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return _winner(
            "required_subspecialty", action.subspecialty.value, rule, winners["subspecialty"], names
        )


class _Radiologists(ActionKind):
    fields = (RADIOLOGISTS,)
    effect_field: str

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        yield from _known(
            action.radiologist_ids,
            context.radiologists,
            "radiologist_ids",
            ErrorCode.UNKNOWN_RADIOLOGIST,
            "radiologist",
        )

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return Change(self.effect_field, _ids(action.radiologist_ids))


class RestrictRadiologistsKind(_Radiologists):
    kind = "restrict_radiologists"
    action = RestrictRadiologists
    position = 50
    effect_field = "allowed_radiologists"


class ExcludeRadiologistsKind(_Radiologists):
    kind = "exclude_radiologists"
    action = ExcludeRadiologists
    position = 60
    effect_field = "excluded_radiologists"


class _Sites(ActionKind):
    fields = (SITES,)
    effect_field: str

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        yield from _known(action.sites, context.sites, "sites", ErrorCode.UNKNOWN_SITE, "site")

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return Change(self.effect_field, _ids(action.sites))


class RestrictSitesKind(_Sites):
    kind = "restrict_sites"
    action = RestrictSites
    position = 70
    effect_field = "allowed_sites"


class ExcludeSitesKind(_Sites):
    kind = "exclude_sites"
    action = ExcludeSites
    position = 80
    effect_field = "excluded_sites"


class CapPerRadiologistKind(ActionKind):
    kind = "cap_per_radiologist"
    action = CapPerRadiologist
    fields = (
        ActionField("max_open", FieldType.INT, int, "CAP_PER_RADIOLOGIST."),
        ActionField(
            "stat_over_price",
            FieldType.FLOAT,
            float,
            "CAP_PER_RADIOLOGIST: set, the cap bends for STAT (a STAT no arrangement within the "
            "cap can place goes over it) at this price per STAT over the cap in the balancer's "
            "objective (minutes-equivalent); unset, the cap holds for STAT too.",
        ),
    )
    position = 90

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        n = action.max_open
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            yield "max_open", ErrorCode.IMPOSSIBLE_VALUE, "a cap must allow at least 1 study"
        price = action.stat_over_price
        if price is not None and (not finite_number(price) or price < 0):
            yield (
                "stat_over_price",
                ErrorCode.IMPOSSIBLE_VALUE,
                "the price of a STAT over the cap must be a number >= 0",
            )

    def to_data(self, action: Any) -> dict[str, object]:
        """A cap that holds is stored as it always was (no `stat_over_price` key)."""
        return {k: v for k, v in super().to_data(action).items() if v is not None}

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        bends = (
            f", bends for STAT at {action.stat_over_price:g}"
            if action.stat_over_price is not None
            else ""
        )
        return Change(
            "cap_group", f"{rule.rule.name} (max {action.max_open} per radiologist{bends})"
        )


class SetWeightsKind(ActionKind):
    """The weights are the balancer's rule-settable terms; their fields are listed by the API
    from the balancer's registry, and stored data names them as keys."""

    kind = "set_weights"
    action = SetWeights
    position = 100

    def problems(self, action: Any, context: Context) -> Iterator[Problem]:
        values = dict(action.weights)
        if not values:
            yield "weights", ErrorCode.REQUIRED, "set at least one weight"
        for w, v in values.items():
            if context.weights is not None and w not in context.weights:
                yield w, ErrorCode.INVALID, f"no objective weight named {w!r}"
            elif not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                yield w, ErrorCode.IMPOSSIBLE_VALUE, f"weight {w} must be a number >= 0"

    def change(self, action: Any, rule: Any, base_rank: int, winners: Any, names: Any) -> Change:
        return Change("weights", ",".join(f"{w}={v}" for w, v in action.weights.items()))

    def fields_of(self, raw: Mapping[str, Any]) -> tuple[ActionField, ...]:
        """Every key but `kind` is a weight, read as a number (validation checks the name)."""
        return tuple(ActionField(k, FieldType.FLOAT, float) for k in raw if k != "kind")

    def to_data(self, action: Any) -> dict[str, object]:
        return dict(action.weights)

    def from_data(self, values: dict[str, Any]) -> Any:
        return SetWeights(**values)


KINDS = (
    SetPriorityKind(),
    SetTurnaroundKind(),
    EscalatePriorityKind(),
    RequireSubspecialtyKind(),
    RestrictRadiologistsKind(),
    ExcludeRadiologistsKind(),
    RestrictSitesKind(),
    ExcludeSitesKind(),
    CapPerRadiologistKind(),
    SetWeightsKind(),
)
__all__ = ["KINDS", "WEIGHT_NAMES", "escalation_target"]
