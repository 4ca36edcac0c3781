"""HL7 v2 out to a real MLLP receiver: status and results in event order, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hl7
import httpx
import pytest
import sqlalchemy as sa
from hl7.mllp import HL7StreamReader, HL7StreamWriter, start_hl7_server

from api.app import create_app
from api.live.outbox import prune
from application.settings import Settings
from bench._net import free_port
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus
from domain.models import OutboundCursor, OutboxEvent
from interfaces.hl7.outbound import Destination, Sender, parse_destinations
from tests.conftest import Clock, on_loopback
from tests.factories import drive, order, reference
from tests.interfaces.test_hl7 import msa, orm, send

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


class Receiver:
    """An EHR's MLLP endpoint: keeps what it gets; refuses the first `refuse` messages (AE)."""

    def __init__(self, refuse: int = 0) -> None:
        self.received: list[hl7.Message] = []
        self.refuse = refuse
        self.refuse_kind: str | None = None  # refuse every message of this type (MSH-9.1)
        self.arrived = asyncio.Event()

    async def connected(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        try:
            while True:
                message = await reader.readmessage()
                kind = str(message.extract_field("MSH", field_num=9, component_num=1))
                if self.refuse > 0 or kind == self.refuse_kind:
                    self.refuse = max(0, self.refuse - 1)
                    writer.writemessage(message.create_ack("AE"))
                else:
                    self.received.append(message)
                    writer.writemessage(message.create_ack("AA"))
                await writer.drain()
                self.arrived.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    got = Receiver()
    server = await start_hl7_server(got.connected, "127.0.0.1", 0, encoding="utf-8")
    yield got, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def deliver_all(sender: Sender, clock: Clock) -> None:
    """Step until the sender has nothing left (moving the test clock past any backoff)."""
    for _ in range(1000):
        if not await sender.step():
            cursor = await sender.db.read(lambda s: s.get(OutboundCursor, "EHR"))
            newest = await sender.db.read(
                lambda s: s.scalar(sa.select(sa.func.max(OutboxEvent.id)))
            )
            if cursor is not None and cursor.position >= (newest or 0):
                return
            clock.advance(minutes=10)
    raise AssertionError("the sender never caught up")


def field(message: hl7.Message, segment: str, number: int, component: int = 1) -> str:
    return str(message.extract_field(segment, field_num=number, component_num=component))


@SQLITE
async def test_an_exams_life_reaches_the_ehr_in_order_as_orm_and_oru(
    db: Database, clock: Clock, receiver: tuple[Receiver, int]
) -> None:
    got, port = receiver
    await reference(db)
    sender = Sender(db, Destination("EHR", "127.0.0.1", port), ack_timeout=30)
    await sender.step()  # the destination starts from now: the reference data is not sent
    exam = await drive(db, await order(db), ExamStatus.FINAL, critical=CriticalLevel.CRITICAL)
    try:
        await deliver_all(sender, clock)
    finally:
        sender.close()

    kinds = [
        (kind, field(m, "ORC", 5) if kind == "ORM" else field(m, "OBR", 25))
        for m in got.received
        for kind in [field(m, "MSH", 9, 1)]
    ]
    assert kinds == [
        ("ORM", "SC"),  # scheduled
        ("ORM", "IP"),  # arrived
        ("ORM", "IP"),  # acquisition started
        ("ORM", "CM"),  # performed
        ("ORU", "F"),  # signed final (drive signs final without a preliminary)
    ]
    control_ids = [field(m, "MSH", 10) for m in got.received]
    assert control_ids == sorted(control_ids, key=lambda c: int(c[2:]))
    assert all(c.startswith("RF") for c in control_ids)
    result = got.received[-1]
    assert field(result, "PID", 3) == "MRN000001"
    assert field(result, "OBR", 3) == exam.accession_number
    observations = [s for s in result if str(s[0]) == "OBX"]
    impression = [s for s in observations if str(s[3]).startswith("IMP")]
    assert len(impression) == 1
    assert str(impression[0][5]) == "Normal study." and str(impression[0][8]) == "AA"
    assert len(observations) > 1  # the template's filled fields come before the impression
    cursor = await db.read(lambda s: s.get(OutboundCursor, "EHR"))
    assert cursor is not None and (cursor.delivered, cursor.attempts) == (5, 0)


@SQLITE
async def test_a_destination_down_or_refusing_holds_its_queue_and_loses_nothing(
    db: Database, clock: Clock
) -> None:
    await reference(db)
    port = free_port()  # nothing listens yet
    sender = Sender(db, Destination("EHR", "127.0.0.1", port), ack_timeout=30)
    await sender.step()
    await drive(db, await order(db), ExamStatus.CHECKED_IN)
    assert await sender.step() is False  # connection refused
    cursor = await db.read(lambda s: s.get(OutboundCursor, "EHR"))
    assert cursor is not None and cursor.attempts == 1 and cursor.last_error
    assert cursor.next_attempt_at is not None and cursor.next_attempt_at > clock.now
    # Pruning waits for the destination: its events stay however old they are.
    clock.advance(days=30)
    await prune(db, before=clock.now, through=10**9)
    kept = await db.read(
        lambda s: s.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.id > cursor.position)
        )
    )
    assert kept and kept > 0
    # The EHR comes up and refuses the first message once (AE): it is sent again, in order.
    got = Receiver(refuse=1)
    server = await start_hl7_server(got.connected, "127.0.0.1", port, encoding="utf-8")
    try:
        await deliver_all(sender, clock)
    finally:
        sender.close()
        server.close()
        await server.wait_closed()
    assert [field(m, "ORC", 5) for m in got.received] == ["SC", "IP"]
    cursor = await db.read(lambda s: s.get(OutboundCursor, "EHR"))
    assert cursor is not None and (cursor.delivered, cursor.attempts, cursor.last_error) == (
        2,
        0,
        None,
    )


def test_destinations_are_named_host_port_pairs() -> None:
    assert parse_destinations("EHR=10.0.0.5:2575, PACS=pacs.local:2576") == (
        Destination("EHR", "10.0.0.5", 2575),
        Destination("PACS", "pacs.local", 2576),
    )
    assert parse_destinations(None) == ()
    with pytest.raises(ValueError, match="NAME=host:port"):
        parse_destinations("EHR=nowhere")


@SQLITE
async def test_radflow_serve_takes_orders_in_and_tells_the_ehr_over_hl7(
    db: Database, receiver: tuple[Receiver, int]
) -> None:
    """The served app with both directions configured: an order in, withdrawn, the EHR told."""
    got, ehr_port = receiver
    await reference(db)
    listen = free_port()
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_BALANCER=False,
        RADFLOW_HL7_PORT=listen,
        RADFLOW_HL7_DESTINATIONS=f"EHR=127.0.0.1:{ehr_port}",
    )
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        placed, withdrawn = await send(
            ("127.0.0.1", listen), orm(), orm(control="MSG0002").replace("ORC|NW|", "ORC|CA|")
        )
        assert [msa(a)[0] for a in (placed, withdrawn)] == ["AA", "AA"]
        while not got.received:
            await asyncio.wait_for(got.arrived.wait(), 60)
            got.arrived.clear()
        (told,) = got.received
        assert (field(told, "ORC", 1), field(told, "ORC", 5)) == ("OC", "CA")
        assert field(told, "ORC", 2) == "P1001"
        ready = (await client.get("/readyz")).json()
        assert ready["hl7_outbound"]["EHR"]["attempts"] == 0


@SQLITE
async def test_a_charge_destination_is_sent_a_dft_when_the_exam_is_performed(
    db: Database, clock: Clock, receiver: tuple[Receiver, int]
) -> None:
    got, port = receiver
    await reference(db)
    (billing,) = parse_destinations(f"EHR=127.0.0.1:{port}", charges="EHR")
    assert billing.charges
    sender = Sender(db, billing, ack_timeout=30)
    await sender.step()
    exam = await drive(db, await order(db), ExamStatus.ACQUIRED)
    try:
        await deliver_all(sender, clock)
    finally:
        sender.close()
    kinds = [field(m, "MSH", 9, 1) for m in got.received]
    assert kinds == ["ORM", "ORM", "ORM", "ORM", "DFT"]  # the charge after "performed"
    performed, charge = got.received[-2:]
    assert field(performed, "ORC", 5) == "CM"
    assert field(charge, "MSH", 10) == field(performed, "MSH", 10) + "C"
    # The structure DFT^P03 requires (MSH, EVN, PID, FT1), as python-hl7 parsed it back.
    assert [str(s[0]) for s in charge] == ["MSH", "EVN", "PID", "PV1", "FT1"]
    assert (field(charge, "MSH", 9, 1), field(charge, "MSH", 9, 2)) == ("DFT", "P03")
    assert field(charge, "EVN", 1) == "P03"
    assert field(charge, "PID", 3) == "MRN000001"
    ft1 = charge.segment("FT1")
    assert str(ft1[2]) == exam.accession_number and str(ft1[6]) == "CG"
    assert str(ft1[4]) and str(ft1[4]) == str(ft1[5])  # performed, and posted, then
    assert field(charge, "FT1", 7) == "USABD"
    assert str(ft1[10]) == "1"
    assert charge.extract_field("FT1", field_num=11, component_num=1, subcomponent_num=1) == (
        "540.00"
    )
    assert charge.extract_field("FT1", field_num=11, component_num=1, subcomponent_num=2) == ("USD")
    assert (field(charge, "FT1", 25, 1), field(charge, "FT1", 25, 3)) == ("76700", "C4")
    assert field(charge, "FT1", 23) == exam.accession_number
    assert field(charge, "FT1", 21) == "REF01"
    cursor = await db.read(lambda s: s.get(OutboundCursor, "EHR"))
    assert cursor is not None and cursor.delivered == 4  # events; the DFT rode on the 4th


@SQLITE
async def test_a_refused_charge_holds_the_event_and_both_messages_are_sent_again(
    db: Database, clock: Clock
) -> None:
    await reference(db)
    refused_charge = Receiver()
    server = await start_hl7_server(refused_charge.connected, "127.0.0.1", 0, encoding="utf-8")
    port = server.sockets[0].getsockname()[1]
    (billing,) = parse_destinations(f"BILLING=127.0.0.1:{port}", charges="BILLING")
    sender = Sender(db, billing, ack_timeout=30)
    await sender.step()
    await drive(db, await order(db), ExamStatus.ACQUIRED)
    try:
        for _ in range(3):  # scheduled, arrived, started
            assert await sender.step()
        refused_charge.refuse_kind = "DFT"
        assert await sender.step() is False  # ORM CM taken, DFT refused: the event is held
        cursor = await db.read(lambda s: s.get(OutboundCursor, "BILLING"))
        assert cursor is not None and cursor.attempts == 1 and (cursor.delivered == 3)
        refused_charge.refuse_kind = None
        clock.advance(minutes=10)
        assert await sender.step()
    finally:
        sender.close()
        server.close()
        await server.wait_closed()
    sent = [(field(m, "MSH", 9, 1), field(m, "MSH", 10)) for m in refused_charge.received]
    # The ORM of the held event was sent again with the same MSH-10 (a receiver drops it).
    assert [kind for kind, _ in sent] == ["ORM", "ORM", "ORM", "ORM", "ORM", "DFT"]
    assert sent[3][1] == sent[4][1] and sent[5][1] == sent[4][1] + "C"


def test_charge_destinations_must_be_destinations() -> None:
    with pytest.raises(ValueError, match="BILLING is not a destination"):
        parse_destinations("EHR=ehr:2575", charges="BILLING")
    assert [d.charges for d in parse_destinations("A=a:1,B=b:2", charges="B")] == [False, True]
