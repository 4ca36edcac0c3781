"""The scanners' side over real DICOM associations: dcmtk's findscu asks for the worklist, the
pynetdicom SCU reports procedure steps (MPPS), and the exams move through the real commands."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.dsutils import decode, encode
from pynetdicom.events import Event
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
)

from bench._net import free_port
from domain.db import Database
from domain.enums import ExamStatus, Priority, RepeatReason, Role
from domain.models import (
    Acquisition,
    Appointment,
    AuditEvent,
    Exam,
    ExamStatusChange,
    Patient,
    PerformedProcedureStep,
)
from domain.services import acquisition
from interfaces.dicom.server import dicom_listener
from interfaces.dicom.uids import exam_of, study_instance_uid
from interfaces.dicom.worklist import (
    Encoding,
    WorklistEntry,
    WorklistQuery,
    answer,
    answers,
    entry_values,
    find_entries,
    find_station,
    parse_dates,
    parse_times,
    shape_of,
)
from tests.conftest import REQUIRE_SERVICES
from tests.factories import TECH, current, drive, order, reference

ROOT = "2.25.1234567890"
Address = tuple[str, int]


def need_dcmtk() -> None:
    if shutil.which("findscu") is None:
        message = "dcmtk is not installed (findscu): apt-get install dcmtk"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (RADFLOW_REQUIRE_SERVICES=1 forbids skipping)")
        pytest.skip(message)


@pytest.fixture
async def scp(db: Database) -> AsyncIterator[Address]:
    await reference(db)
    async with dicom_listener(db, "127.0.0.1", 0, ae_title="RADFLOW", uid_root=ROOT) as server:
        yield "127.0.0.1", server.server_address[1]


def findscu(
    address: Address, caller: str, keys: list[str], out: Path, *, debug: bool = False
) -> tuple[int, str]:
    """Run dcmtk's findscu (worklist model) and keep each response in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        "findscu",
        "-d" if debug else "-v",
        "-W",
        "-aet",
        caller,
        "-aec",
        "RADFLOW",
        "-X",
        "-od",
        str(out),
    ]
    for key in keys:
        command += ["-k", key]
    done = subprocess.run(
        [*command, address[0], str(address[1])], capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout + done.stderr


async def worklist(address: Address, caller: str, keys: list[str], out: Path) -> list[Dataset]:
    code, log = await asyncio.to_thread(findscu, address, caller, keys, out)
    assert code == 0, log
    return await asyncio.to_thread(lambda: [dcmread(p) for p in sorted(out.glob("rsp*.dcm"))])


WANTED = [
    "AccessionNumber",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyInstanceUID",
    "RequestedProcedureDescription",
    "RequestedProcedureCodeSequence[0].CodeValue",
    "ScheduledProcedureStepSequence[0].Modality",
    "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260302",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus",
]


async def main_ct_heads(db: Database) -> list[Exam]:
    """Two CT heads booked on MAIN's CT1 today, one scheduled and one checked in: what its
    worklist lists."""
    return [
        await drive(db, await order(db, procedure="CTHEAD", site="MAIN"), s, procedure="CTHEAD")
        for s in (ExamStatus.SCHEDULED, ExamStatus.CHECKED_IN)
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_findscu_gets_the_scheduled_exams_of_its_station_with_stable_study_uids(
    db: Database, scp: Address, tmp_path: Path
) -> None:
    need_dcmtk()
    heads = await main_ct_heads(db)
    await drive(db, await order(db, procedure="USABD"), ExamStatus.SCHEDULED)  # NORTH's US1
    await drive(
        db,
        await order(db, procedure="CTHEAD", site="MAIN"),
        ExamStatus.CANCELLED,
        procedure="CTHEAD",
    )
    patient = await db.read(
        lambda s: s.scalar(sa.select(Patient).where(Patient.mrn == "MRN000001"))
    )
    assert patient is not None

    found = await worklist(
        scp,
        "MAIN_CT1",
        [
            *WANTED,
            f"PatientName={patient.family_name[:3].upper()}*",
            "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=MAIN_CT1",
        ],
        tmp_path / "first",
    )
    assert sorted(r.AccessionNumber for r in found) == sorted(e.accession_number for e in heads)
    first = found[0]
    assert first.PatientID == "MRN000001"
    assert str(first.PatientName) == f"{patient.family_name}^{patient.given_name}"
    assert first.PatientBirthDate == patient.birth_date.strftime("%Y%m%d")
    assert first.RequestedProcedureCodeSequence[0].CodeValue == "CTHEAD"
    step = first.ScheduledProcedureStepSequence[0]
    assert (step.Modality, step.ScheduledStationAETitle) == ("CT", "MAIN_CT1")
    assert step.ScheduledProcedureStepStartDate == "20260302"
    assert {r.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus for r in found} == {
        "SCHEDULED",
        "ARRIVED",
    }
    assert "ReferringPhysicianName" not in first  # only the keys asked for come back
    uids = {r.AccessionNumber: r.StudyInstanceUID for r in found}
    for exam in heads:
        assert exam_of(ROOT, uids[exam.accession_number]) == exam.id

    # A start time range (site time; the same hours of each day asked for): up to the earliest
    # step's start, those starting then; from a second after the latest one's, none.
    starts = {
        r.AccessionNumber: r.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime
        for r in found
    }
    earliest, latest = min(starts.values()), max(starts.values())
    time_key = "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime"
    early = await worklist(
        scp, "MAIN_CT1", ["AccessionNumber", f"{time_key}=-{earliest}"], tmp_path / "early"
    )
    assert sorted(r.AccessionNumber for r in early) == sorted(
        a for a, t in starts.items() if t == earliest
    )
    later = (datetime.strptime(latest, "%H%M%S") + timedelta(seconds=1)).strftime("%H%M%S")
    assert (
        await worklist(
            scp, "MAIN_CT1", ["AccessionNumber", f"{time_key}={later}-"], tmp_path / "late"
        )
        == []
    )

    # Asked again, by accession: the same UID; another day, another station or modality: none.
    again = await worklist(
        scp,
        "MAIN_CT1",
        [f"AccessionNumber={heads[0].accession_number}", "StudyInstanceUID"],
        tmp_path / "again",
    )
    assert [r.StudyInstanceUID for r in again] == [study_instance_uid(ROOT, heads[0].id or 0)]
    for n, keys in enumerate(
        [
            [
                "AccessionNumber",
                "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260303-",
            ],
            [
                "AccessionNumber",
                "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=MAIN_MR1",
            ],
            ["AccessionNumber", "ScheduledProcedureStepSequence[0].Modality=MR"],
            ["AccessionNumber", "PatientID=MRN00000?9"],
        ]
    ):
        assert await worklist(scp, "MAIN_CT1", keys, tmp_path / f"none{n}") == []
    # NORTH's ultrasound sees its own site's exam only.
    north = await worklist(scp, "NORTH_US1", ["AccessionNumber", "PatientID=MRN*"], tmp_path / "n")
    assert len(north) == 1
    audited = await db.read(lambda s: list(s.scalars(sa.select(AuditEvent.user_id))))
    assert "MAIN_CT1" in audited and "NORTH_US1" in audited


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_unknown_station_or_a_bad_date_range_gets_a_failure_status(
    db: Database, scp: Address, tmp_path: Path
) -> None:
    need_dcmtk()
    await drive(
        db,
        await order(db, procedure="CTHEAD", site="MAIN"),
        ExamStatus.SCHEDULED,
        procedure="CTHEAD",
    )
    _, log = await asyncio.to_thread(
        findscu, scp, "INTRUDER", ["AccessionNumber", "PatientName"], tmp_path / "x", debug=True
    )
    assert "0xc001: Failed: Unable to process" in log and not list((tmp_path / "x").glob("rsp*"))
    assert "AE title INTRUDER is no known scanner" in log
    _, log = await asyncio.to_thread(
        findscu,
        scp,
        "MAIN_CT1",
        [
            "AccessionNumber",
            "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=2026-03",
        ],
        tmp_path / "y",
        debug=True,
    )
    assert "DIMSE Status                  : 0xa900" in log, log
    assert "is not YYYYMMDD" in log
    _, log = await asyncio.to_thread(
        findscu,
        scp,
        "MAIN_CT1",
        [
            "AccessionNumber",
            "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime=1100-0900",
        ],
        tmp_path / "z",
        debug=True,
    )
    assert "DIMSE Status                  : 0xa900" in log, log
    assert "ends before it begins" in log


def pynetdicom_worklist(
    address: Address, caller: str, largest_pdu: int
) -> tuple[list[Dataset], list[int]]:
    """The answers to one C-FIND from a pynetdicom SCU accepting PDUs up to `largest_pdu`
    bytes, over two C-FINDs on one association (the second's answers are the ones kept), and
    the length of each P-DATA-TF PDU received."""
    lengths: list[int] = []

    def received(event: Event) -> None:
        if event.data[:1] == b"\x04":  # P-DATA-TF: its length, less its 6-byte header
            lengths.append(len(event.data) - 6)

    ae = AE(ae_title=caller)
    ae.add_requested_context(ModalityWorklistInformationFind)
    query = Dataset()
    query.AccessionNumber, query.PatientName, query.StudyInstanceUID = "", "", ""
    step = Dataset()
    step.Modality, step.ScheduledProcedureStepDescription = "", ""
    query.ScheduledProcedureStepSequence = DicomSequence([step])
    assoc = ae.associate(
        address[0],
        address[1],
        ae_title="RADFLOW",
        max_pdu=largest_pdu,
        evt_handlers=[(evt.EVT_DATA_RECV, received)],
    )
    assert assoc.is_established
    try:
        for _ in range(2):
            found = []
            for status, identifier in assoc.send_c_find(query, ModalityWorklistInformationFind):
                assert status is not None and status.Status in (0x0000, 0xFF00)
                if identifier is not None:
                    found.append(identifier)
            assert status.Status == 0x0000
    finally:
        assoc.release()
    return found, lengths


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_pynetdicom_scanner_gets_the_same_answers_whole_or_in_small_pdus(
    db: Database, scp: Address
) -> None:
    heads = [
        await drive(db, await order(db, procedure="CTHEAD", site="MAIN"), s, procedure="CTHEAD")
        for s in (ExamStatus.SCHEDULED, ExamStatus.CHECKED_IN, ExamStatus.SCHEDULED)
    ]
    whole, lengths = await asyncio.to_thread(pynetdicom_worklist, scp, "MAIN_CT1", 16382)
    # 200 bytes: an answer does not fit one PDU, so each is sent in fragments that do.
    fragmented, small = await asyncio.to_thread(pynetdicom_worklist, scp, "MAIN_CT1", 200)
    assert max(small) <= 200 < max(lengths)
    assert len(small) > len(lengths)
    assert sorted(r.AccessionNumber for r in whole) == sorted(e.accession_number for e in heads)
    assert [r.to_json() for r in fragmented] == [r.to_json() for r in whole]
    first = whole[0]
    assert first.SpecificCharacterSet == "ISO_IR 192"
    assert first.StudyInstanceUID.startswith(ROOT + ".")
    assert first.ScheduledProcedureStepSequence[0].Modality == "CT"
    assert first.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_listeners_sharing_a_port_each_answer_and_an_unshared_port_stays_its_own(
    db: Database,
) -> None:
    """`RADFLOW_DICOM_WORKERS`: processes serve one port (SO_REUSEPORT), the kernel handing
    each association to one of them. Here two listeners in one process: both take the port,
    each answers whole while the other is gone, and a listener not sharing is refused it."""
    await reference(db)
    expected = sorted(e.accession_number for e in await main_ct_heads(db))
    port = free_port()

    def listener(shared: bool) -> Any:
        return dicom_listener(
            db, "127.0.0.1", port, ae_title="RADFLOW", uid_root=ROOT, shared_port=shared
        )

    async def asked() -> list[str]:
        found, _ = await asyncio.to_thread(pynetdicom_worklist, ("127.0.0.1", port), "MAIN_CT1", 0)
        return sorted(r.AccessionNumber for r in found)

    async with listener(True):
        async with listener(True):
            for _ in range(6):  # associations spread over both by the kernel
                assert await asked() == expected
        assert await asked() == expected  # the second gone, the first still answers
        with pytest.raises(OSError):
            async with listener(False):
                pass
    async with listener(True):  # the first gone too: a new one takes the port alone
        assert await asked() == expected


PROC_TCP = Path("/proc/net/tcp")
REPOSITORY = Path(__file__).resolve().parents[2]


def listening(port: int) -> int:
    """How many sockets listen on the TCP port (Linux: /proc/net/tcp, state 0A)."""
    rows = PROC_TCP.read_text().splitlines()[1:]
    return sum(
        1
        for row in rows
        if (fields := row.split())[3] == "0A" and int(fields[1].split(":")[1], 16) == port
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_radflow_dicom_serves_its_port_from_its_worker_processes_and_ends_them(
    db: Database, tmp_path: Path
) -> None:
    if not PROC_TCP.exists():  # noqa: ASYNC240 (procfs: no disk)
        pytest.skip("counting listening sockets reads Linux's /proc/net/tcp")
    await reference(db)
    expected = sorted(e.accession_number for e in await main_ct_heads(db))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADFLOW_")}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'radflow.db'}",  # the `db` fixture's file
        "RADFLOW_DICOM_PORT": str(port),
        "RADFLOW_DICOM_WORKERS": "2",
        "RADFLOW_DICOM_UID_ROOT": ROOT,
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api.cli", "dicom"),
        cwd=REPOSITORY,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(120):  # a hang guard only
            while listening(port) < 2:
                assert process.returncode is None, "radflow dicom ended early"
                await asyncio.sleep(0.05)
        assert listening(port) == 2  # the two processes, each on the shared port
        for _ in range(4):
            found, _ = await asyncio.to_thread(
                pynetdicom_worklist, ("127.0.0.1", port), "MAIN_CT1", 0
            )
            assert sorted(r.AccessionNumber for r in found) == expected
        process.send_signal(signal.SIGTERM)  # as a container's stop
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()
        async with asyncio.timeout(60):
            while listening(port):  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # the worker ended with it, none left serving
    finally:
        if process.returncode is None:
            process.kill()


# -- MPPS with the pynetdicom SCU ---------------------------------------------------------------


def mpps(address: Address, caller: str, request: str, uid: str, ds: Dataset) -> Dataset:
    """One N-CREATE or N-SET over a new association; the response status dataset."""
    ae = AE(ae_title=caller)
    ae.add_requested_context(ModalityPerformedProcedureStep)
    assoc = ae.associate(address[0], address[1], ae_title="RADFLOW")
    assert assoc.is_established
    try:
        if request == "create":
            status, _ = assoc.send_n_create(ds, ModalityPerformedProcedureStep, uid)
        else:
            status, _ = assoc.send_n_set(ds, ModalityPerformedProcedureStep, uid)
    finally:
        assoc.release()
    assert status is not None and "Status" in status
    return status


def in_progress(accession: str) -> Dataset:
    ds = Dataset()
    scheduled = Dataset()
    scheduled.AccessionNumber = accession
    scheduled.StudyInstanceUID = f"{ROOT}.1"
    ds.ScheduledStepAttributesSequence = DicomSequence([scheduled])
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.PerformedStationAETitle = "NORTH_US1"
    ds.Modality = "US"
    return ds


def completed(series: int, images_each: int) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "COMPLETED"
    items = []
    for _ in range(series):
        item = Dataset()
        item.SeriesInstanceUID = generate_uid()
        refs = []
        for _ in range(images_each):
            image = Dataset()
            image.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
            image.ReferencedSOPInstanceUID = generate_uid()
            refs.append(image)
        item.ReferencedImageSequence = DicomSequence(refs)
        items.append(item)
    ds.PerformedSeriesSequence = DicomSequence(items)
    return ds


def discontinued(code: str, meaning: str) -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "DISCONTINUED"
    reason = Dataset()
    reason.CodeValue, reason.CodingSchemeDesignator, reason.CodeMeaning = code, "DCM", meaning
    ds.PerformedProcedureStepDiscontinuationReasonCodeSequence = DicomSequence([reason])
    return ds


async def send(
    address: Address, request: str, uid: str, ds: Dataset, caller: str = "NORTH_US1"
) -> Dataset:
    return await asyncio.to_thread(mpps, address, caller, request, uid, ds)


async def prep(db: Database, exam: Exam) -> None:
    items = await db.read(
        lambda s: list(
            s.scalars(
                sa.text("SELECT code FROM exam_prep_items WHERE exam_id = :e").bindparams(e=exam.id)
            )
        )
    )
    for code in items:
        await db.run(
            lambda uow, c=code: acquisition.complete_prep_item(
                uow=uow, actor=TECH, exam_id=exam.id, item_code=c
            )
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_mpps_starts_behind_the_prep_gate_and_completes_with_the_counts(
    db: Database, scp: Address
) -> None:
    exam = await drive(db, await order(db), ExamStatus.CHECKED_IN)  # USABD: fasting prep
    step = generate_uid()
    refused = await send(scp, "create", step, in_progress(exam.accession_number))
    assert refused.Status == 0x0110
    assert "prep checklist" in refused.ErrorComment
    assert (await current(db, exam.id or 0)).status == ExamStatus.CHECKED_IN

    await prep(db, exam)
    assert (await send(scp, "create", step, in_progress(exam.accession_number))).Status == 0
    assert (await current(db, exam.id or 0)).status == ExamStatus.IN_ACQUISITION
    again = await send(scp, "create", step, in_progress(exam.accession_number))
    assert again.Status == 0x0111  # the same step twice
    wrong_site = await send(
        scp, "create", generate_uid(), in_progress(exam.accession_number), caller="MAIN_CT1"
    )
    assert wrong_site.Status == 0x0110 and "at this site" in wrong_site.ErrorComment

    assert (await send(scp, "set", step, completed(series=2, images_each=3))).Status == 0
    done = await current(db, exam.id or 0)
    assert done.status == ExamStatus.ACQUIRED
    attempt = await db.read(lambda s: s.scalars(sa.select(Acquisition)).one())
    assert (attempt.series_count, attempt.image_count) == (2, 6)
    history = await db.read(
        lambda s: list(
            s.execute(
                sa.select(ExamStatusChange.to_status, ExamStatusChange.actor, ExamStatusChange.role)
                .where(ExamStatusChange.exam_id == exam.id)
                .order_by(ExamStatusChange.id)
            )
        )
    )
    assert [tuple(h) for h in history[-2:]] == [
        (ExamStatus.IN_ACQUISITION, "NORTH_US1", Role.TECHNOLOGIST),
        (ExamStatus.ACQUIRED, "NORTH_US1", Role.TECHNOLOGIST),
    ]
    late = await send(scp, "set", step, completed(series=1, images_each=1))
    assert late.Status == 0xA710
    assert (await send(scp, "set", generate_uid(), completed(1, 1))).Status == 0x0112


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_discontinued_steps_repeat_or_cancel_as_their_reason_says(
    db: Database, scp: Address
) -> None:
    exam = await drive(db, await order(db), ExamStatus.PREPARED)
    first = generate_uid()
    assert (await send(scp, "create", first, in_progress(exam.accession_number))).Status == 0
    broke = await send(scp, "set", first, discontinued("110501", "Equipment failure"))
    assert broke.Status == 0
    assert (await current(db, exam.id or 0)).status == ExamStatus.IN_ACQUISITION
    second = generate_uid()  # the scanner starts over: the repeat's attempt
    assert (await send(scp, "create", second, in_progress(exam.accession_number))).Status == 0
    assert (await send(scp, "set", second, completed(1, 4))).Status == 0
    attempts = await db.read(
        lambda s: list(s.scalars(sa.select(Acquisition).order_by(Acquisition.attempt)))
    )
    assert [(a.repeat_reason, a.image_count) for a in attempts] == [
        (RepeatReason.EQUIPMENT, None),
        (None, 4),
    ]
    assert (await current(db, exam.id or 0)).status == ExamStatus.ACQUIRED

    other = await drive(db, await order(db), ExamStatus.PREPARED)
    step = generate_uid()
    assert (await send(scp, "create", step, in_progress(other.accession_number))).Status == 0
    refused = discontinued("110505", "Patient refused to continue procedure")
    assert (await send(scp, "set", step, refused)).Status == 0
    assert (await current(db, other.id or 0)).status == ExamStatus.CANCELLED
    steps = await db.read(
        lambda s: list(
            s.scalars(sa.select(PerformedProcedureStep.status).order_by(PerformedProcedureStep.id))
        )
    )
    assert [str(s) for s in steps] == ["DISCONTINUED", "COMPLETED", "DISCONTINUED"]


# -- Answers encoded once, reused while the entry is the same --------------------------------


def test_a_reused_answer_is_the_one_built_afresh_and_a_changed_entry_is_never_stale() -> None:
    entry = WorklistEntry(
        exam_id=7,
        patient_id=3,
        accession="ACC0000007",
        status=ExamStatus.SCHEDULED,
        priority=Priority.ROUTINE,
        mrn="MRN000003",
        family_name="Doe",
        given_name="Jane",
        birth_date=date(1970, 1, 2),
        sex="F",
        referrer="Dr Who",
        procedure_code="CTHEAD",
        procedure_name="CT head without contrast",
        modality="CT",
        station_ae_title="MAIN_CT1",
        station_name="CT1",
        starts=datetime(2026, 3, 2, 9, 15),
    )
    query = Dataset()
    query.PatientName, query.AccessionNumber, query.StudyInstanceUID = "", "", ""
    step = Dataset()
    step.Modality, step.ScheduledProcedureStepStartTime = "", ""
    query.ScheduledProcedureStepSequence = DicomSequence([step])
    for implicit in (True, False):
        encoding = Encoding(implicit_vr=implicit)
        fresh = encode(answer(entry_values(entry, ROOT), shape_of(query)), implicit, True)
        for _ in range(2):  # built, then reused
            assert answers([entry], query, ROOT, encoding) == [fresh]
        decoded = decode(BytesIO(fresh), implicit, True)
        assert str(decoded.PatientName) == "Doe^Jane"
        assert decoded.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime == "091500"
    renamed = replace(entry, family_name="Roe")
    (again,) = answers([renamed], query, ROOT, Encoding(implicit_vr=True))
    assert str(decode(BytesIO(again), True, True).PatientName) == "Roe^Jane"


# -- The read's window: exactly the asked days and hours in the site's zone ----------------

# Bookings at MAIN (New York) around the start of daylight saving time on 2026-03-08 (02:00
# EST becomes 03:00 EDT), and across midnight UTC, by their instant.
AROUND_DST = {
    "sat 23:30": datetime(2026, 3, 8, 4, 30, tzinfo=UTC),
    "sun 00:15": datetime(2026, 3, 8, 5, 15, tzinfo=UTC),
    "sun 01:59": datetime(2026, 3, 8, 6, 59, tzinfo=UTC),
    "sun 03:00": datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    "sun 23:45": datetime(2026, 3, 9, 3, 45, tzinfo=UTC),
    "mon 00:00": datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("dates", "times", "listed"),
    [
        ("20260308", None, {"sun 00:15", "sun 01:59", "sun 03:00", "sun 23:45"}),
        ("20260308", "0200-0300", {"sun 03:00"}),
        ("20260308", "-0159", {"sun 00:15", "sun 01:59"}),
        ("20260308", "2345-", {"sun 23:45"}),
        ("20260307-20260308", "2330-", {"sat 23:30", "sun 23:45"}),
        ("20260308-", "0000-0015", {"sun 00:15", "mon 00:00"}),
        ("-20260307", None, {"sat 23:30"}),
        ("20260309", "-000000", {"mon 00:00"}),
    ],
)
async def test_the_read_lists_exactly_the_asked_days_and_hours_in_the_sites_zone(
    db: Database, dates: str, times: str | None, listed: set[str]
) -> None:
    await reference(db)
    exams = {}
    for name, starts in AROUND_DST.items():
        exam = await drive(
            db,
            await order(db, procedure="CTHEAD", site="MAIN"),
            ExamStatus.SCHEDULED,
            procedure="CTHEAD",
        )
        exams[exam.id] = name

        def book(session: Any, exam_id: int | None = exam.id, starts: datetime = starts) -> None:
            session.execute(
                sa.update(Appointment)
                .where(Appointment.exam_id == exam_id)
                .values(starts_at=starts, ends_at=starts + timedelta(minutes=15))
            )

        await db.run(lambda uow, book=book: book(uow.session))
    first, last = parse_dates(dates)
    since, until = parse_times(times)
    query = WorklistQuery(
        station_ae_title="MAIN_CT1",
        first_day=first,
        last_day=last,
        first_time=since,
        last_time=until,
    )

    def read(session: Any) -> list[WorklistEntry]:
        station = find_station(session, "MAIN_CT1")
        assert station is not None
        return find_entries(session, station, query, limit=100)

    found = await db.read(read)
    assert {exams[e.exam_id] for e in found} == listed
    assert [e.starts for e in found] == sorted(e.starts for e in found if e.starts)
