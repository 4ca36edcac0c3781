"""Whom a communicated result goes to, in the database: the referrer by the channel its
urgency calls for, and the patient's survey invitation by the contact they gave."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, NotificationChannel, NotificationTemplate
from domain.models import Notification, Patient
from domain.services import results
from tests.factories import RADIOLOGIST, drive, order, reference

pytestmark = pytest.mark.usefixtures("backend")

CASES = {
    # critical level, the patient's (email, phone): the result's channel, the invitation's
    "a critical result, a patient with a phone": (
        CriticalLevel.CRITICAL,
        (None, "+15550001111"),
        NotificationChannel.PHONE,  # the referrer has a phone: they are called
        NotificationChannel.SMS,
    ),
    "a routine result, a patient with e-mail": (
        CriticalLevel.NONE,
        ("pat@example.org", "+15550001111"),
        NotificationChannel.PORTAL,
        NotificationChannel.EMAIL,
    ),
    "a patient with no contact": (
        CriticalLevel.NONE,
        (None, None),
        NotificationChannel.PORTAL,
        None,
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_a_result_goes_to_the_referrer_and_invites_the_patient(
    db: Database, case: str
) -> None:
    await reference(db)
    level, (email, phone), channel, invitation = CASES[case]
    exam = await drive(db, await order(db), ExamStatus.FINAL, critical=level)
    assert exam.id is not None

    def contact(uow: Any) -> None:
        uow.session.execute(
            sa.update(Patient)
            .where(col(Patient.id) == exam.patient_id)
            .values(email=email, phone=phone)
        )

    await db.run(contact)
    communication = await db.run(
        lambda uow: results.notify_result(uow=uow, actor=RADIOLOGIST, exam_id=exam.id)
    )
    assert (communication.channel, communication.critical_level) == (channel, level)
    assert communication.referrer_id == exam.referrer_id
    sent = await db.read(
        lambda s: {
            n.template: (n.recipient_kind, n.recipient_id, n.channel)
            for n in s.scalars(sa.select(Notification).where(col(Notification.exam_id) == exam.id))
        }
    )
    critical = level == CriticalLevel.CRITICAL
    told = (
        NotificationTemplate.CRITICAL_RESULT if critical else NotificationTemplate.RESULT_AVAILABLE
    )
    assert sent[told] == ("referrer", exam.referrer_id, channel)
    if invitation is None:
        assert NotificationTemplate.SURVEY_INVITATION not in sent
    else:
        assert sent[NotificationTemplate.SURVEY_INVITATION] == (
            "patient",
            exam.patient_id,
            invitation,
        )
