"""The live snapshot carries each reader's wRVU signed this shift, from finished reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.planning.runner import read_state
from domain.db import Database
from domain.enums import ExamStatus
from domain.services import worklists
from tests.factories import SUPERVISOR, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")


async def test_a_signed_read_counts_toward_its_readers_shift_and_a_new_shift_starts_at_zero(
    db: Database,
) -> None:
    await reference(db)  # RAD03 (id 3) on shift
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code="RAD07",
            site_code="NORTH",
            ends_at=uow.now + timedelta(hours=23),
        )
    )
    await drive(db, await order(db), ExamStatus.FINAL)  # RAD03 reads and signs a USABD
    await drive(db, await order(db), ExamStatus.IN_INTERPRETATION)  # opened, not signed
    now = db.clock()
    readers = {r.id: r for r in (await db.read(lambda s: read_state(s, now))).snapshot.radiologists}
    assert readers[3].wrvu_read == pytest.approx(0.8)
    assert readers[3].minutes_on_duty > 0
    assert readers[7].wrvu_read == 0.0
    assert readers[1].wrvu_read == readers[1].minutes_on_duty == 0.0  # not on shift

    await db.run(
        lambda uow: worklists.end_shift(uow=uow, actor=SUPERVISOR, radiologist_code="RAD03")
    )
    await db.run(
        lambda uow: worklists.start_shift(
            uow=uow,
            actor=SUPERVISOR,
            radiologist_code="RAD03",
            site_code="MAIN",
            ends_at=uow.now + timedelta(hours=8),
        )
    )
    later = db.clock()
    fresh = {r.id: r for r in (await db.read(lambda s: read_state(s, later))).snapshot.radiologists}
    assert fresh[3].wrvu_read == 0.0
