"""The objective's terms, one module each, found here: a module that defines `TERM` is a term.

Adding a term is adding a module with a `TERM` (a `balancer.terms.base` shape) and its tests;
`Params.weights`, the objective, the search state, the construction heuristics, the CP-SAT
model and the GraphQL weights all read `TERMS`.
"""

from __future__ import annotations

import importlib
import pkgutil

from balancer.terms.base import PlacementTerm, ReaderTerm, SequenceTerm, Term


def _discover() -> tuple[Term, ...]:
    found: list[Term] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        term = getattr(importlib.import_module(f"{__name__}.{info.name}"), "TERM", None)
        if isinstance(term, Term):
            found.append(term)
    names = [t.name for t in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two objective terms share a name: {sorted(names)}")
    return tuple(sorted(found, key=lambda t: (t.position, t.name)))


TERMS: tuple[Term, ...] = _discover()
BY_NAME: dict[str, Term] = {t.name: t for t in TERMS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
DEFAULT_WEIGHTS: dict[str, float] = {t.name: float(t.default_weight) for t in TERMS}
SEQUENCE: tuple[SequenceTerm, ...] = tuple(t for t in TERMS if isinstance(t, SequenceTerm))
PLACEMENT: tuple[PlacementTerm, ...] = tuple(t for t in TERMS if isinstance(t, PlacementTerm))
READER: tuple[ReaderTerm, ...] = tuple(t for t in TERMS if isinstance(t, ReaderTerm))
# The weights a rule may set (rules' weight action, the GraphQL input fields), in term order.
RULE_SETTABLE: tuple[str, ...] = tuple(t.name for t in TERMS if t.rule_settable)

__all__ = [
    "BY_NAME",
    "DEFAULT_WEIGHTS",
    "NAMES",
    "PLACEMENT",
    "READER",
    "RULE_SETTABLE",
    "SEQUENCE",
    "TERMS",
    "PlacementTerm",
    "ReaderTerm",
    "SequenceTerm",
    "Term",
]
