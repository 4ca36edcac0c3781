"""HL7 v2 order changes (ORC-1 XO) and patient merges (ADT^A40), over the real MLLP listener."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from domain.db import Database
from domain.enums import ExamStatus, PatientClass, Priority
from domain.models import (
    AuditEvent,
    Exam,
    ExamPrepItem,
    InboundMessage,
    OutboxEvent,
    Patient,
    Procedure,
)
from domain.services import acquisition
from tests.factories import TECH, drive
from tests.interfaces.test_hl7 import err, exams, listener, msa, orm, send

__all__ = ["listener"]  # the fixture, used by name


def xo(control: str, **fields: str) -> str:
    """An XO for order P1001 with some of its fields changed."""
    text = orm(control=control, **fields).replace("ORC|NW|", "ORC|XO|")
    return text


async def outbox_types(db: Database) -> list[str]:
    return await db.read(
        lambda s: list(s.scalars(sa.select(OutboxEvent.type).order_by(OutboxEvent.id)))
    )


async def prep_codes(db: Database, exam_id: int | None) -> list[str]:
    return await db.read(
        lambda s: list(
            s.scalars(
                sa.select(ExamPrepItem.code)
                .where(ExamPrepItem.exam_id == exam_id)
                .order_by(ExamPrepItem.position)
            )
        )
    )


async def audit_operations(db: Database) -> list[tuple[str, str]]:
    return await db.read(
        lambda s: [
            (str(row[0]), str(row[1]))
            for row in s.execute(
                sa.select(AuditEvent.operation, AuditEvent.outcome).order_by(AuditEvent.id)
            )
        ]
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_change_applies_the_fields_that_differ_once_and_is_audited(
    db: Database, listener: tuple[str, int]
) -> None:
    changed = (
        xo("X1", priority="R")
        .replace("PV1|1|E", "PV1|1|I")
        .replace("S06.0^Concussion", "S06.5^Subdural")
        .replace("^Head trauma", "^Fall from ladder")
        .replace("CTHEAD^CT head", "CTHEADSTROKE^CT stroke")
    )
    placed, first, again = await send(listener, orm(), changed, changed)
    assert [msa(a) for a in (placed, first)] == [("AA", "MSG0001"), ("AA", "X1")]
    assert str(again) == str(first)
    (exam,) = await exams(db)
    procedure = await db.read(lambda s: s.get(Procedure, exam.procedure_id))
    assert procedure is not None and procedure.code == "CTHEADSTROKE"
    assert (exam.priority, exam.patient_class) == (Priority.ROUTINE, PatientClass.INPATIENT)
    assert (exam.indication, exam.icd10_code) == ("Fall from ladder", "S06.5")
    assert exam.status == ExamStatus.ORDERED and exam.version == 2
    # The stroke protocol's contrast prep replaced the plain head CT's (none).
    assert await prep_codes(db, exam.id) == ["ALLERGY_CHECK", "EGFR_CHECK", "PREGNANCY_CHECK"]
    # X2 sends the order as first placed: a change back, one more event.
    (same,) = await send(listener, xo("X2"))
    assert msa(same) == ("AA", "X2")
    assert (await outbox_types(db)).count("OrderChanged") == 2
    payload = await db.read(
        lambda s: s.scalars(
            sa.select(OutboxEvent.payload).where(OutboxEvent.type == "OrderChanged")
        ).first()
    )
    assert payload is not None and "priority: STAT -> ROUTINE" in payload["changes"]
    assert "procedure_code: CTHEAD -> CTHEADSTROKE" in payload["changes"]
    assert await prep_codes(db, exam.id) == []
    (unchanged,) = await send(listener, xo("X3"))
    assert msa(unchanged) == ("AA", "X3")
    assert (await outbox_types(db)).count("OrderChanged") == 2  # nothing differed
    records = await db.read(
        lambda s: list(
            s.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.operation == "HL7 ORM^O01 X1 from EPIC^RIVERSIDE")
                .order_by(AuditEvent.id)
            )
        )
    )
    # The change's record names the exam and patient; the re-send's, answered from the
    # recorded ACK, touched neither.
    assert [(r.outcome, r.exam_ids, r.patient_mrns) for r in records] == [
        ("SUCCESS", [exam.id], ["MRN900001"]),
        ("SUCCESS", [], []),
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_change_no_longer_allowed_is_refused_naming_the_field_and_nothing_changes(
    db: Database, listener: tuple[str, int]
) -> None:
    placed = await send(
        listener, orm(procedure="USABD"), orm(control="MSG0002", placer="P2", procedure="USABD")
    )
    assert [msa(a)[0] for a in placed] == ["AA", "AA"]
    first, second = await exams(db)
    await drive(db, first, ExamStatus.SCHEDULED, procedure="USABD")
    # Scheduled: the procedure is fixed now, the priority may still change.
    procedure, priority = await send(
        listener,
        xo("L1", procedure="CTHEAD", priority="S"),
        xo("L2", procedure="USABD", priority="A"),
    )
    assert msa(procedure)[0] == "AE" and err(procedure) == ("OBR^1^4^1^1", "207")
    assert "SCHEDULED" in str(procedure.extract_field("MSA", field_num=3))
    assert msa(priority)[0] == "AA"
    assert (await exams(db))[0].priority == Priority.URGENT
    # Once the read is open, nothing of the order changes any more.
    before = await drive(db, second, ExamStatus.IN_INTERPRETATION, procedure="USABD")
    (late,) = await send(listener, xo("L3", placer="P2", procedure="USABD", priority="A"))
    assert msa(late)[0] == "AE" and err(late) == ("TQ1^1^9^1^1", "207")
    after = (await exams(db))[1]
    assert (after.priority, after.version) == (Priority.STAT, before.version)
    recorded = await db.read(lambda s: list(s.scalars(sa.select(InboundMessage.control_id))))
    assert "L1" not in recorded and "L3" not in recorded
    failures = [o for o in await audit_operations(db) if o[1] == "FAILURE"]
    assert [o[0].split()[2] for o in failures] == ["L1", "L3"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_change_to_another_patient_or_an_unknown_order_is_refused(
    db: Database, listener: tuple[str, int]
) -> None:
    await send(listener, orm())
    other, unknown, bad_code = await send(
        listener,
        xo("W1", mrn="MRN900002"),
        xo("W2", placer="NOPE"),
        xo("W3").replace("S06.0^Concussion", "head^Concussion"),
    )
    assert msa(other)[0] == "AE" and err(other) == ("PID^1^3^1^1", "207")
    assert msa(unknown)[0] == "AE" and err(unknown) == ("ORC^1^2^1^1", "103")
    assert msa(bad_code)[0] == "AE" and err(bad_code) == ("DG1^1^3^1^1", "102")
    assert "OrderChanged" not in await outbox_types(db)


def a40(control: str, surviving: str, prior: str, *, demographics: bool = True) -> str:
    pid = (
        f"PID|1||{surviving}^^^RIV^MR||Doe^Jane||19700101|F"
        if demographics
        else f"PID|1||{surviving}^^^RIV^MR"
    )
    return "\r".join(
        [
            f"MSH|^~\\&|EPIC|RIVERSIDE|RADFLOW|MAIN|20261204120000||ADT^A40^ADT_A39|{control}|P|2.5.1",
            "EVN|A40|20261204120000",
            pid,
            f"MRG|{prior}^^^RIV^MR",
        ]
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_merge_moves_the_prior_patients_exams_to_the_surviving_mrn(
    db: Database, listener: tuple[str, int]
) -> None:
    answers = await send(
        listener,
        orm(control="O1", placer="P1", mrn="MRNTEMP01"),
        orm(control="O2", placer="P2", mrn="MRNTEMP01"),
        orm(control="O3", placer="P3", mrn="MRN900001"),
        a40("M1", "MRN900001", "MRNTEMP01"),
        a40("M1", "MRN900001", "MRNTEMP01"),
        a40("M2", "MRN900001", "MRNTEMP01"),
    )
    assert [msa(a)[0] for a in answers] == ["AA", "AA", "AA", "AA", "AA", "AE"]
    assert str(answers[4]) == str(answers[3])  # a re-send: the same ACK, nothing again
    assert err(answers[5]) == ("MRG^1^1^1^1", "103")  # the prior record is retired
    patients = await db.read(
        lambda s: set(
            s.scalars(sa.select(Patient.mrn).where(Patient.mrn.in_(["MRN900001", "MRNTEMP01"])))
        )
    )
    assert "MRNTEMP01" not in patients and "MRN900001" in patients
    survivor = await db.read(
        lambda s: s.scalars(sa.select(Patient.id).where(Patient.mrn == "MRN900001")).one()
    )
    placed = await exams(db)
    assert len(placed) == 3 and {e.patient_id for e in placed} == {survivor}
    merged = await db.read(
        lambda s: list(
            s.scalars(sa.select(OutboxEvent.payload).where(OutboxEvent.type == "PatientsMerged"))
        )
    )
    assert len(merged) == 1
    assert (merged[0]["surviving_mrn"], merged[0]["prior_mrn"]) == ("MRN900001", "MRNTEMP01")
    assert len(merged[0]["exam_ids"]) == 2
    record = await db.read(  # the first M1's (the re-send's record lists nobody)
        lambda s: s.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.operation.like("HL7 ADT^A40 M1 %"))
            .order_by(AuditEvent.id)
        ).first()
    )
    assert record is not None
    assert {"MRN900001", "MRNTEMP01"} <= set(record.patient_mrns)
    assert len(record.exam_ids) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_merge_naming_no_known_patient_or_itself_is_refused(
    db: Database, listener: tuple[str, int]
) -> None:
    unknown_prior, unknown_survivor, itself, no_mrg = await send(
        listener,
        a40("N1", "MRN000001", "MRNNOBODY"),
        a40("N2", "MRNNOBODY", "MRN000001", demographics=False),
        a40("N3", "MRN000001", "MRN000001"),
        a40("N4", "MRN000001", "").replace("\rMRG|^^^RIV^MR", ""),
    )
    assert msa(unknown_prior)[0] == "AE" and err(unknown_prior) == ("MRG^1^1^1^1", "103")
    assert msa(unknown_survivor)[0] == "AE" and err(unknown_survivor) == ("PID^1^3^1^1", "103")
    assert msa(itself)[0] == "AE" and err(itself) == ("MRG^1^1^1^1", "102")
    assert msa(no_mrg)[0] == "AE" and err(no_mrg) == ("MRG^1^1^1^1", "101")
    count = await db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(Patient)))
    assert count == 20
    assert "PatientsMerged" not in await outbox_types(db)
    placed: list[Exam] = await exams(db)
    assert placed == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_procedure_stays_once_its_prep_has_begun(
    db: Database, listener: tuple[str, int]
) -> None:
    (placed,) = await send(listener, orm(procedure="CTHEADSTROKE"))
    assert msa(placed)[0] == "AA"
    (exam,) = await exams(db)
    assert exam.id is not None
    pk = exam.id
    await db.run(
        lambda uow: acquisition.complete_prep_item(
            uow=uow, actor=TECH, exam_id=pk, item_code="ALLERGY_CHECK"
        )
    )
    (refused,) = await send(listener, xo("PR1", procedure="CTHEAD"))
    assert msa(refused)[0] == "AE" and err(refused) == ("OBR^1^4^1^1", "207")
    assert "prep has begun" in str(refused.extract_field("MSA", field_num=3))
    assert await prep_codes(db, pk) == ["ALLERGY_CHECK", "EGFR_CHECK", "PREGNANCY_CHECK"]
    assert (await exams(db))[0].version == exam.version
