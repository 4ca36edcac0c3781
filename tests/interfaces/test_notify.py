"""Notifications leave the building: a real SMTP server, webhook receiver and SMS gateway on
loopback receive what the delivery worker sends, at least once, never lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from application.delivery import Delivery, DeliveryPolicy
from domain.db import Database
from domain.enums import NotificationChannel, NotificationStatus, NotificationTemplate
from domain.models import Notification, Patient
from domain.services.notifications import claim_due
from interfaces.notify.http import SmsGatewayAdapter, WebhookAdapter
from interfaces.notify.smtp import SmtpAdapter
from tests.conftest import Clock, on_loopback

pytestmark = pytest.mark.usefixtures("backend")
SECRET = "webhook-secret"
POLICY = DeliveryPolicy(max_attempts=3, backoff=timedelta(seconds=10), lease=timedelta(seconds=60))


class Mailbox:
    """aiosmtpd's handler: keeps every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK queued"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


class Receiver:
    """A webhook receiver and SMS gateway that refuse the first try of each delivery."""

    def __init__(self, *, refuse_always: bool = False) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.refuse_always = refuse_always

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        delivery = request.headers["x-radflow-delivery"]
        first = all(h["x-radflow-delivery"] != delivery for _, h, _ in self.requests)
        self.requests.append((request.url.path, dict(request.headers), body))
        if first or self.refuse_always:
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"accepted": delivery})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, Receiver]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path}", receiver.handle, methods=["POST"])])
    async with on_loopback(app) as port:
        yield f"http://127.0.0.1:{port}", receiver


async def queue(db: Database, channel: NotificationChannel, *, email: str | None = None) -> int:
    def work(uow: Any) -> int:
        patient = Patient(
            mrn="MRN-NOTIFY-1",
            given_name="Ada",
            family_name="Byron",
            birth_date=date(1980, 1, 1),
            sex="F",
            email=email,
            phone="+15550100",
        )
        uow.add(patient)
        uow.flush()
        row = Notification(
            recipient_kind="patient",
            recipient_id=patient.id,
            channel=channel,
            template=NotificationTemplate.APPOINTMENT_REMINDER,
            send_at=uow.now,
            created_at=uow.now,
            payload={"accession": "RF000000000042", "startsAt": "2026-03-03T09:00:00+00:00"},
        )
        uow.add(row)
        uow.flush()
        return int(row.id)

    return await db.run(work)


async def notification(db: Database, notification_id: int) -> Notification:
    row = await db.read(lambda s: s.get(Notification, notification_id))
    assert row is not None
    return row


async def test_an_email_reaches_a_real_smtp_server_with_no_phi_by_default(
    db: Database, smtp: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp
    sent_id = await queue(db, NotificationChannel.EMAIL, email="ada@example.org")
    adapter = SmtpAdapter(host="127.0.0.1", port=port, sender="radiology@example.org")

    outcome = await Delivery(db, {NotificationChannel.EMAIL: adapter}, POLICY).run_once()

    assert (outcome.sent, outcome.failed) == (1, 0)
    (raw,) = mailbox.messages
    email = message_from_bytes(raw)
    row = await notification(db, sent_id)
    assert email["To"] == "ada@example.org" and email["X-Radflow-Delivery"] == row.delivery_id
    body = email.get_payload()
    assert "Reminder of your appointment" in body
    assert "RF000000000042" not in body and "Byron" not in body  # no PHI on this channel
    assert row.status == NotificationStatus.SENT and row.sent_at is not None
    assert row.last_answer and "accepted by 127.0.0.1" in row.last_answer


async def test_an_email_with_no_address_fails_at_once_into_the_dead_letters(
    db: Database, smtp: tuple[int, Mailbox]
) -> None:
    sent_id = await queue(db, NotificationChannel.EMAIL)
    adapter = SmtpAdapter(host="127.0.0.1", port=smtp[0], sender="radiology@example.org")

    outcome = await Delivery(db, {NotificationChannel.EMAIL: adapter}, POLICY).run_once()

    row = await notification(db, sent_id)
    assert outcome.failed == 1 and row.status == NotificationStatus.FAILED
    assert row.last_answer == "no e-mail address on file" and smtp[1].messages == []


async def test_a_signed_webhook_refused_once_is_sent_again_with_the_same_delivery_id(
    db: Database, clock: Clock, receiver: tuple[str, Receiver]
) -> None:
    url, seen = receiver
    sent_id = await queue(db, NotificationChannel.PORTAL)
    delivery = Delivery(
        db, {NotificationChannel.PORTAL: WebhookAdapter(f"{url}/hook", SECRET)}, POLICY
    )

    assert (await delivery.run_once()).retrying == 1
    waiting = await notification(db, sent_id)
    assert waiting.status == NotificationStatus.QUEUED and waiting.attempts == 1
    assert waiting.next_attempt_at == clock.now + timedelta(seconds=10)
    assert (await delivery.run_once()).sent == 0  # not before its next attempt time
    clock.advance(seconds=10)
    assert (await delivery.run_once()).sent == 1

    row = await notification(db, sent_id)
    assert row.status == NotificationStatus.SENT and row.attempts == 2
    assert row.last_answer is not None and row.last_answer.startswith("200")
    assert [h["x-radflow-delivery"] for _, h, _ in seen.requests] == [row.delivery_id] * 2
    for _, headers, body in seen.requests:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-radflow-signature"] == f"sha256={expected}"
        sent = json.loads(body)
        assert sent["notificationId"] == sent_id and "accession" not in json.dumps(sent)


async def test_a_sender_killed_mid_send_leaves_the_message_to_be_sent_again(
    db: Database, clock: Clock, receiver: tuple[str, Receiver]
) -> None:
    url, seen = receiver
    sent_id = await queue(db, NotificationChannel.SMS)
    channels = {NotificationChannel.SMS}
    (claimed,) = await db.run(
        lambda uow: claim_due(uow, channels=channels, limit=10, lease=POLICY.lease)
    )  # the sender claimed it, then died before recording anything
    delivery = Delivery(
        db, {NotificationChannel.SMS: SmsGatewayAdapter(f"{url}/sms", token="t")}, POLICY
    )

    assert (await delivery.run_once()).sent == 0  # its claim still holds
    clock.advance(seconds=61)
    assert (await delivery.run_once()).retrying == 1  # the gateway refuses a first request
    clock.advance(seconds=20)  # the second try's wait: twice the first
    outcome = await delivery.run_once()

    row = await notification(db, sent_id)
    assert outcome.sent == 1 and row.status == NotificationStatus.SENT
    assert row.delivery_id == claimed.delivery_id and row.attempts == 3
    _, headers, body = seen.requests[-1]
    assert headers["authorization"] == "Bearer t"
    assert json.loads(body)["to"] == "+15550100" and "RF000000000042" not in body.decode()


async def test_the_last_failed_try_is_failed_until_a_supervisor_retries_it(
    db: Database, clock: Clock, receiver: tuple[str, Receiver]
) -> None:
    url, seen = receiver
    seen.refuse_always = True
    sent_id = await queue(db, NotificationChannel.PHONE)
    delivery = Delivery(
        db, {NotificationChannel.PHONE: WebhookAdapter(f"{url}/hook", SECRET)}, POLICY
    )
    for _ in range(3):
        await delivery.run_once()
        clock.advance(minutes=1)

    row = await notification(db, sent_id)
    assert row.status == NotificationStatus.FAILED and row.attempts == 3
    assert len(seen.requests) == 3 and row.last_answer and row.last_answer.startswith("503")
