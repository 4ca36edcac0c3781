"""The imaging side under load: python -m bench.dicom [--cfinds 2000 --exams 5000 --studies 500].

A department of 5,000 scheduled exams, bulk-loaded over the six scanners, each booked every 15
minutes from 07:00 to 19:00 (48 a day) over the coming days. Worklist: 2,000 C-FINDs from 8
scanners at once (`--scanners`), each its own process on one association, against the real SCP
in `--scp-processes` processes sharing its port (4, two per core, as `RADFLOW_DICOM_WORKERS=4`
serves it: this process and three more; the kernel hands each association to one of them). The
scanners are dcmtk's findscu (a C toolkit, as scanners' own are; the default) or pynetdicom
SCUs (`--toolkit pynetdicom`, several times the CPU per C-FIND). Each asks as a scanner
refreshing its worklist does: its own station and modality, one day, and the rest of that day
from the query's moment on (a start time range `HHMMSS-`, the moment walking through the
opening hours); `--whole-day` drops the time range (48 entries each). Every answer is checked
against the bookings (its accession numbers, in order: `cfinds_wrong`). PACS: 500 acquired
exams, a real Orthanc started on free ports (the Debian `orthanc` package), one CT instance per
study (pydicom's test file with the exam's tags; every tenth with a wrong birth date) stored
with pynetdicom's C-STORE, and radflow's follower running as served. Prints, as the LAST line,
{"cfind_p99_ms", "cfind_per_s", "studies", "ready_p99_s", "mismatched_caught", "lost", ...}:
ready = from the end of a study's C-STORE to its exam being ready for reading (or rejected);
lost = studies sent that reached neither within 60 s; cfind_cpu_ms_scp / _scu = CPU
milliseconds per C-FIND in radflow's processes and in the scanners' processes, over the
scanners' run. Without Orthanc the PACS half is skipped and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    CTImageStorage,
    ModalityWorklistInformationFind,
)
from sqlmodel import col

import domain.models as m
from application.demo import seed_reference
from bench._data import create_schema, reset_postgres
from bench._net import free_port
from domain.db import Database
from domain.enums import AppointmentStatus, ExamStatus, PatientClass, Priority
from domain.services.orders import new_accession_number
from interfaces.dicom.pacs import Orthanc, PacsFollowerLoop
from interfaces.dicom.server import dicom_listener, no_delay, quiet_pynetdicom
from interfaces.dicom.uids import study_instance_uid

ROOT = "2.25.1234567890"
START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # midnight at the sites (New York)
OPENS, SLOTS = timedelta(hours=7), 48  # each scanner booked 07:00-19:00, every 15 minutes


def scheduled_department(session: Any, exams: int, studies: int) -> list[tuple[str, str]]:
    """`exams` SCHEDULED exams booked on the scanners, `studies` ACQUIRED ones (with an
    attempt each); returns the scanners' (AE title, modality)."""
    rng = random.Random(3)
    resources = list(session.scalars(sa.select(m.ModalityResource)))
    procedures: dict[str, list[int]] = {}
    for procedure in session.scalars(sa.select(m.Procedure)):
        procedures.setdefault(procedure.modality.value, []).append(procedure.id)
    patients = list(session.scalars(sa.select(col(m.Patient.id))))
    referrer = session.scalar(sa.select(col(m.Referrer.id)))
    rows, bookings = [], []
    for n in range(exams + studies):
        resource = resources[n % len(resources)]
        acquired = n >= exams
        rows.append(
            {
                "accession_number": new_accession_number(),
                "order_source": "BENCH",
                "placer_order_number": f"D{n:08d}",
                "patient_id": rng.choice(patients),
                "referrer_id": referrer,
                "procedure_id": rng.choice(procedures[resource.modality.value]),
                "site_id": resource.site_id,
                "priority": Priority.ROUTINE,
                "patient_class": PatientClass.OUTPATIENT,
                "indication": "Benchmark",
                "icd10_code": "R52",
                "status": ExamStatus.ACQUIRED if acquired else ExamStatus.SCHEDULED,
                "version": 1,
                "ordered_at": START,
                "status_changed_at": START,
            }
        )
        slot = n // len(resources)
        day, within = divmod(slot, SLOTS)
        starts = START + timedelta(days=day) + OPENS + timedelta(minutes=15 * within)
        bookings.append((resource.id, starts))
    session.execute(sa.insert(m.Exam), rows)
    ids = list(session.scalars(sa.select(col(m.Exam.id)).order_by(col(m.Exam.id))))
    session.execute(
        sa.insert(m.Appointment),
        [
            {
                "exam_id": exam_id,
                "resource_id": resource_id,
                "starts_at": starts,
                "ends_at": starts + timedelta(minutes=15),
                "status": AppointmentStatus.BOOKED,
                "booked_at": START,
                "booked_by": "bench",
            }
            for exam_id, (resource_id, starts) in zip(ids[:exams], bookings, strict=False)
        ],
    )
    if studies:
        session.execute(
            sa.insert(m.Acquisition),
            [
                {
                    "exam_id": exam_id,
                    "attempt": 1,
                    "resource_id": bookings[exams + i][0],
                    "technologist": "bench",
                    "started_at": START,
                    "ended_at": START,
                    "series_count": 1,
                    "image_count": 1,
                }
                for i, exam_id in enumerate(ids[exams:])
            ],
        )
    return [(r.ae_title or "", r.modality.value) for r in resources]


# One C-FIND as a scanner asks it: its scheduled day (YYYYMMDD) and start time range.
Ask = tuple[str, str]
# What one scanner got: each C-FIND's accession numbers, its milliseconds (request sent to final
# status) and the CPU seconds the scanner spent.
Asked = tuple[list[list[str]], list[float], float]


def asks(queries: int, days: int, whole_day: bool) -> list[Ask]:
    """A scanner's worklist refreshes: one day each, and (unless `whole_day`) the rest of that
    day from the query's moment on, the moment walking through the opening hours. The exams
    done earlier in the day have left the worklist in a real department (no longer
    scheduled), which this bench's department of only scheduled exams stands in for with the
    start time range; a scanner querying by time window asks the same."""
    out = []
    for n in range(queries):
        day = START + timedelta(days=n % days)
        moment = (datetime.min + OPENS + timedelta(minutes=15 * (n * 7 % SLOTS))).time()
        out.append((day.strftime("%Y%m%d"), "" if whole_day else f"{moment:%H%M%S}-"))
    return out


def identifier(caller: str, modality: str, ask: Ask) -> Dataset:
    """The C-FIND identifier of one refresh: its own station and modality, the day and time."""
    query = Dataset()
    query.PatientName, query.PatientID, query.AccessionNumber = "", "", ""
    query.StudyInstanceUID = ""
    step = Dataset()
    step.Modality, step.ScheduledStationAETitle = modality, caller
    step.ScheduledProcedureStepStartDate, step.ScheduledProcedureStepStartTime = ask
    query.ScheduledProcedureStepSequence = DicomSequence([step])
    return query


# findscu's log, each line stamped with the epoch second, milliseconds and microseconds.
DCMTK_LOG = """log4cplus.rootLogger = INFO, console
log4cplus.appender.console = log4cplus::ConsoleAppender
log4cplus.appender.console.layout = log4cplus::PatternLayout
log4cplus.appender.console.layout.ConversionPattern = %D{%s.%Q} %m%n
"""
ACCESSION = "(0008,0050) SH ["  # a response's Accession Number (the request's has no value)


def findscu(
    address: tuple[str, int], caller: str, modality: str, plan: list[Ask], folder: Path
) -> list[str]:
    """The command of one scanner as dcmtk's findscu (a C toolkit, as scanners' own are): all
    its C-FINDs over one association, their identifiers written to `folder` beforehand."""
    files = []
    for n, ask in enumerate(plan):
        path = folder / f"q{n:05d}.dcm"
        identifier(caller, modality, ask).save_as(path, implicit_vr=False, little_endian=True)
        files.append(str(path))
    (folder / "log.cfg").write_text(DCMTK_LOG)
    command = ["findscu", "-W", "-aet", caller, "-aec", "RADFLOW", "-lc", str(folder / "log.cfg")]
    return [*command, address[0], str(address[1]), *files]


def findscu_answers(log: str) -> tuple[list[list[str]], list[float]]:
    """Each C-FIND's accession numbers and milliseconds (request sent to final status) from
    findscu's time-stamped log."""
    found: list[list[str]] = []
    latencies: list[float] = []
    sent = 0.0
    for line in log.splitlines():
        stamp, _, message = line.partition(" ")
        if message.startswith("Sending Find Request"):
            second, milli, micro = stamp.split(".")
            sent = int(second) + int(milli) / 1e3 + int(micro) / 1e6
            found.append([])
        elif message.startswith(ACCESSION):
            found[-1].append(message[len(ACCESSION) :].partition("]")[0].strip())
        elif message.startswith("Received Final Find Response"):
            assert message.endswith("(Success)"), message
            second, milli, micro = stamp.split(".")
            latencies.append((int(second) + int(milli) / 1e3 + int(micro) / 1e6 - sent) * 1000)
    return found, latencies


def scp_process(url: str, port: int, ready: Any, stop: Any) -> None:
    """One more of radflow's SCP processes on the shared port, on the bench's database, until
    `stop` is set (as a `RADFLOW_DICOM_WORKERS` process of `radflow dicom`)."""

    async def serve() -> None:
        db = Database(url)
        try:
            async with dicom_listener(db, "127.0.0.1", port, uid_root=ROOT, shared_port=True):
                ready.set()
                await asyncio.to_thread(stop.wait)
        finally:
            await db.dispose()

    asyncio.run(serve())


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far (Linux: /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (the 14th and 15th fields)
    return total / ticks


async def dcmtk_scanners(
    address: tuple[str, int],
    callers: list[tuple[str, str]],
    plans: list[list[Ask]],
    folder: Path,
    scps: list[int],
) -> tuple[list[Asked], float, float]:
    """The scanners as findscu processes, all at once: what each got, the seconds from the
    first start to the last one's end, and the CPU seconds of radflow's processes (this one
    and `scps`) meanwhile. Each scanner's query files are written before the clock starts, and
    its log goes to a file read afterwards (nothing of the scanners' runs in radflow's)."""
    commands, logs = [], []
    for n, ((caller, modality), plan) in enumerate(zip(callers, plans, strict=True)):
        (folder / f"scanner{n}").mkdir()
        commands.append(findscu(address, caller, modality, plan, folder / f"scanner{n}"))
        logs.append(folder / f"scanner{n}" / "findscu.log")
    # dcmtk leaves Nagle's algorithm on unless told: each request's identifier PDU would wait
    # for radflow's delayed ACK of its command PDU, about 40 ms a C-FIND.
    env = {**os.environ, "TCP_NODELAY": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, radflow = time.perf_counter(), time.process_time() + cpu_seconds(scps)
    processes = []
    for command, log in zip(commands, logs, strict=True):
        with log.open("wb") as output:
            processes.append(
                await asyncio.create_subprocess_exec(
                    *command, stdout=output, stderr=asyncio.subprocess.STDOUT, env=env
                )
            )
    codes = await asyncio.gather(*(p.wait() for p in processes))
    elapsed = time.perf_counter() - started
    radflow = time.process_time() + cpu_seconds(scps) - radflow
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results: list[Asked] = []
    for code, log in zip(codes, logs, strict=True):
        text = log.read_text("utf-8", "replace")
        assert code == 0, text[-2000:]
        found, latencies = findscu_answers(text)
        results.append((found, latencies, cpu / len(logs)))
    return results, elapsed, radflow


def pynetdicom_scanner(
    address: tuple[str, int], caller: str, modality: str, plan: list[Ask]
) -> Asked:
    """One scanner as a pynetdicom SCU (Python: several times the CPU of findscu per C-FIND,
    all of it on this machine), one association, quiet logging."""
    quiet_pynetdicom()
    ae = AE(ae_title=caller)
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate(*address, ae_title="RADFLOW", evt_handlers=[(evt.EVT_CONN_OPEN, no_delay)])
    assert assoc.is_established, "association refused"
    found: list[list[str]] = []
    latencies: list[float] = []
    cpu = time.process_time()
    try:
        for ask in plan:
            query = identifier(caller, modality, ask)
            started = time.perf_counter()
            found.append([])
            for status, answer in assoc.send_c_find(query, ModalityWorklistInformationFind):
                assert status is not None and status.Status in (0x0000, 0xFF00, 0xFF01)
                if answer is not None:
                    found[-1].append(str(answer.AccessionNumber))
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        assoc.release()
    return found, latencies, time.process_time() - cpu


async def pynetdicom_scanners(
    address: tuple[str, int],
    callers: list[tuple[str, str]],
    plans: list[list[Ask]],
    scps: list[int],
) -> tuple[list[Asked], float, float]:
    """The scanners as pynetdicom SCUs, each in a process of its own (imports done before
    the clock starts): what each got, the seconds they took together and the CPU seconds of
    radflow's processes (this one and `scps`) meanwhile."""
    loop = asyncio.get_running_loop()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(callers), mp_context=spawn) as pool:
        await asyncio.gather(*(loop.run_in_executor(pool, abs, 1) for _ in callers))
        started, radflow = time.perf_counter(), time.process_time() + cpu_seconds(scps)
        results = await asyncio.gather(
            *(
                loop.run_in_executor(pool, pynetdicom_scanner, address, *caller, plan)
                for caller, plan in zip(callers, plans, strict=True)
            )
        )
        elapsed = time.perf_counter() - started
        radflow = time.process_time() + cpu_seconds(scps) - radflow
        return list(results), elapsed, radflow


def expected_answers(session: Any, caller: str, plan: list[Ask]) -> list[list[str]]:
    """What each C-FIND of `plan` must answer, worked out from the bookings alone: the
    scheduled exams booked on the caller's scanner that day (in its site's zone) from the
    asked time on, earliest first."""
    rows = session.execute(
        sa.select(col(m.Exam.accession_number), col(m.Appointment.starts_at), col(m.Site.timezone))
        .join(m.Appointment, col(m.Appointment.exam_id) == col(m.Exam.id))
        .join(m.ModalityResource, col(m.ModalityResource.id) == col(m.Appointment.resource_id))
        .join(m.Site, col(m.Site.id) == col(m.ModalityResource.site_id))
        .where(
            col(m.ModalityResource.ae_title) == caller,
            col(m.Exam.status) == ExamStatus.SCHEDULED,
        )
    )
    by_day: dict[str, list[tuple[str, str]]] = {}
    for local, accession in sorted(
        (starts.astimezone(ZoneInfo(zone)), accession) for accession, starts, zone in rows
    ):
        by_day.setdefault(f"{local:%Y%m%d}", []).append((f"{local:%H%M%S}", accession))
    return [
        [accession for at, accession in by_day.get(day, []) if at >= (since.rstrip("-") or "0")]
        for day, since in plan
    ]


def start_orthanc(
    folder: Path, name: str = "radflow-bench"
) -> tuple[subprocess.Popen[bytes], str, int]:
    """A real Orthanc on free ports, storing in `folder`, once its REST API answers: the
    process, its URL and its DICOM port. `RuntimeError` (with its log's end) if it does not
    start within a minute."""
    http, dicom = free_port(), free_port()
    config = {
        "Name": name,
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http,
        "DicomPort": dicom,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "StableAge": 1,
        "Plugins": [],
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    with (folder / "orthanc.log").open("w") as output:
        process = subprocess.Popen(
            ["Orthanc", str(folder / "orthanc.json")], stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{http}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/system", timeout=2).status_code == 200:
                return process, url, dicom
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (folder / "orthanc.log").read_text()[-2000:]
            raise RuntimeError("Orthanc did not start: " + log)
        time.sleep(0.2)


def store(port: int, images: list[tuple[str, Dataset]], sent: dict[str, float]) -> None:
    """C-STORE each study's instance, noting when each one's store completed."""
    ae = AE(ae_title="BENCH_SCANNER")
    ae.add_requested_context(CTImageStorage)
    assoc = ae.associate("127.0.0.1", port, ae_title="ORTHANC")
    assert assoc.is_established
    try:
        for accession, image in images:
            status = assoc.send_c_store(image)
            assert status is not None and status.Status == 0
            sent[accession] = time.monotonic()
    finally:
        assoc.release()


async def pacs_half(db: Database, studies: int, folder: Path) -> dict[str, object]:
    if shutil.which("Orthanc") is None:
        return {"studies": 0, "pacs": "skipped: Orthanc is not installed (apt-get install orthanc)"}
    rows = await db.read(
        lambda s: list(
            s.execute(
                sa.select(col(m.Exam.id), col(m.Exam.accession_number), m.Patient, m.Procedure)
                .join(m.Patient, col(m.Patient.id) == col(m.Exam.patient_id))
                .join(m.Procedure, col(m.Procedure.id) == col(m.Exam.procedure_id))
                .where(col(m.Exam.status) == ExamStatus.ACQUIRED)
            )
        )
    )
    sample = get_testdata_file("CT_small.dcm")
    assert isinstance(sample, str)
    template = dcmread(sample)
    images: list[tuple[str, Dataset]] = []
    wrong: set[str] = set()
    for n, (exam_id, accession, patient, procedure) in enumerate(rows[:studies]):
        image = copy.deepcopy(template)
        image.StudyInstanceUID = study_instance_uid(ROOT, int(exam_id or 0))
        image.SeriesInstanceUID = image.SOPInstanceUID = generate_uid()
        image.file_meta.MediaStorageSOPInstanceUID = image.SOPInstanceUID
        image.AccessionNumber, image.PatientID = accession, patient.mrn
        image.PatientName = f"{patient.family_name}^{patient.given_name}"
        image.PatientBirthDate = patient.birth_date.strftime("%Y%m%d")
        image.Modality, image.BodyPartExamined = procedure.modality.value, procedure.body_part
        if n % 10 == 9:
            image.PatientBirthDate = "19000101"
            wrong.add(accession)
        images.append((accession, image))
    process, url, port = await asyncio.to_thread(start_orthanc, folder)
    seen: dict[str, float] = {}
    sent: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            follower = PacsFollowerLoop(
                db, Orthanc(client), ROOT, f"{url}/dicom-web", None, "bench", poll_seconds=0.1
            )
            following = asyncio.create_task(follower.run())
            storing = asyncio.create_task(asyncio.to_thread(store, port, images, sent))
            deadline = None
            while len(seen) < len(images):
                if storing.done() and deadline is None:
                    await storing
                    deadline = time.monotonic() + 60
                if deadline is not None and time.monotonic() > deadline:
                    break
                states = await db.read(
                    lambda s: list(
                        s.execute(
                            sa.select(
                                col(m.ArchivedStudy.accession_number), col(m.ArchivedStudy.state)
                            )
                        )
                    )
                )
                now = time.monotonic()
                for accession, state in states:
                    if state in {m.ArchivedStudyState.READY, m.ArchivedStudyState.REJECTED}:
                        seen.setdefault(accession, now)
                await asyncio.sleep(0.05)
            following.cancel()
            (outcome,) = await asyncio.gather(following, return_exceptions=True)
            if not isinstance(outcome, asyncio.CancelledError):
                raise RuntimeError(f"the follower stopped: {outcome!r}")
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
    ready = [seen[a] - sent[a] for a in seen if a in sent]
    rejected = await db.read(
        lambda s: set(
            s.scalars(
                sa.select(col(m.ArchivedStudy.accession_number)).where(
                    col(m.ArchivedStudy.state) == m.ArchivedStudyState.REJECTED
                )
            )
        )
    )
    return {
        "studies": len(images),
        "ready_p99_s": round(statistics.quantiles(ready, n=100)[98], 3) if len(ready) > 1 else None,
        "ready_p50_s": round(statistics.median(ready), 3) if ready else None,
        "mismatched_sent": len(wrong),
        "mismatched_caught": len(wrong & rejected),
        "wrongly_rejected": len(rejected - wrong),
        "lost": len(images) - len(seen),
    }


async def main(
    cfinds: int,
    exams: int,
    studies: int,
    database_url: str | None,
    whole_day: bool = False,
    scanners_at_once: int = 8,
    toolkit: str = "dcmtk",
    scp_processes: int = 4,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'dicom.db'}"
        db = Database(url)
        if db.is_sqlite:
            create_schema(db)
        else:
            await reset_postgres(db)
        await db.run(lambda uow: seed_reference(uow, patients=2000))
        scanners = await db.run(lambda uow: scheduled_department(uow.session, exams, studies))
        at_once = scanners_at_once
        callers = [scanners[i % len(scanners)] for i in range(at_once)]
        days = max(1, exams // (len(scanners) * SLOTS))  # the fully booked days
        plans = [asks(cfinds // at_once, days, whole_day) for _ in range(at_once)]
        port, shared = free_port(), scp_processes > 1
        spawn = multiprocessing.get_context("spawn")
        stop = spawn.Event()
        others = []
        for _ in range(scp_processes - 1):
            ready = spawn.Event()
            process = spawn.Process(target=scp_process, args=(url, port, ready, stop))
            process.start()
            others.append((process, ready))
        for _, ready in others:
            assert await asyncio.to_thread(ready.wait, 120), "an SCP process did not start"
        scps = [process.pid for process, _ in others if process.pid is not None]
        try:
            async with dicom_listener(db, "127.0.0.1", port, uid_root=ROOT, shared_port=shared):
                address = ("127.0.0.1", port)
                if toolkit == "dcmtk":
                    run = await dcmtk_scanners(address, callers, plans, Path(tmp), scps)
                else:
                    run = await pynetdicom_scanners(address, callers, plans, scps)
                results, elapsed, cpu = run
        finally:
            stop.set()
            for process, _ in others:
                process.join(60)
        expected = await db.read(
            lambda s: [
                expected_answers(s, caller, plan)
                for (caller, _), plan in zip(callers, plans, strict=True)
            ]
        )
        found = [answer for answers, _, _ in results for answer in answers]
        wanted = [answer for answers in expected for answer in answers]
        wrong = sum(got != want for got, want in zip(found, wanted, strict=True))
        latencies = [ms for _, times, _ in results for ms in times]
        result: dict[str, Any] = {
            "cfind_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 2),
            "cfind_p50_ms": round(statistics.median(latencies), 2),
            "cfind_per_s": round(len(latencies) / elapsed, 1),
            "entries_per_cfind": round(sum(map(len, found)) / len(latencies), 1),
            "cfind_query": "whole day" if whole_day else "rest of the day",
            "scanners_at_once": at_once,
            "scanner_toolkit": toolkit,
            "scp_processes": scp_processes,
            # Every answer against the bookings: its accession numbers, in order.
            "cfinds_checked": len(found),
            "cfinds_wrong": wrong,
            # CPU per C-FIND: radflow's processes (the SCP, its database and the follower's
            # idle polls) and the scanners' processes, separately.
            "cfind_cpu_ms_scp": round(cpu * 1000 / len(latencies), 2),
            "cfind_cpu_ms_scu": round(sum(c for _, _, c in results) * 1000 / len(latencies), 2),
            "scheduled": exams,
        }
        result |= await pacs_half(db, studies, Path(tmp))
        await db.dispose()
    result["backend"] = "sqlite" if database_url is None else "postgresql"
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cfinds", type=int, default=2000)
    parser.add_argument("--exams", type=int, default=5000)
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--whole-day", action="store_true", help="each C-FIND asks for its whole day (no time)"
    )
    parser.add_argument(
        "--scanners", type=int, default=8, help="scanners querying at once (the goal's is 8)"
    )
    parser.add_argument(
        "--toolkit",
        choices=["dcmtk", "pynetdicom"],
        default="dcmtk",
        help="the scanners' DICOM toolkit: dcmtk's findscu, or a pynetdicom SCU",
    )
    parser.add_argument(
        "--scp-processes",
        type=int,
        default=4,
        help="radflow's SCP processes sharing the port (RADFLOW_DICOM_WORKERS): two per core",
    )
    args = parser.parse_args()
    figures = main(
        args.cfinds,
        args.exams,
        args.studies,
        args.database_url,
        args.whole_day,
        args.scanners,
        args.toolkit,
        args.scp_processes,
    )
    print(json.dumps(asyncio.run(figures)))
