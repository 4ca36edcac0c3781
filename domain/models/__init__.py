"""All tables; importing this package registers them on SQLModel.metadata."""

from domain.models.acquisition import Acquisition, ExamPrepItem, MetadataValidation, StoredStudy
from domain.models.audit import AuditEvent
from domain.models.balancing import BalancerLeadership, BalancerRun, Shift
from domain.models.catalog import (
    ModalityResource,
    OpeningHours,
    PrepProtocol,
    PrepProtocolItem,
    Procedure,
    ReportTemplate,
    Site,
    TurnaroundTarget,
)
from domain.models.exam import Exam, ExamStatusChange
from domain.models.imaging import (
    ArchivedStudy,
    ArchivedStudyState,
    LegalHold,
    PacsFollower,
    PerformedProcedureStep,
    ProcedureStepStatus,
    PurgeOutcome,
    RetentionRule,
    StudyPurge,
)
from domain.models.interfaces import (
    FhirSubscription,
    InboundMessage,
    OutboundCursor,
    ScheduledWork,
)
from domain.models.outbox import OutboxEvent, OutboxPruned
from domain.models.people import (
    Patient,
    Radiologist,
    RadiologistSubspecialty,
    Referrer,
    SitePrivilege,
)
from domain.models.reading import (
    Addendum,
    FollowUpRecommendation,
    Read,
    ReadingPace,
    Report,
    ResultCommunication,
    SatisfactionSurvey,
)
from domain.models.rules import AiTriageResult, RuleSetActivation, RuleSetVersion
from domain.models.scheduling import Appointment, Notification, SlotClaim

__all__ = [
    "Acquisition",
    "Addendum",
    "AiTriageResult",
    "Appointment",
    "ArchivedStudy",
    "ArchivedStudyState",
    "AuditEvent",
    "BalancerLeadership",
    "BalancerRun",
    "Exam",
    "ExamPrepItem",
    "ExamStatusChange",
    "FhirSubscription",
    "FollowUpRecommendation",
    "InboundMessage",
    "LegalHold",
    "MetadataValidation",
    "ModalityResource",
    "Notification",
    "OpeningHours",
    "OutboundCursor",
    "OutboxEvent",
    "OutboxPruned",
    "PacsFollower",
    "Patient",
    "PerformedProcedureStep",
    "PrepProtocol",
    "PrepProtocolItem",
    "Procedure",
    "ProcedureStepStatus",
    "PurgeOutcome",
    "Radiologist",
    "RadiologistSubspecialty",
    "Read",
    "ReadingPace",
    "Referrer",
    "Report",
    "ReportTemplate",
    "ResultCommunication",
    "RetentionRule",
    "RuleSetActivation",
    "RuleSetVersion",
    "SatisfactionSurvey",
    "ScheduledWork",
    "Shift",
    "Site",
    "SitePrivilege",
    "SlotClaim",
    "StoredStudy",
    "StudyPurge",
    "TurnaroundTarget",
]
