"""Reader preference: a reader's time on work outside their preferred subspecialties costs.

A neuroradiologist who also holds the general credential may read a general chest film, but
the department would rather they read the head CTs only they can, and leave the chest film to
a general reader. Each reference minute a reader with preferences spends on a study outside
them costs `weights.preference`; a reader without preferences is indifferent, and so is
a study nobody with a preference for it may read (every eligible reader pays alike).

The preferences are `Radiologist.preferred_subspecialties` in the snapshot (live: the
subspecialty credentials a reader holds beyond GENERAL). The weight is 0 by default, so the
term changes nothing until a rule's weight action sets it (`set_weights` with `preference`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from balancer.terms.base import MatrixPlacementTerm
from domain.enums import Subspecialty

if TYPE_CHECKING:
    from balancer.problem import Problem

_SUBSPECIALTIES = tuple(Subspecialty)


class Preference(MatrixPlacementTerm):
    name = "preference"
    default_weight = 0.0
    description = (
        "Reference minutes a reader with preferred subspecialties spends on other work, "
        "by weight (0: off)."
    )
    position = 80
    rule_settable = True

    def prepare(self, problem: Problem) -> None:
        """Per study and reader, the price of the study on the reader (study x reader)."""
        w = self.weight(problem)
        by_id = {r.id: r for r in problem.snapshot.radiologists}
        readers = [by_id[rid] for rid in problem.reader_ids]
        if w <= 0 or not any(r.preferred_subspecialties for r in readers) or not problem.n:
            problem.term_data.pop(self.name, None)
            return
        prefers = np.array(
            [[s in r.preferred_subspecialties for s in _SUBSPECIALTIES] for r in readers],
            dtype=np.bool_,
        )  # reader x subspecialty
        has: npt.NDArray[np.bool_] = np.asarray(prefers.any(axis=1))
        sub = np.array([_SUBSPECIALTIES.index(s.subspecialty) for s in problem.studies])
        off = has[None, :] & ~prefers[:, sub].T  # study x reader
        problem.term_data[self.name] = w * off * problem.nominal[:, None]


TERM = Preference()
