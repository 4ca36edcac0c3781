"""The vocabularies of radflow's FHIR interface: identifier systems and the status mappings.

The department's own identifiers and codes (MRN, accession number, catalogue procedure codes,
site codes, referrer codes) are named by `urn:radflow:*` systems; standard code systems keep
their canonical URLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from domain.enums import AppointmentStatus, ExamStatus, PatientClass, Priority

MRN_SYSTEM = "urn:radflow:mrn"
ACCESSION_SYSTEM = "urn:radflow:accession"
PROCEDURE_SYSTEM = "urn:radflow:procedure"
SITE_SYSTEM = "urn:radflow:site"
REFERRER_SYSTEM = "urn:radflow:referrer"
RADIOLOGIST_SYSTEM = "urn:radflow:radiologist"
RESOURCE_SYSTEM = "urn:radflow:modality-resource"
REPORT_FIELD_SYSTEM = "urn:radflow:report-field"
CODE_SYSTEM_PREFIX = "urn:radflow:code-system:"  # + BI_RADS, LUNG_RADS, LI_RADS, ...
PATIENT_CLASS_EXTENSION = "urn:radflow:fhir:patient-class"

ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")
IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
ADMINISTRATIVE_GENDER = {"F": "female", "M": "male", "O": "other", "U": "unknown"}

# ServiceRequest.status for each exam status (the order's life, not the report's).
REQUEST_STATUS: Mapping[ExamStatus, str] = MappingProxyType(
    {
        ExamStatus.ORDERED: "active",
        ExamStatus.SCHEDULED: "active",
        ExamStatus.CHECKED_IN: "active",
        ExamStatus.PREPARED: "active",
        ExamStatus.IN_ACQUISITION: "active",
        ExamStatus.ACQUIRED: "active",
        ExamStatus.METADATA_REJECTED: "on-hold",
        ExamStatus.READY_FOR_READ: "active",
        ExamStatus.IN_INTERPRETATION: "active",
        ExamStatus.PRELIMINARY: "active",
        ExamStatus.FINAL: "completed",
        ExamStatus.COMMUNICATED: "completed",
        ExamStatus.CLOSED: "completed",
        ExamStatus.CANCELLED: "revoked",
        ExamStatus.NO_SHOW: "revoked",
    }
)
REQUEST_STATUSES = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error")


def exam_statuses(request_status: str) -> tuple[ExamStatus, ...]:
    """The exam statuses a ServiceRequest status stands for (none for draft, unknown, ...)."""
    return tuple(s for s, fhir in REQUEST_STATUS.items() if fhir == request_status)


PRIORITY_OUT: Mapping[Priority, str] = MappingProxyType(
    {Priority.STAT: "stat", Priority.URGENT: "urgent", Priority.ROUTINE: "routine"}
)
PRIORITY_IN: Mapping[str, Priority] = MappingProxyType(
    {
        "stat": Priority.STAT,
        "asap": Priority.URGENT,
        "urgent": Priority.URGENT,
        "routine": Priority.ROUTINE,
    }
)

# The patient class as the v3 ActCode of an encounter.
CLASS_OUT: Mapping[PatientClass, tuple[str, str]] = MappingProxyType(
    {
        PatientClass.ED: ("EMER", "emergency"),
        PatientClass.INPATIENT: ("IMP", "inpatient encounter"),
        PatientClass.OUTPATIENT: ("AMB", "ambulatory"),
    }
)
CLASS_IN: Mapping[str, PatientClass] = MappingProxyType(
    {code: klass for klass, (code, _) in CLASS_OUT.items()}
)

APPOINTMENT_STATUS: Mapping[AppointmentStatus, str] = MappingProxyType(
    {
        AppointmentStatus.BOOKED: "booked",
        AppointmentStatus.CONFIRMED: "booked",
        AppointmentStatus.ARRIVED: "arrived",
        AppointmentStatus.CANCELLED: "cancelled",
        AppointmentStatus.RESCHEDULED: "cancelled",  # moved: the new one is another appointment
        AppointmentStatus.NO_SHOW: "noshow",
    }
)


def appointment_statuses(fhir_status: str) -> tuple[AppointmentStatus, ...]:
    """The stored appointment statuses an Appointment.status stands for."""
    return tuple(s for s, fhir in APPOINTMENT_STATUS.items() if fhir == fhir_status)


REPORT_STATUSES = ("preliminary", "final", "amended")
