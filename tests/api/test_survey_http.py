"""A patient answers the satisfaction survey from the link in their invitation, over real
HTTP: the served app's clock sends the invitation through a real SMTP server (aiosmtpd), the
link opens a form, and a tampered, expired or used link gets its typed refusal."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import Awaitable, Callable
from email.message import Message
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from application.settings import Settings
from domain.db import Database
from domain.enums import ExamStatus, NotificationStatus, NotificationTemplate, Respondent
from domain.models import AuditEvent, Exam, Notification, Patient, SatisfactionSurvey
from tests.conftest import Clock, on_loopback
from tests.factories import drive, order, reference
from tests.interfaces.test_notify import Mailbox, smtp  # noqa: F401 (the SMTP server fixture)

pytestmark = pytest.mark.usefixtures("backend")
PUBLIC = "https://radiology.example/survey"  # the address patients see; served on loopback here
JSON = {"Accept": "application/json"}
WAIT = 30.0
T = TypeVar("T")


async def communicated_exam_of_a_patient_with_email(db: Database) -> tuple[Exam, Patient]:
    await reference(db)
    exam = await order(db)

    def give_email(session: Any) -> Patient:
        patient = session.get(Patient, exam.patient_id)
        patient.email = "ada@example.org"
        return patient

    patient = await db.run(lambda uow: give_email(uow.session))
    return await drive(db, exam, ExamStatus.COMMUNICATED), patient


def the_invitation(session: Any) -> Notification:
    query = sa.select(Notification).where(
        Notification.template == NotificationTemplate.SURVEY_INVITATION  # type: ignore[arg-type]
    )
    return session.scalars(query).one()  # type: ignore[no-any-return]


async def invitation_delivered(mailbox: Mailbox) -> Message:
    """The survey invitation, once the SMTP server has it (the booking's messages came too)."""

    def invitations() -> list[Message]:
        parsed = [email.message_from_bytes(raw) for raw in mailbox.messages]
        return [m for m in parsed if m["Subject"] == "How was your visit?"]

    async def sent() -> list[Message]:
        return invitations()

    (message,) = await until(sent)
    return message


async def until(check: Callable[[], Awaitable[T]]) -> T:
    """`check`'s first truthy answer, looking every 20 ms for at most WAIT seconds."""
    async with asyncio.timeout(WAIT):
        while True:
            if found := await check():
                return found
            await asyncio.sleep(0.02)


async def test_a_patient_answers_once_from_the_signed_link_their_invitation_carried(
    db: Database,
    clock: Clock,
    smtp: tuple[int, Mailbox],  # noqa: F811
) -> None:
    exam, patient = await communicated_exam_of_a_patient_with_email(db)
    smtp_port, mailbox = smtp
    clock.advance(hours=24, minutes=1)  # the invitation falls due a day after communication
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_BALANCER=False,
        RADFLOW_CLOCK_POLL=0.02,
        RADFLOW_SMTP_HOST="127.0.0.1",
        RADFLOW_SMTP_PORT=smtp_port,
        RADFLOW_SURVEY_URL=PUBLIC,
        RADFLOW_SURVEY_SECRET="survey-key",
    )
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        message = await invitation_delivered(mailbox)
        text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert message["To"] == "ada@example.org"
        assert message["Subject"] == "How was your visit?"
        (token,) = re.findall(re.escape(PUBLIC) + r"/([A-Za-z0-9_.\-]+)", text)
        # Nothing that names the patient or the exam: the link and a minimal text.
        for phi in (patient.mrn, patient.family_name, patient.given_name, exam.accession_number):
            assert phi not in text and phi not in token

        async def recorded_sent() -> Notification | None:  # after the SMTP server's answer
            invitation = await db.read(the_invitation)
            return invitation if invitation.status == NotificationStatus.SENT else None

        assert (await until(recorded_sent)).exam_id == exam.id

        page = await client.get(f"/survey/{token}")
        assert page.status_code == 200 and '<form method="post">' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"

        head, signature = token.rsplit(".", 1)
        forged = f"{head}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
        tampered = await client.post(f"/survey/{forged}", data={"score": "5"}, headers=JSON)
        assert (tampered.status_code, tampered.json()["code"]) == (400, "LINK_INVALID")
        # Another invitation's id under this signature is tampering too.
        other = await client.post(
            f"/survey/MTIz.{token.split('.', 1)[1]}", data={"score": "5"}, headers=JSON
        )
        assert (other.status_code, other.json()["code"]) == (400, "LINK_INVALID")
        html_refusal = await client.post(f"/survey/{forged}", data={"score": "5"})
        assert html_refusal.status_code == 400 and 'data-code="LINK_INVALID"' in html_refusal.text

        bad = await client.post(f"/survey/{token}", data={"score": "9"}, headers=JSON)
        assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (
            422,
            "OUT_OF_RANGE",
            "score",
        )

        clock.advance(days=14, minutes=1)  # RADFLOW_SURVEY_LINK_DAYS' 14 days from sending
        expired = await client.post(f"/survey/{token}", data={"score": "4"}, headers=JSON)
        assert (expired.status_code, expired.json()["code"]) == (410, "LINK_EXPIRED")
        assert (await client.get(f"/survey/{token}")).status_code == 410
        clock.advance(days=-14, minutes=-1)

        # The link opened twice at once: one answer is recorded, the other is told it is used.
        answers = await asyncio.gather(
            client.post(f"/survey/{token}", data={"score": "4", "comment": "Kind staff"}),
            client.post(f"/survey/{token}", json={"score": 2}, headers=JSON),
        )
        assert sorted(a.status_code for a in answers) == [201, 409]
        (used,) = [a for a in answers if a.status_code == 409]
        assert used.headers["content-type"].startswith("application/json") or (
            'data-code="ALREADY_SUBMITTED"' in used.text
        )
        again = await client.post(f"/survey/{token}", data={"score": "5"}, headers=JSON)
        assert (again.status_code, again.json()["code"]) == (409, "ALREADY_SUBMITTED")

    surveys = await db.read(lambda s: list(s.scalars(sa.select(SatisfactionSurvey))))
    assert [(s.exam_id, s.respondent, s.submitted_by) for s in surveys] == [
        (exam.id, Respondent.PATIENT, patient.mrn)  # recorded as the patient
    ]
    assert (surveys[0].score, surveys[0].comment) in {(4, "Kind staff"), (2, None)}
    audited = await db.read(
        lambda s: list(
            s.scalars(
                sa.select(AuditEvent).where(
                    AuditEvent.operation == "survey answer (link)"  # type: ignore[arg-type]
                )
            )
        )
    )
    recorded = [a for a in audited if a.outcome == "SUCCESS"]
    assert [(a.user_id, a.role, a.action, a.exam_ids) for a in recorded] == [
        (patient.mrn, "patient", "C", [exam.id])
    ]
    assert patient.mrn in recorded[0].patient_mrns
