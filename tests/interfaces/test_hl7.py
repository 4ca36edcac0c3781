"""HL7 v2 in over a real MLLP socket, with python-hl7's own MLLP client: orders, patients, ACKs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import hl7
import pytest
import sqlalchemy as sa
from hl7.mllp import open_hl7_connection

from domain.db import Database
from domain.enums import ExamStatus, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.models import Exam, ExamStatusChange, InboundMessage, Patient
from interfaces.hl7.inbound import Inbound
from interfaces.hl7.listener import hl7_listener
from tests.factories import reference

INTERFACE = Actor("epic.hl7", Role.INTEGRATION)


def obr(placer: str, procedure: str) -> str:
    fields = [""] * 31  # OBR-1 .. OBR-31
    fields[0], fields[1], fields[3] = "1", f"{placer}^EPIC", f"{procedure}^CT head"
    fields[30] = "^Head trauma"  # OBR-31 reason for study
    return "|".join(["OBR", *fields])


def orm(
    control: str = "MSG0001",
    placer: str = "P1001",
    procedure: str = "CTHEAD",
    priority: str = "S",
    *,
    mrn: str = "MRN900001",
    with_tq1: bool = True,
) -> str:
    segments = [
        f"MSH|^~\\&|EPIC|RIVERSIDE|RADFLOW|MAIN|20261204120000||ORM^O01|{control}|P|2.5.1",
        f"PID|1||{mrn}^^^RIV^MR||Doe^Jane||19700101|F|||||555-0100",
        "PV1|1|E",
        f"ORC|NW|{placer}^EPIC||||||||||REF01^Welby^Marcus",
        obr(placer, procedure),
        "DG1|1||S06.0^Concussion^I10",
    ]
    if with_tq1:
        segments.insert(4, f"TQ1|1||||||||{priority}")
    return "\r".join(segments)


def adt(event: str, control: str, family: str = "Roe") -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|EPIC|RIVERSIDE|RADFLOW|MAIN|20261204120000||ADT^{event}|{control}|P|2.5.1",
            f"EVN|{event}|20261204120000",
            f"PID|1||MRN900777^^^RIV^MR||{family}^Rita||19811224|F|||||555-0177",
            "PV1|1|O",
        ]
    )


@pytest.fixture
async def listener(db: Database) -> AsyncIterator[tuple[str, int]]:
    await reference(db)
    async with hl7_listener(Inbound(db, INTERFACE), "127.0.0.1", 0, max_bytes=65536) as server:
        yield "127.0.0.1", server.sockets[0].getsockname()[1]


async def send(address: tuple[str, int], *messages: str) -> list[hl7.Message]:
    reader, writer = await open_hl7_connection(*address, encoding="utf-8")
    try:
        answers = []
        for message in messages:
            writer.writemessage(hl7.parse(message))
            await writer.drain()
            answers.append(await asyncio.wait_for(reader.readmessage(), 60))
        return answers
    finally:
        writer.close()


def msa(ack: hl7.Message) -> tuple[str, str]:
    return str(ack.extract_field("MSA", field_num=1)), str(ack.extract_field("MSA", field_num=2))


def err(ack: hl7.Message) -> tuple[str, str]:
    """(ERR-2 location, ERR-3 code)."""
    return str(ack.segment("ERR")[2]), str(ack.extract_field("ERR", field_num=3))


async def exams(db: Database) -> list[Exam]:
    return await db.read(lambda s: list(s.scalars(sa.select(Exam))))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_new_order_registers_the_patient_and_places_the_exam_once(
    db: Database, listener: tuple[str, int]
) -> None:
    first, again = await send(listener, orm(), orm())
    assert msa(first) == ("AA", "MSG0001")
    assert str(again) == str(first)  # the re-sent message gets the recorded ACK
    placed = await exams(db)
    assert len(placed) == 1
    exam = placed[0]
    assert (exam.order_source, exam.placer_order_number) == ("EPIC", "P1001")
    assert (exam.priority, exam.patient_class) == (Priority.STAT, PatientClass.ED)
    assert exam.indication == "Head trauma" and exam.icd10_code == "S06.0"
    patient = await db.read(lambda s: s.get(Patient, exam.patient_id))
    assert patient is not None and (patient.mrn, patient.family_name) == ("MRN900001", "Doe")
    history = await db.read(lambda s: list(s.scalars(sa.select(ExamStatusChange.actor))))
    assert history == ["epic.hl7"]
    recorded = await db.read(lambda s: list(s.scalars(sa.select(InboundMessage.control_id))))
    assert recorded == ["MSG0001"]
    # A new message (new control id) for the same placer order is the same order, not a second.
    (third,) = await send(listener, orm(control="MSG0002"))
    assert msa(third) == ("AA", "MSG0002")
    assert len(await exams(db)) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_what_cannot_be_taken_is_answered_ae_naming_where_and_nothing_is_written(
    db: Database, listener: tuple[str, int]
) -> None:
    unknown, no_priority, bad_priority = await send(
        listener,
        orm(control="E1", procedure="NOSUCH"),
        orm(control="E2", placer="P2", with_tq1=False),
        orm(control="E3", placer="P3", priority="X"),
    )
    assert msa(unknown) == ("AE", "E1")
    assert err(unknown) == ("OBR^1^4^1^1", "103")
    assert "NOSUCH" in str(unknown.extract_field("MSA", field_num=3))
    assert msa(no_priority)[0] == "AE" and err(no_priority) == ("TQ1^1^9^1^1", "101")
    assert msa(bad_priority)[0] == "AE" and err(bad_priority) == ("TQ1^1^9^1^1", "103")
    assert await exams(db) == []
    assert await db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(Patient))) == (
        20  # the reference department's, none registered by a refused order
    )
    assert await db.read(lambda s: list(s.scalars(sa.select(InboundMessage.id)))) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_adt_registers_then_updates_a_patient(
    db: Database, listener: tuple[str, int]
) -> None:
    registered, updated = await send(
        listener, adt("A04", "A1"), adt("A08", "A2", family="Roe-Smith")
    )
    assert msa(registered) == ("AA", "A1") and msa(updated) == ("AA", "A2")
    patient = await db.read(
        lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN900777"))
    )
    assert patient is not None and patient.family_name == "Roe-Smith"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_unsupported_messages_are_refused_ar_and_the_connection_keeps_serving(
    db: Database, listener: tuple[str, int]
) -> None:
    result = orm(control="R1").replace("ORM^O01", "ORU^R01")
    discontinue = orm(control="R2").replace("ORC|NW|", "ORC|DC|")
    other_event = adt("A02", "R3")
    refused = await send(listener, result, discontinue, other_event, orm(control="OK1"))
    assert [msa(a)[0] for a in refused] == ["AR", "AR", "AR", "AA"]
    assert err(refused[0])[1] == "200" and err(refused[2])[1] == "201"
    assert len(await exams(db)) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_broken_frames_end_their_connection_only(
    db: Database, listener: tuple[str, int]
) -> None:
    # Not HL7 inside a good frame: AR, and the same connection goes on.
    reader, writer = await asyncio.open_connection(*listener)
    writer.write(b"\x0bhello, this is not hl7\x1c\x0d")
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\x1c\x0d"), 60)
    assert b"MSA|AR|" in answer
    # A frame larger than the listener takes: that connection is closed...
    writer.write(b"\x0b" + b"X" * 70_000 + b"\x1c\x0d")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 60) == b""
    writer.close()
    # ...and a truncated frame from another sender, who then hangs up, writes nothing.
    _, truncated = await asyncio.open_connection(*listener)
    truncated.write(b"\x0b" + orm(control="T1").encode()[:80])
    await truncated.drain()
    truncated.close()
    # Others are still served.
    (ok,) = await send(listener, orm(control="AFTER"))
    assert msa(ok) == ("AA", "AFTER")
    recorded = await db.read(lambda s: list(s.scalars(sa.select(InboundMessage.control_id))))
    assert recorded == ["AFTER"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_order_source_withdraws_its_order_before_the_patient_arrives(
    db: Database, listener: tuple[str, int]
) -> None:
    def cancel(control: str, placer: str = "P1001") -> str:
        return orm(control=control, placer=placer).replace("ORC|NW|", "ORC|CA|")

    placed, withdrawn, again, unknown = await send(
        listener, orm(), cancel("C1"), cancel("C2"), cancel("C3", placer="NOPE")
    )
    assert [msa(a)[0] for a in (placed, withdrawn)] == ["AA", "AA"]
    (exam,) = await exams(db)
    assert exam.status == ExamStatus.CANCELLED
    steps = await db.read(
        lambda s: list(s.execute(sa.select(ExamStatusChange.to_status, ExamStatusChange.actor)))
    )
    assert [tuple(step) for step in steps] == [
        (ExamStatus.ORDERED, "epic.hl7"),
        (ExamStatus.CANCELLED, "epic.hl7"),
    ]
    # Withdrawing it twice under a new control id: the lifecycle refuses, AE says why.
    assert msa(again)[0] == "AE" and err(again)[1] == "207"
    assert msa(unknown)[0] == "AE" and err(unknown) == ("ORC^1^2^1^1", "103")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_slow_sender_is_hung_up_on_after_the_idle_timeout_and_others_are_served(
    db: Database,
) -> None:
    await reference(db)
    inbound = Inbound(db, INTERFACE)
    async with hl7_listener(inbound, "127.0.0.1", 0, idle_seconds=1.0) as server:
        address = ("127.0.0.1", server.sockets[0].getsockname()[1])
        frame = b"\x0b" + orm(control="SLOW1").encode() + b"\x1c\x0d"
        # One sender stops in the middle of a frame and stays connected...
        stalled_reader, stalled = await asyncio.open_connection(*address)
        stalled.write(frame[:120])
        await stalled.drain()
        # ...another trickles a whole frame, a few bytes at a time, slower than the timeout.
        trickling_reader, trickling = await asyncio.open_connection(*address)

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for start in range(0, len(frame), 8):
                    trickling.write(frame[start : start + 8])
                    await trickling.drain()
                    await asyncio.sleep(0.05)  # the sender's pace: 8 bytes every 50 ms

        trickler = asyncio.create_task(trickle())
        # Meanwhile a prompt sender is answered.
        (ok,) = await send(address, orm(control="PROMPT", placer="P2"))
        assert msa(ok) == ("AA", "PROMPT")
        # The listener hangs up on both (end of stream, with nothing answered).
        assert await asyncio.wait_for(stalled_reader.read(), 60) == b""
        assert await asyncio.wait_for(trickling_reader.read(), 60) == b""
        trickler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trickler
        stalled.close()
        trickling.close()
        # Nothing of theirs was written, and the listener still serves.
        (after,) = await send(address, orm(control="AFTER", placer="P3"))
        assert msa(after) == ("AA", "AFTER")
    recorded = await db.read(lambda s: list(s.scalars(sa.select(InboundMessage.control_id))))
    assert sorted(recorded) == ["AFTER", "PROMPT"]
    assert {e.placer_order_number for e in await exams(db)} == {"P2", "P3"}
