"""What one signed read says about its reader's pace: the sufficient statistics kept per reader
and procedure group (the count, sum and sum of squares of the log read time over the
catalogue's), updated as reads are signed; `balancer.paces` turns them into estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass

from domain.enums import Modality

# A read shorter than this share, or longer than this multiple, of the catalogue time is not
# a read of the study (opened by mistake, left open overnight): it teaches nothing about pace.
SHORTEST_SHARE = 0.05
LONGEST_MULTIPLE = 20.0


@dataclass(frozen=True, slots=True)
class PaceHistory:
    """What one reader's signed reads of one procedure group say: the count, and the sum and
    sum of squares of `ln(minutes read / catalogue minutes)`."""

    reads: int = 0
    log_sum: float = 0.0
    log_square_sum: float = 0.0

    @property
    def mean(self) -> float:
        """The mean log ratio of the reads (0.0 without reads)."""
        return self.log_sum / self.reads if self.reads else 0.0

    def add(self, minutes: float, catalogue_minutes: float) -> PaceHistory:
        """This history with one more read of `minutes` (the catalogue says `catalogue_minutes`)."""
        y = read_log_ratio(minutes, catalogue_minutes)
        if y is None:
            return self
        return PaceHistory(self.reads + 1, self.log_sum + y, self.log_square_sum + y * y)


def read_log_ratio(minutes: float, catalogue_minutes: float) -> float | None:
    """`ln(minutes / catalogue_minutes)` for a read that teaches something about pace, else None
    (no catalogue time, or a read too short or too long to have been a read of the study)."""
    if catalogue_minutes <= 0 or not math.isfinite(minutes):
        return None
    ratio = minutes / catalogue_minutes
    if not SHORTEST_SHARE <= ratio <= LONGEST_MULTIPLE:
        return None
    return math.log(ratio)


def procedure_group(modality: Modality) -> str:
    """The group a procedure's reads teach a pace for: its modality (a reader's speed differs
    most between kinds of imaging; finer groups would leave most readers with few reads each)."""
    return modality.value
