"""What rules do to a study (Effect) and why (AppliedRule, Change): the output of evaluation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from domain.enums import Priority, Subspecialty


@dataclass(frozen=True, slots=True)
class Change:
    """One action of a fired rule: the field it sets, the value, and whether it took effect."""

    field: str
    value: str
    applied: bool = True
    overridden_by: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedRule:
    """A rule that fired for a study and what each of its actions changed (exam.appliedRules)."""

    rule_index: int
    rule_name: str
    order: int
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class Effect:
    """The effective routing and urgency parameters of one study under a rule set.

    `turnaround_minutes` is None when the study's due time stays as it is; otherwise the due
    time becomes ready-time + turnaround_minutes and `due_shift_minutes` says by how much it moved.
    `allowed_*` None means unrestricted.
    """

    study_id: int
    priority: Priority
    ordered_priority: Priority
    turnaround_minutes: int | None
    minutes_until_due: int
    due_shift_minutes: int
    required_subspecialty: Subspecialty
    allowed_radiologists: frozenset[int] | None
    excluded_radiologists: frozenset[int]
    allowed_sites: frozenset[str] | None
    excluded_sites: frozenset[str]
    cap_groups: frozenset[str]
    applied_rules: tuple[AppliedRule, ...]
    # The required subspecialty is a preference: it yields when nobody holding it is on shift.
    subspecialty_if_on_shift: bool = False
    # Marks of registered actions that tag the studies they match (rules.actions.base).
    marks: frozenset[str] = frozenset()

    def may_read(self, radiologist_id: int, site: str) -> bool:
        """Whether the rules allow this radiologist (reading from `site`) to read the study."""
        if radiologist_id in self.excluded_radiologists or site in self.excluded_sites:
            return False
        allowed = self.allowed_radiologists
        if allowed is not None and radiologist_id not in allowed:
            return False
        return self.allowed_sites is None or site in self.allowed_sites


class Weights(Mapping[str, float]):
    """Balancer objective weights set by rules, by term name; a name not set means the
    balancer's own default. The names are the balancer's (its term registry); the rules library
    only carries them (`validate_rule_set(known_weights=...)` checks them)."""

    __slots__ = ("_values",)
    _values: dict[str, float]

    def __init__(self, **weights: float | None) -> None:
        values = {k: float(v) for k, v in weights.items() if v is not None}
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> float | None:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values.get(name)

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Weights) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return "Weights(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def __reduce__(self) -> tuple[type[Weights], tuple[()], dict[str, float]]:
        return (Weights, (), dict(self._values))

    def __setstate__(self, state: dict[str, float]) -> None:
        object.__setattr__(self, "_values", dict(state))


# The weights the department's rules have always been able to set; the live list is the
# balancer's (balancer.terms.RULE_SETTABLE), passed in by the application.
WEIGHT_NAMES: tuple[str, ...] = ("lateness", "balance", "stability", "fairness")


@dataclass(frozen=True, slots=True)
class RuleSetEffect:
    """Rule-set-level output: weight overrides (and the rule that set each), cap group limits,
    and the waiting bound when a rule holds it."""

    weights: Weights = field(default_factory=Weights)
    weight_sources: Mapping[str, str] = field(default_factory=dict)
    caps: Mapping[str, int] = field(default_factory=dict)
    # Cap group -> price per STAT over it, for the caps that bend for STAT.
    cap_bends: Mapping[str, float] = field(default_factory=dict)
    # The waiting bound's margin (minutes) when a rule holds it, and that rule's name.
    waiting_margin: float | None = None
    waiting_source: str | None = None
