"""What an objective term is: one object the objective, the search state, the construction
heuristics and the CP-SAT model all read, found in `balancer.terms.TERMS`.

A term has one of three shapes, and the shape says how the shared machinery treats it:

* `SequenceTerm`: per study, a weight times the minutes it finishes past a start time (lateness,
  age, urgency). It gives two arrays; the state prices moves of every such term at once, fused,
  because the finish times of the studies behind a move all shift.
* `PlacementTerm`: a price for a study on a reader that depends on nothing else (stability,
  reader preference, same-patient grouping). It gives the price; everything else is generic.
* `ReaderTerm`: a function of each reader's load and held wRVU (balance, idle, fairness). It
  gives its cost, its change for a move, its price in the construction sweep and its CP-SAT form.

Every term has a `name` (its key in `Params.weights`, `Plan.objective` and the GraphQL objective
list), a `default_weight`, a `description`, a `position` (the order terms are listed and summed
in) and `rule_settable` (whether a rule's weight action may set its weight).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

    from balancer.problem import Problem
    from balancer.state import State

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Hinter = Callable[[Any, int], Any]

# CP-SAT units (balancer.cpsat): times are tenths of a minute, the objective hundredths.
TIME = 10  # model time units per minute
OBJ = 100  # objective units per minute-equivalent
WRVU = 100  # model units per wRVU
FINE = 10_000  # model units per wRVU where a per-minute rate multiplies a time


class Term(ABC):
    """An objective term; subclass one of the three shapes below."""

    name: ClassVar[str]
    default_weight: ClassVar[float]
    description: ClassVar[str]
    position: ClassVar[int]
    rule_settable: ClassVar[bool] = False

    def weight(self, problem: Problem) -> float:
        """This term's weight in the problem's parameters."""
        return float(problem.params.weights[self.name])


class SequenceTerm(Term):
    """weight[k] x max(finish[k] - start[k], 0) summed over placed studies."""

    @abstractmethod
    def hinge(self, problem: Problem) -> tuple[FloatArray, FloatArray]:
        """Per movable study (problem order): the start time (minutes from now) and the weight."""
        raise NotImplementedError


class PlacementTerm(Term):
    """price(study k, reader r) summed over placed studies, independent of everything else."""

    def prepare(self, problem: Problem) -> None:
        """Compute what `prices` needs from the compiled problem (store it on the term data)."""

    @abstractmethod
    def prices(self, problem: Problem, ks: IntArray, r: int) -> FloatArray:
        """The price of each study of `ks` on reader `r`."""
        raise NotImplementedError

    def active(self, problem: Problem) -> bool:
        """False when every price is zero (the term then costs nothing to carry)."""
        return True

    def unplaced(self, problem: Problem, ks: IntArray) -> FloatArray:
        """The price of each study of `ks` left without a reader (by default none)."""
        return np.zeros(ks.size, dtype=np.float64)

    def price(self, problem: Problem, k: int, r: int) -> float:
        """The price of study `k` on reader `r` (-1: left without one); override for speed."""
        one = np.array([k], dtype=np.int64)
        return float((self.unplaced(problem, one) if r < 0 else self.prices(problem, one, r))[0])

    def across(self, problem: Problem, k: int, readers: IntArray) -> FloatArray:
        """The price of study `k` on each of `readers`; override for speed."""
        return np.array([self.price(problem, k, int(r)) for r in readers], dtype=np.float64)

    def cost(self, problem: Problem, assign: IntArray) -> float:
        """The term for a whole assignment."""
        if not self.active(problem):
            return 0.0
        total = float(self.unplaced(problem, np.flatnonzero(assign < 0).astype(np.int64)).sum())
        for r in range(problem.m):
            ks = np.flatnonzero(assign == r).astype(np.int64)
            if ks.size:
                total += float(self.prices(problem, ks, r).sum())
        return total

    def delta(self, problem: Problem, k: int, a: int, b: int) -> float:
        """Change of the term if study `k` moves from reader `a` to `b` (-1: none)."""
        return self.price(problem, k, b) - self.price(problem, k, a)

    def cpsat(
        self, problem: Problem, x: dict[tuple[int, int], cp_model.IntVar]
    ) -> cp_model.LinearExprT:
        """The term over the model's placement booleans, in objective units."""
        if not self.active(problem):
            return 0
        parts: list[cp_model.LinearExprT] = []
        by_reader: dict[int, list[int]] = {}
        for k, r in x:
            by_reader.setdefault(r, []).append(k)
        for r, ks in by_reader.items():
            prices = self.prices(problem, np.array(ks, dtype=np.int64), r)
            for k, price in zip(ks, prices, strict=True):
                coef = round(float(price) * OBJ)
                if coef:
                    parts.append(coef * x[k, r])
        return sum(parts)


class MatrixPlacementTerm(PlacementTerm):
    """A placement term whose `prepare` stores every price at once, as a study x reader matrix
    in `problem.term_data[self.name]` (or drops it when the term is off)."""

    def active(self, problem: Problem) -> bool:
        return self.name in problem.term_data

    def prices(self, problem: Problem, ks: IntArray, r: int) -> FloatArray:
        out: FloatArray = problem.term_data[self.name][ks, r]
        return out

    def price(self, problem: Problem, k: int, r: int) -> float:
        """Scalar `prices` (the search's hot path)."""
        return 0.0 if r < 0 else float(problem.term_data[self.name][k, r])

    def across(self, problem: Problem, k: int, readers: IntArray) -> FloatArray:
        """Vectorised over readers (the construction sweep)."""
        out: FloatArray = problem.term_data[self.name][k, readers]
        return out


class ReaderTerm(Term):
    """A function of each reader's load (minutes, opened work included) and held wRVU."""

    @abstractmethod
    def cost(self, problem: Problem, load: FloatArray, held: FloatArray) -> float:
        """The term for per-reader loads and held wRVU."""
        raise NotImplementedError

    @abstractmethod
    def delta(self, state: State, k: int, a: int, b: int) -> float:
        """Change of the term if study `k` moves from reader `a` to `b` (-1: none)."""
        raise NotImplementedError

    @abstractmethod
    def sweep(
        self, state: State, k: int, cand: IntArray, t: FloatArray, load: FloatArray
    ) -> FloatArray | float:
        """The change of the term for study `k` joining each candidate (the cold sweep)."""
        raise NotImplementedError

    def insertion(
        self, state: State, ks: IntArray, r: int, t: FloatArray, load: FloatArray
    ) -> FloatArray | float:
        """What the flow placement of a cap group prices for `ks` on reader `r`; by default
        nothing (only balance is priced there)."""
        return 0.0

    @abstractmethod
    def cpsat(
        self,
        model: cp_model.CpModel,
        problem: Problem,
        v: Any,
        by_reader: list[list[int]],
        placed: IntArray,
        hinted: Hinter,
    ) -> cp_model.LinearExprT:
        """The term in the CP-SAT model, in objective units."""
        raise NotImplementedError
