"""Rules, their actions and rule sets: plain frozen values, no database."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.enums import Priority, Subspecialty
from rules.effects import Weights


@dataclass(frozen=True, slots=True)
class SetPriority:
    """Give matching studies this priority."""

    priority: Priority


@dataclass(frozen=True, slots=True)
class SetTurnaround:
    """Set the turnaround target: the study is due this many minutes after it became readable."""

    minutes: int


@dataclass(frozen=True, slots=True)
class EscalatePriority:
    """Raise priority (to `to`, else one level) when due within or waiting over N minutes."""

    to: Priority | None = None
    due_within_minutes: int | None = None
    waiting_over_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class RequireSubspecialty:
    """Only radiologists credentialed in this subspecialty may read matching studies.

    With `only_if_on_shift`, it is a preference: when nobody with the credential who may read
    the study is on shift and available, the study keeps its procedure's own subspecialty
    (e.g. children to pediatric readers *where one is on shift*).
    """

    subspecialty: Subspecialty
    only_if_on_shift: bool = False


@dataclass(frozen=True, slots=True)
class RestrictRadiologists:
    """Only these radiologists may read matching studies."""

    radiologist_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class ExcludeRadiologists:
    """These radiologists may not read matching studies."""

    radiologist_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class RestrictSites:
    """Only radiologists reading from these sites (site codes) may read matching studies."""

    sites: frozenset[str]


@dataclass(frozen=True, slots=True)
class ExcludeSites:
    """Radiologists reading from these sites may not read matching studies."""

    sites: frozenset[str]


@dataclass(frozen=True, slots=True)
class CapPerRadiologist:
    """One radiologist holds at most `max_open` of the matching studies at once.

    `stat_over_price` set, the cap bends for STAT: a STAT no arrangement within the cap can
    place goes over it, each one over costing this much in the balancer's objective
    (minutes-equivalent; a STAT minute of waiting is 10 + 10). Unset, the cap holds for every
    study and a STAT with every eligible reader at the cap waits unassigned (raised to the
    supervisors)."""

    max_open: int
    stat_over_price: float | None = None


# The waiting bound's margin when a rule names none: the balancer's default.
DEFAULT_WAITING_MARGIN_MINUTES = 30.0


@dataclass(frozen=True, slots=True)
class HoldWaitingBound:
    """Hold the balancer's waiting bound across readers for the whole department: no study past
    its age limit overtaken by more than `margin_minutes` by younger work of its tier or a lower
    one on a reader who may read it (rule-set level, like the weights)."""

    margin_minutes: float = DEFAULT_WAITING_MARGIN_MINUTES


class SetWeights:
    """Override the balancer's objective weights, by term name; a weight not named (or None)
    stays as it is: `SetWeights(lateness=3.0, balance=0.5)`."""

    __slots__ = ("weights",)
    __match_args__ = ("weights",)
    weights: Weights

    def __init__(self, **weights: float | None) -> None:
        object.__setattr__(self, "weights", Weights(**weights))

    def __getattr__(self, name: str) -> float | None:
        if name.startswith("_") or name == "weights":
            raise AttributeError(name)
        return self.weights.get(name)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("actions are frozen")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SetWeights) and self.weights == other.weights

    def __hash__(self) -> int:
        return hash(("SetWeights", self.weights))

    def __repr__(self) -> str:
        return "SetWeights(" + ", ".join(f"{k}={v!r}" for k, v in self.weights.items()) + ")"

    def __reduce__(self) -> tuple[object, ...]:
        return (_set_weights, (dict(self.weights),))


def _set_weights(values: dict[str, float]) -> SetWeights:
    return SetWeights(**values)


Action = (
    SetPriority
    | SetTurnaround
    | EscalatePriority
    | RequireSubspecialty
    | RestrictRadiologists
    | ExcludeRadiologists
    | RestrictSites
    | ExcludeSites
    | CapPerRadiologist
    | SetWeights
    | HoldWaitingBound
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A named policy: when `condition` holds for a study, the `actions` apply to it."""

    name: str
    condition: str
    actions: tuple[Action, ...]
    order: int = 100
    enabled: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class RuleSet:
    """An ordered collection of rules; a rule's position breaks ties between equal `order`s."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)
