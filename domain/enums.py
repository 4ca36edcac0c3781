"""The department's vocabularies: every enumerated value radflow stores or exchanges."""

from __future__ import annotations

from enum import StrEnum


class ExamStatus(StrEnum):
    """Where an exam stands in its lifecycle, from the order to the archive."""

    ORDERED = "ORDERED"
    SCHEDULED = "SCHEDULED"
    CHECKED_IN = "CHECKED_IN"
    PREPARED = "PREPARED"
    IN_ACQUISITION = "IN_ACQUISITION"
    ACQUIRED = "ACQUIRED"
    METADATA_REJECTED = "METADATA_REJECTED"
    READY_FOR_READ = "READY_FOR_READ"
    IN_INTERPRETATION = "IN_INTERPRETATION"
    PRELIMINARY = "PRELIMINARY"
    FINAL = "FINAL"
    COMMUNICATED = "COMMUNICATED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


class Priority(StrEnum):
    """Clinical urgency of an order."""

    STAT = "STAT"
    URGENT = "URGENT"
    ROUTINE = "ROUTINE"


class PatientClass(StrEnum):
    """Where the patient is being cared for when the exam is ordered."""

    ED = "ED"
    INPATIENT = "INPATIENT"
    OUTPATIENT = "OUTPATIENT"


class Modality(StrEnum):
    """DICOM modality codes of the imaging equipment radflow schedules."""

    CT = "CT"
    MR = "MR"
    US = "US"
    XR = "XR"
    MG = "MG"
    NM = "NM"
    PT = "PT"
    FL = "FL"


class Subspecialty(StrEnum):
    """Reading subspecialties; a study needs a radiologist credentialed for its subspecialty."""

    NEURO = "NEURO"
    MSK = "MSK"
    BODY = "BODY"
    CHEST = "CHEST"
    BREAST = "BREAST"
    PEDIATRIC = "PEDIATRIC"
    CARDIAC = "CARDIAC"
    NUCLEAR = "NUCLEAR"
    IR = "IR"
    GENERAL = "GENERAL"


class Role(StrEnum):
    """Who is acting: each lifecycle step names the roles allowed to take it."""

    REFERRER = "referrer"
    SCHEDULER = "scheduler"
    PATIENT = "patient"
    TECHNOLOGIST = "technologist"
    RADIOLOGIST = "radiologist"
    SUPERVISOR = "supervisor"
    INTEGRATION = "integration"
    ADMIN = "admin"
    SYSTEM = "system"
    ANONYMOUS = "anonymous"


class RadiologistStatus(StrEnum):
    """Whether a radiologist can take work right now."""

    AVAILABLE = "AVAILABLE"
    ON_BREAK = "ON_BREAK"
    OFF = "OFF"


class AppointmentStatus(StrEnum):
    BOOKED = "BOOKED"
    CONFIRMED = "CONFIRMED"
    ARRIVED = "ARRIVED"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"
    NO_SHOW = "NO_SHOW"


class RepeatReason(StrEnum):
    """Why an acquisition had to be repeated (repeat frequency is a key quality metric)."""

    POSITIONING = "POSITIONING"
    MOTION = "MOTION"
    ARTIFACT = "ARTIFACT"
    EQUIPMENT = "EQUIPMENT"
    EXPOSURE = "EXPOSURE"
    INCOMPLETE_COVERAGE = "INCOMPLETE_COVERAGE"
    OTHER = "OTHER"


class ReadSource(StrEnum):
    """Who put a study on a radiologist's worklist."""

    BALANCER = "BALANCER"  # the balancer's plan
    SUPERVISOR = "SUPERVISOR"  # a supervisor's pin or override


class ReportStatus(StrEnum):
    DRAFT = "DRAFT"
    PRELIMINARY = "PRELIMINARY"
    FINAL = "FINAL"


class CriticalLevel(StrEnum):
    """How fast a finding must reach the referrer (ACR communication levels)."""

    NONE = "NONE"
    UNEXPECTED = "UNEXPECTED"  # days
    URGENT = "URGENT"  # hours
    CRITICAL = "CRITICAL"  # minutes


# The levels whose result the referrer must acknowledge (the loop stays open until they do).
MUST_ACKNOWLEDGE = frozenset({CriticalLevel.CRITICAL, CriticalLevel.URGENT})


class NotificationChannel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    PORTAL = "PORTAL"
    PHONE = "PHONE"
    HL7 = "HL7"


class NotificationTemplate(StrEnum):
    APPOINTMENT_CONFIRMATION = "APPOINTMENT_CONFIRMATION"
    APPOINTMENT_REMINDER = "APPOINTMENT_REMINDER"
    PREP_INSTRUCTIONS = "PREP_INSTRUCTIONS"
    APPOINTMENT_CANCELLED = "APPOINTMENT_CANCELLED"
    RESULT_AVAILABLE = "RESULT_AVAILABLE"
    CRITICAL_RESULT = "CRITICAL_RESULT"
    CRITICAL_RESULT_ESCALATION = "CRITICAL_RESULT_ESCALATION"
    REPORT_AMENDED = "REPORT_AMENDED"
    SURVEY_INVITATION = "SURVEY_INVITATION"
    FOLLOW_UP_DUE = "FOLLOW_UP_DUE"
    STAT_UNASSIGNED = "STAT_UNASSIGNED"
    FOLLOW_UP_OVERDUE = "FOLLOW_UP_OVERDUE"


class NotificationStatus(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Respondent(StrEnum):
    REFERRER = "REFERRER"
    PATIENT = "PATIENT"


class FollowUpStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class IntervalUnit(StrEnum):
    """The unit of a follow-up's interval (calendar months and years: 3 months from 30
    November is 28 February, or 29 in a leap year)."""

    DAYS = "DAYS"
    WEEKS = "WEEKS"
    MONTHS = "MONTHS"
    YEARS = "YEARS"


class TurnaroundStage(StrEnum):
    """A measured stretch of an exam's life: from first entering one status to first entering
    a later one (the turnaround metrics report each)."""

    ORDER_TO_SCHEDULED = "ORDER_TO_SCHEDULED"
    CHECK_IN_TO_ACQUIRED = "CHECK_IN_TO_ACQUIRED"
    ACQUIRED_TO_READY = "ACQUIRED_TO_READY"
    READY_TO_OPENED = "READY_TO_OPENED"
    READY_TO_FINAL = "READY_TO_FINAL"
    FINAL_TO_COMMUNICATED = "FINAL_TO_COMMUNICATED"
    ORDER_TO_FINAL = "ORDER_TO_FINAL"
