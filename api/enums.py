"""The domain's vocabularies as GraphQL enums (same names, same values).

`strawberry.enum` marks the domain's own class and returns it, so each name here is the domain
enum itself, registered on the line below it; a name bound to the call's result would not be a
type for mypy.
"""

from __future__ import annotations

import strawberry

from domain import enums as d
from domain import lifecycle, reporting

ExamStatus = d.ExamStatus
strawberry.enum(ExamStatus, description="Where an exam stands in its lifecycle.")
Priority = d.Priority
strawberry.enum(Priority, description="Clinical urgency of an order.")
PatientClass = d.PatientClass
strawberry.enum(PatientClass, description="Where the patient is cared for.")
Modality = d.Modality
strawberry.enum(Modality, description="DICOM modality code.")
Subspecialty = d.Subspecialty
strawberry.enum(Subspecialty, description="Reading subspecialty.")
Role = d.Role
strawberry.enum(Role, description="The role a user acts in.")
RadiologistStatus = d.RadiologistStatus
strawberry.enum(RadiologistStatus, description="Availability for work.")
AppointmentStatus = d.AppointmentStatus
strawberry.enum(AppointmentStatus)
RepeatReason = d.RepeatReason
strawberry.enum(RepeatReason, description="Why an acquisition was repeated.")
ReportStatus = d.ReportStatus
strawberry.enum(ReportStatus)
CriticalLevel = d.CriticalLevel
strawberry.enum(CriticalLevel, description="How fast a finding must reach the referrer.")
NotificationChannel = d.NotificationChannel
strawberry.enum(NotificationChannel)
NotificationTemplate = d.NotificationTemplate
strawberry.enum(NotificationTemplate)
NotificationStatus = d.NotificationStatus
strawberry.enum(NotificationStatus)
Respondent = d.Respondent
strawberry.enum(Respondent)
FollowUpStatus = d.FollowUpStatus
strawberry.enum(FollowUpStatus)
IntervalUnit = d.IntervalUnit
strawberry.enum(IntervalUnit, description="The unit of a follow-up's interval.")
ExamStep = lifecycle.Step
strawberry.enum(
    ExamStep,
    description="A lifecycle step: what was done to an "
    "exam (history, status events and InvalidTransition use this name).",
)
ReadSource = d.ReadSource
strawberry.enum(ReadSource, description="Who put a study on a worklist.")
ReportFieldType = reporting.FieldKind
strawberry.enum(ReportFieldType, description="How a report template field is filled in.")
CodeSystem = reporting.CodeSystem
strawberry.enum(CodeSystem, description="The coded vocabulary of a coded report field.")
