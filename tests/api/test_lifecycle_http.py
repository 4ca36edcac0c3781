"""Every lifecycle mutation over real HTTP: one exam from placeOrder to closeExam, then each
mutation's error paths."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import to_global_id
from tests.conftest import Api
from tests.factories import count_rows, drive, first_slot, order, reference

pytestmark = pytest.mark.usefixtures("backend")

SCHEDULER = ("frontdesk", "scheduler")
TECH = ("tech.lee", "technologist")
SUPERVISOR = ("sup.ortiz", "supervisor")
RADIOLOGIST = ("RAD03", "radiologist")
REFERRER = ("REF01", "referrer")
PATIENT = ("MRN000001", "patient")

PLACE_ORDER = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    __typename
    ... on OrderPlaced { created exam { id accessionNumber status version prepChecklist { code } } }
    ... on Error { code message field }
    ... on ValidationFailed { errors { field code message } }
  }
}"""

EXAM = """
query($accession: String!) {
  exam(accessionNumber: $accession) {
    status version dueAt readyAt
    appointment { status startsAt resource { code } }
    acquisitions { attempt repeatReason imageCount }
    metadataValidations { valid problems { field code } }
    study { studyInstanceUid archiveLocation }
    assignment { reason pinned radiologist { code } }
    report { status impression criticalLevel sections { key fields { key value } }
             addenda { text } author { code } }
    communications { criticalLevel acknowledgedAt }
    followUps { recommendation status }
    surveys { respondent score }
    notifications { template }
    history { step fromStatus toStatus actor role reason }
  }
}"""


def step(name: str, input_type: str, payload: str = "exam { status version }") -> str:
    return f"""
mutation($input: {input_type}!) {{
  {name}(input: $input) {{
    __typename
    ... on Error {{ code message field }}
    ... on ValidationFailed {{ errors {{ field code message }} }}
    ... on InvalidTransition {{ status allowedFrom }}
    ... on PreconditionFailed {{ condition }}
    ... on {{SUCCESS}} {{ {payload} }}
  }}
}}"""


MUTATIONS: dict[str, tuple[str, str]] = {
    "scheduleExam": ("ScheduleExamInput", "ExamScheduled"),
    "confirmAppointment": ("ExamInput", "AppointmentConfirmed"),
    "rescheduleExam": ("RescheduleExamInput", "ExamRescheduled"),
    "cancelExam": ("CancelExamInput", "ExamCancelled"),
    "markNoShow": ("MarkNoShowInput", "NoShowRecorded"),
    "checkIn": ("ExamInput", "PatientCheckedIn"),
    "completePrepItem": ("CompletePrepItemInput", "PrepItemCompleted"),
    "startAcquisition": ("StartAcquisitionInput", "AcquisitionStarted"),
    "completeAcquisition": ("CompleteAcquisitionInput", "ExamAcquired"),
    "requestRepeat": ("RequestRepeatInput", "RepeatRequested"),
    "validateMetadata": ("ValidateMetadataInput", "MetadataValidated"),
    "correctMetadata": ("CorrectMetadataInput", "MetadataCorrected"),
    "registerStorage": ("RegisterStorageInput", "StudyStored"),
    "assignRead": ("AssignReadInput", "ReadAssigned"),
    "openRead": ("ExamInput", "ReadOpened"),
    "saveReportDraft": ("SaveReportDraftInput", "ReportDraftSaved"),
    "signPreliminary": ("ExamInput", "ReportSignedPreliminary"),
    "signFinal": ("ExamInput", "ReportSignedFinal"),
    "addAddendum": ("AddAddendumInput", "ReportAmended"),
    "notifyResult": ("NotifyResultInput", "ResultCommunicated"),
    "acknowledgeResult": ("AcknowledgeResultInput", "ResultAcknowledged"),
    "recordFollowUp": ("RecordFollowUpInput", "FollowUpRecorded"),
    "submitSurvey": ("SubmitSurveyInput", "SurveySubmitted"),
    "closeExam": ("ExamInput", "ExamClosed"),
}


def document(name: str) -> str:
    input_type, success = MUTATIONS[name]
    return step(name, input_type).replace("{SUCCESS}", success)


async def call(api: Api, name: str, actor: tuple[str, str], **input: Any) -> dict[str, Any]:
    data = await api.data(document(name), {"input": input}, actor=actor)
    return data[name]  # type: ignore[return-value]


@pytest.fixture
async def department(api: Api) -> Api:
    await reference(api.db)
    return api


HEADER = {"modality": "US", "bodyPart": "ABDOMEN", "procedureCode": "USABD"}
SECTIONS = [
    {"key": "clinical", "fields": [{"key": "indication", "value": "RUQ pain"}]},
    {"key": "technique", "fields": [{"key": "technique", "value": "Grey-scale US"}]},
    {"key": "findings", "fields": [{"key": "findings", "value": "Gallstones."}]},
]


async def test_one_exam_through_every_stage_over_http(department: Api) -> None:
    api, db = department, department.db
    placed = (
        await api.data(
            PLACE_ORDER,
            {
                "input": {
                    "orderSource": "EPIC",
                    "placerOrderNumber": "H-1",
                    "patientMrn": "MRN000001",
                    "referrerCode": "REF01",
                    "procedureCode": "USABD",
                    "siteCode": "NORTH",
                    "priority": "URGENT",
                    "patientClass": "OUTPATIENT",
                    "indication": "RUQ pain",
                    "icd10Code": "R10.11",
                }
            },
            actor=REFERRER,
        )
    )["placeOrder"]
    assert placed["__typename"] == "OrderPlaced" and placed["created"] is True
    exam = placed["exam"]
    gid, accession = exam["id"], exam["accessionNumber"]
    assert exam["status"] == "ORDERED" and exam["prepChecklist"] == [{"code": "FASTING_CONFIRMED"}]

    slot = await first_slot(db, "USABD")
    assert (
        await call(
            api,
            "scheduleExam",
            SCHEDULER,
            examId=gid,
            resourceCode="US1",
            startsAt=slot.starts_at.isoformat(),
        )
    )["__typename"] == "ExamScheduled"
    later = await first_slot(db, "USABD")
    moved = await call(
        api,
        "rescheduleExam",
        SCHEDULER,
        examId=gid,
        resourceCode="US1",
        startsAt=later.starts_at.isoformat(),
        reason="Patient asked",
    )
    assert moved["__typename"] == "ExamRescheduled"
    assert (await call(api, "confirmAppointment", PATIENT, examId=gid))[
        "__typename"
    ] == "AppointmentConfirmed"
    db.clock.now = later.starts_at  # type: ignore[attr-defined]
    assert (await call(api, "checkIn", SCHEDULER, examId=gid))["exam"]["status"] == "CHECKED_IN"
    prepared = await call(api, "completePrepItem", TECH, examId=gid, itemCode="FASTING_CONFIRMED")
    assert prepared["exam"]["status"] == "PREPARED"
    assert (await call(api, "startAcquisition", TECH, examId=gid, resourceCode="US1"))["exam"][
        "status"
    ] == "IN_ACQUISITION"
    assert (await call(api, "completeAcquisition", TECH, examId=gid, seriesCount=2, imageCount=80))[
        "exam"
    ]["status"] == "ACQUIRED"
    assert (await call(api, "requestRepeat", TECH, examId=gid, reason="MOTION"))["exam"][
        "status"
    ] == "IN_ACQUISITION"
    await call(api, "completeAcquisition", TECH, examId=gid, seriesCount=2, imageCount=90)
    bad = {**HEADER, "accessionNumber": accession, "patientMrn": "MRN000002"}
    rejected = await call(api, "validateMetadata", TECH, examId=gid, header=bad)
    assert rejected["exam"]["status"] == "METADATA_REJECTED"
    good = {**bad, "patientMrn": "MRN000001"}
    corrected = await call(
        api,
        "correctMetadata",
        TECH,
        examId=gid,
        header=good,
        reason="Wrong patient picked at the console",
    )
    assert corrected["exam"]["status"] == "ACQUIRED"
    stored = await call(
        api,
        "registerStorage",
        TECH,
        examId=gid,
        studyInstanceUid="1.2.840.10008.1.1",
        archiveLocation="pacs://vna/1",
    )
    assert stored["exam"]["status"] == "READY_FOR_READ"
    assert (
        await call(
            api,
            "assignRead",
            SUPERVISOR,
            examId=gid,
            radiologistCode="RAD03",
            reason="BODY reader with the lightest load",
        )
    )["__typename"] == "ReadAssigned"
    assert (await call(api, "openRead", RADIOLOGIST, examId=gid))["exam"][
        "status"
    ] == "IN_INTERPRETATION"
    assert (
        await call(
            api,
            "saveReportDraft",
            RADIOLOGIST,
            examId=gid,
            sections=SECTIONS,
            impression="Cholelithiasis.",
            criticalLevel="URGENT",
        )
    )["__typename"] == "ReportDraftSaved"
    assert (await call(api, "signPreliminary", RADIOLOGIST, examId=gid))["exam"][
        "status"
    ] == "PRELIMINARY"
    assert (await call(api, "signFinal", RADIOLOGIST, examId=gid))["exam"]["status"] == "FINAL"
    assert (await call(api, "addAddendum", RADIOLOGIST, examId=gid, text="No wall thickening."))[
        "exam"
    ]["status"] == "FINAL"
    assert (await call(api, "notifyResult", RADIOLOGIST, examId=gid))["exam"][
        "status"
    ] == "COMMUNICATED"
    blocked = await call(api, "closeExam", SUPERVISOR, examId=gid)
    assert blocked["__typename"] == "PreconditionFailed"
    assert blocked["condition"] == "CRITICAL_RESULT_UNACKNOWLEDGED"
    assert (await call(api, "acknowledgeResult", REFERRER, examId=gid))[
        "__typename"
    ] == "ResultAcknowledged"
    assert (
        await call(
            api,
            "recordFollowUp",
            RADIOLOGIST,
            examId=gid,
            recommendation="US in 6 months",
            dueOn="2026-09-01",
        )
    )["__typename"] == "FollowUpRecorded"
    assert (await call(api, "submitSurvey", REFERRER, examId=gid, respondent="REFERRER", score=5))[
        "__typename"
    ] == "SurveySubmitted"
    assert (await call(api, "closeExam", SUPERVISOR, examId=gid))["exam"]["status"] == "CLOSED"

    full = (await api.data(EXAM, {"accession": accession}))["exam"]
    assert [h["toStatus"] for h in full["history"]] == [
        "ORDERED",
        "SCHEDULED",
        "SCHEDULED",
        "CHECKED_IN",
        "PREPARED",
        "IN_ACQUISITION",
        "ACQUIRED",
        "IN_ACQUISITION",
        "ACQUIRED",
        "METADATA_REJECTED",
        "ACQUIRED",
        "READY_FOR_READ",
        "IN_INTERPRETATION",
        "PRELIMINARY",
        "FINAL",
        "FINAL",
        "COMMUNICATED",
        "CLOSED",
    ]
    assert [h["step"] for h in full["history"]][:4] == [
        "ORDER",
        "SCHEDULE",
        "RESCHEDULE",
        "CHECK_IN",
    ]
    assert full["history"][1]["actor"] == "frontdesk" and full["history"][1]["role"] == "SCHEDULER"
    assert [a["repeatReason"] for a in full["acquisitions"]] == ["MOTION", None]
    assert [v["valid"] for v in full["metadataValidations"]] == [False, True]
    assert full["metadataValidations"][0]["problems"] == [
        {"field": "patient_mrn", "code": "PATIENT_MISMATCH"}
    ]
    assert full["report"]["status"] == "FINAL" and full["report"]["author"]["code"] == "RAD03"
    assert full["report"]["addenda"] == [{"text": "No wall thickening."}]
    assert full["communications"][0]["acknowledgedAt"] is not None
    assert full["dueAt"] > full["readyAt"]
    assert {
        "APPOINTMENT_CONFIRMATION",
        "APPOINTMENT_REMINDER",
        "PREP_INSTRUCTIONS",
        "CRITICAL_RESULT",
    } <= {n["template"] for n in full["notifications"]}


UNKNOWN_EXAM = to_global_id("Exam", 999_999)
MINIMAL_INPUTS: dict[str, dict[str, Any]] = {
    "scheduleExam": {"resourceCode": "US1", "startsAt": "2026-03-03T14:00:00+00:00"},
    "confirmAppointment": {},
    "rescheduleExam": {
        "resourceCode": "US1",
        "startsAt": "2026-03-03T14:00:00+00:00",
        "reason": "r",
    },
    "cancelExam": {"reason": "r"},
    "markNoShow": {},
    "checkIn": {},
    "completePrepItem": {"itemCode": "FASTING_CONFIRMED"},
    "startAcquisition": {"resourceCode": "US1"},
    "completeAcquisition": {"seriesCount": 1, "imageCount": 10},
    "requestRepeat": {"reason": "MOTION"},
    "validateMetadata": {"header": {**HEADER, "accessionNumber": "X", "patientMrn": "Y"}},
    "correctMetadata": {
        "header": {**HEADER, "accessionNumber": "X", "patientMrn": "Y"},
        "reason": "r",
    },
    "registerStorage": {"studyInstanceUid": "1.2.3", "archiveLocation": "pacs://x"},
    "assignRead": {"radiologistCode": "RAD03", "reason": "r"},
    "openRead": {},
    "saveReportDraft": {"sections": [], "impression": "x"},
    "signPreliminary": {},
    "signFinal": {},
    "addAddendum": {"text": "x"},
    "notifyResult": {},
    "acknowledgeResult": {},
    "recordFollowUp": {"recommendation": "x", "dueOn": "2027-01-01"},
    "submitSurvey": {"respondent": "REFERRER", "score": 4},
    "closeExam": {},
}
ACTORS = {
    "assignRead": SUPERVISOR,
    "openRead": RADIOLOGIST,
    "saveReportDraft": RADIOLOGIST,
    "signPreliminary": RADIOLOGIST,
    "signFinal": RADIOLOGIST,
    "addAddendum": RADIOLOGIST,
    "acknowledgeResult": REFERRER,
    "recordFollowUp": RADIOLOGIST,
    "submitSurvey": REFERRER,
}


def exam_not_theirs(exam: Any, actor: tuple[str, str]) -> bool:
    """A freshly ordered exam is on nobody's worklist; REF01 ordered every factory exam."""
    return actor[1] == "radiologist"


@pytest.mark.parametrize("name", list(MUTATIONS))
async def test_every_mutation_reports_an_unknown_exam(department: Api, name: str) -> None:
    result = await call(
        department,
        name,
        ACTORS.get(name, ("admin", "admin")),
        examId=UNKNOWN_EXAM,
        **MINIMAL_INPUTS[name],
    )
    assert result["__typename"] == "NotFound", result
    assert result["code"] == "NOT_FOUND"


@pytest.mark.parametrize("name", list(MUTATIONS))
async def test_every_mutation_rejects_a_malformed_id(department: Api, name: str) -> None:
    result = await call(
        department,
        name,
        ACTORS.get(name, ("admin", "admin")),
        examId="not-an-id",
        **MINIMAL_INPUTS[name],
    )
    assert result["__typename"] == "ValidationFailed", result
    assert result["errors"][0] == {
        "field": "input.examId",
        "code": "INVALID_ID",
        "message": "not a valid Exam id",
    }


WRONG_STATUS = [
    n
    for n in MUTATIONS
    if n
    not in {
        "scheduleExam",
        "cancelExam",
        "recordFollowUp",
        "submitSurvey",
        "acknowledgeResult",
        "confirmAppointment",
        "completePrepItem",
        "validateMetadata",
        "assignRead",
        "saveReportDraft",
        "openRead",
        "signPreliminary",
        "signFinal",
        "addAddendum",
    }
]


@pytest.mark.parametrize("name", WRONG_STATUS)
async def test_steps_out_of_order_are_invalid_transitions_and_write_nothing(
    department: Api, name: str
) -> None:
    db = department.db
    exam = await order(db)
    before = await db.read(count_rows("exam_status_history"))
    result = await call(
        department,
        name,
        ACTORS.get(name, ("admin", "admin")),
        examId=to_global_id("Exam", exam.id or 0),
        **MINIMAL_INPUTS[name],
    )
    assert result["__typename"] in {"InvalidTransition", "PreconditionFailed"}, result
    assert await db.read(count_rows("exam_status_history")) == before


@pytest.mark.parametrize(
    "name",
    [
        "assignRead",
        "saveReportDraft",
        "openRead",
        "signFinal",
        "recordFollowUp",
        "submitSurvey",
        "acknowledgeResult",
        "validateMetadata",
        "confirmAppointment",
    ],
)
async def test_steps_that_need_a_later_stage_fail_with_a_typed_error(
    department: Api, name: str
) -> None:
    exam = await order(department.db)
    result = await call(
        department,
        name,
        ACTORS.get(name, ("admin", "admin")),
        examId=to_global_id("Exam", exam.id or 0),
        **MINIMAL_INPUTS[name],
    )
    if ACTORS.get(name) in (RADIOLOGIST, REFERRER) and exam_not_theirs(exam, ACTORS[name]):
        # Object-level access: a study never assigned to this reader (an exam this referrer
        # did not order) does not exist for them.
        assert result["__typename"] == "NotFound", result
    else:
        assert result["__typename"] in {"ValidationFailed", "InvalidTransition"}, result
    assert result["message"]


async def test_the_wrong_role_gets_a_forbidden_error(department: Api) -> None:
    exam = await drive(department.db, await order(department.db), "READY_FOR_READ")  # type: ignore[arg-type]
    body = await department.graphql(
        document("openRead"), {"input": {"examId": to_global_id("Exam", exam.id or 0)}}, actor=TECH
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]


async def test_slot_taken_is_a_typed_error(department: Api) -> None:
    db = department.db
    first, second = await order(db), await order(db)
    slot = await first_slot(db, "USABD")
    inputs = {"resourceCode": "US1", "startsAt": slot.starts_at.isoformat()}
    won = await call(
        department, "scheduleExam", SCHEDULER, examId=to_global_id("Exam", first.id or 0), **inputs
    )
    lost = await call(
        department, "scheduleExam", SCHEDULER, examId=to_global_id("Exam", second.id or 0), **inputs
    )
    assert won["__typename"] == "ExamScheduled"
    assert lost["__typename"] == "SlotTaken" and lost["code"] == "SLOT_TAKEN"


async def test_a_stale_expected_version_is_a_conflict(department: Api) -> None:
    exam = await order(department.db)
    result = await call(
        department,
        "cancelExam",
        SCHEDULER,
        examId=to_global_id("Exam", exam.id or 0),
        reason="dup",
        expectedVersion=exam.version + 1,
    )
    assert result["__typename"] == "Conflict" and result["code"] == "CONFLICT"


async def test_a_resent_order_returns_the_existing_exam(department: Api) -> None:
    variables = {
        "input": {
            "orderSource": "EPIC",
            "placerOrderNumber": "H-2",
            "patientMrn": "MRN000001",
            "referrerCode": "REF01",
            "procedureCode": "CTHEAD",
            "siteCode": "MAIN",
            "priority": "STAT",
            "patientClass": "ED",
            "indication": "Fall",
            "icd10Code": "S06.0",
        }
    }
    first = (await department.data(PLACE_ORDER, variables, actor=REFERRER))["placeOrder"]
    again = (await department.data(PLACE_ORDER, variables, actor=REFERRER))["placeOrder"]
    assert first["created"] is True and again["created"] is False
    assert again["exam"]["id"] == first["exam"]["id"]
    assert await department.db.read(count_rows("exams")) == 1
