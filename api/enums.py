"""The domain's vocabularies as GraphQL enums (same names, same values)."""

from __future__ import annotations

import strawberry

from domain import enums as d
from domain import lifecycle, reporting

ExamStatus = strawberry.enum(d.ExamStatus, description="Where an exam stands in its lifecycle.")
Priority = strawberry.enum(d.Priority, description="Clinical urgency of an order.")
PatientClass = strawberry.enum(d.PatientClass, description="Where the patient is cared for.")
Modality = strawberry.enum(d.Modality, description="DICOM modality code.")
Subspecialty = strawberry.enum(d.Subspecialty, description="Reading subspecialty.")
Role = strawberry.enum(d.Role, description="The role a user acts in.")
RadiologistStatus = strawberry.enum(d.RadiologistStatus, description="Availability for work.")
AppointmentStatus = strawberry.enum(d.AppointmentStatus)
RepeatReason = strawberry.enum(d.RepeatReason, description="Why an acquisition was repeated.")
ReportStatus = strawberry.enum(d.ReportStatus)
CriticalLevel = strawberry.enum(
    d.CriticalLevel, description="How fast a finding must reach the referrer."
)
NotificationChannel = strawberry.enum(d.NotificationChannel)
NotificationTemplate = strawberry.enum(d.NotificationTemplate)
NotificationStatus = strawberry.enum(d.NotificationStatus)
Respondent = strawberry.enum(d.Respondent)
FollowUpStatus = strawberry.enum(d.FollowUpStatus)
ExamStep = strawberry.enum(
    lifecycle.Step,
    description="A lifecycle step: what was done to an "
    "exam (history, status events and InvalidTransition use this name).",
)
ReadSource = strawberry.enum(d.ReadSource, description="Who put a study on a worklist.")
ReportFieldType = strawberry.enum(
    reporting.FieldKind, description="How a report template field is filled in."
)
CodeSystem = strawberry.enum(
    reporting.CodeSystem, description="The coded vocabulary of a coded report field."
)
