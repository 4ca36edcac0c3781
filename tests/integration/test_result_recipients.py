"""Whom a communicated result goes to, in the database: the referrer by the channel its
urgency calls for, and the patient's survey invitation by the contact they gave."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from domain.db import Database
from domain.enums import (
    CriticalLevel,
    ExamStatus,
    NotificationChannel,
    NotificationTemplate,
    Role,
)
from domain.errors import ValidationFailed
from domain.lifecycle import Actor
from domain.models import Notification, Patient, Referrer, ResultCommunication
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


ACKNOWLEDGERS = {
    # who acknowledges, whom the result reached besides REF01: acknowledged?
    "the ordering referrer": ("REF01", None, True),
    "another referrer": ("REF02", None, False),
    "the referrer it was escalated to": ("REF02", "escalated_to", True),
    "the referrer who received it": ("REF02", "received_by", True),
    "a referrer it never reached": ("REF03", "escalated_to", False),
}


@pytest.mark.parametrize("case", ACKNOWLEDGERS)
async def test_a_referrer_the_result_reached_acknowledges_it_others_need_a_read_back(
    db: Database, case: str
) -> None:
    await reference(db)
    code, reached, acknowledged = ACKNOWLEDGERS[case]
    exam = await drive(
        db, await order(db), ExamStatus.COMMUNICATED, critical=CriticalLevel.CRITICAL
    )
    assert exam.id is not None

    def reach_ref02(uow: Any) -> None:
        ref02 = sa.select(Referrer.id).where(col(Referrer.code) == "REF02").scalar_subquery()
        uow.session.execute(
            sa.update(ResultCommunication)
            .where(col(ResultCommunication.exam_id) == exam.id)
            .values({f"{reached}_kind": "referrer", f"{reached}_id": ref02})
        )

    if reached is not None:
        await db.run(reach_ref02)

    def acknowledge(uow: Any) -> ResultCommunication:
        return results.acknowledge_result(
            uow=uow, actor=Actor(code, Role.REFERRER), exam_id=exam.id
        )

    if acknowledged:
        communication = await db.run(acknowledge)
        assert communication.acknowledged_by == code
        return
    with pytest.raises(ValidationFailed) as refused:
        await db.run(acknowledge)
    assert [i.code for i in refused.value.issues] == ["READ_BACK_REQUIRED"]
