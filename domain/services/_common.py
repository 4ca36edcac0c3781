"""What every command needs: loading an exam for change, guard facts, input checks."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, col

from domain.db import UnitOfWork
from domain.enums import CriticalLevel, ReportStatus, Role
from domain.errors import (
    Conflict,
    FieldIssue,
    IssueCode,
    MissingReportField,
    NotFound,
    NotPermitted,
    ValidationFailed,
)
from domain.lifecycle import Actor
from domain.models import (
    Exam,
    ExamPrepItem,
    MetadataValidation,
    Procedure,
    Report,
    ReportTemplate,
    ResultCommunication,
)
from domain.reporting import TemplateSection, parse_sections, unsignable_fields

M = TypeVar("M", bound=SQLModel)


def require_role(actor: Actor, roles: set[Role], action: str) -> None:
    """Refuse a command to roles that may not take it (NotPermitted names the action)."""
    if actor.role not in roles:
        raise NotPermitted(f"role {actor.role.value} may not {action}")


def load_exam(uow: UnitOfWork, exam_id: int, *, expected_version: int | None = None) -> Exam:
    """The exam to change; `expected_version` (the version the caller saw) guards lost updates."""
    exam = uow.session.get(Exam, exam_id)
    if exam is None:
        raise NotFound("exam", field="exam_id")
    uow.exam_id = exam_id
    if expected_version is not None and exam.version != expected_version:
        raise Conflict(
            exam_id=exam_id,
            accession_number=exam.accession_number,
            expected_version=expected_version,
            actual_version=exam.version,
        )
    return exam


def get_or_404(uow: UnitOfWork, model: type[M], key: int, *, entity: str, field: str) -> M:
    """A row by primary key, or NotFound naming the input field."""
    row = uow.session.get(model, key)
    if row is None:
        raise NotFound(entity, field=field)
    return row


def find_by(
    uow: UnitOfWork, model: type[M], column: str, value: object, *, entity: str, field: str
) -> M:
    """A row by a unique natural key (code, MRN, ...), or NotFound naming the input field."""
    row: M | None = uow.session.scalars(_by_natural_key(model, column), {"key": value}).first()
    if row is None:
        raise NotFound(entity, str(value), field=field)
    return row


@cache
def _by_natural_key(model: type[SQLModel], column: str) -> sa.Select[Any]:
    return sa.select(model).where(getattr(model, column) == sa.bindparam("key")).limit(1)


def exam_param() -> sa.BindParameter[int]:
    """The `exam_id` parameter of a statement built once and run for each exam."""
    return sa.bindparam("exam_id", type_=sa.Integer())


# The statements of the guard facts, built once (building and keying a statement for each
# command cost more than running it).
_OPEN_PREP_ITEMS = (
    sa.select(sa.func.count())
    .select_from(ExamPrepItem)
    .where(col(ExamPrepItem.exam_id) == exam_param(), col(ExamPrepItem.completed_at).is_(None))
)
_LATEST_VALIDATION = (
    sa.select(MetadataValidation)
    .where(col(MetadataValidation.exam_id) == exam_param())
    .order_by(col(MetadataValidation.id).desc())
    .limit(1)
)
REPORT_OF_EXAM = sa.select(Report).where(col(Report.exam_id) == exam_param())
_UNACKNOWLEDGED_CRITICAL = (
    sa.select(sa.func.count())
    .select_from(ResultCommunication)
    .where(
        col(ResultCommunication.exam_id) == exam_param(),
        col(ResultCommunication.critical_level).in_([CriticalLevel.CRITICAL, CriticalLevel.URGENT]),
        col(ResultCommunication.acknowledged_at).is_(None),
    )
)


class Checks:
    """Collects every bad input field, then fails once with all of them."""

    def __init__(self) -> None:
        self.issues: list[FieldIssue] = []

    def require(self, ok: bool, field: str, code: IssueCode, message: str) -> None:
        """Record an issue unless `ok`."""
        if not ok:
            self.issues.append(FieldIssue(field=field, code=code, message=message))

    def text(
        self, value: str | None, field: str, *, max_length: int, required: bool = True
    ) -> None:
        """A free-text field: present when required, bounded, no control characters."""
        if value is None or not value.strip():
            self.require(not required, field, IssueCode.REQUIRED, "must not be empty")
            return
        self.require(
            len(value) <= max_length,
            field,
            IssueCode.TOO_LONG,
            f"must be at most {max_length} characters (got {len(value)})",
        )
        self.require(
            not any(ord(c) < 32 and c not in "\n\r\t" for c in value),
            field,
            IssueCode.CONTROL_CHARACTERS,
            "must not contain control characters",
        )

    def done(self) -> None:
        """Raise ValidationFailed if any issue was recorded."""
        if self.issues:
            raise ValidationFailed(self.issues)


class SessionFacts:
    """The guard facts of one exam, each read from the database only when a guard asks."""

    def __init__(
        self,
        uow: UnitOfWork,
        exam: Exam,
        *,
        report: Report | None = None,
        checklist: list[ExamPrepItem] | None = None,
    ) -> None:
        """`report`, `checklist`: the exam's report and whole prep checklist, when the command
        has already loaded them (the guards then read no more)."""
        self._uow = uow
        self._exam = exam
        self._checklist = checklist
        self._report = report
        self._report_loaded = report is not None

    def _scalar(self, query: sa.Select[Any]) -> int:
        return int(self._uow.session.scalar(query, {"exam_id": self._exam.id}) or 0)

    def prep_complete(self) -> bool:
        if self._checklist is not None:
            return all(item.completed_at is not None for item in self._checklist)
        return self._scalar(_OPEN_PREP_ITEMS) == 0

    def metadata_valid(self) -> bool:
        latest = self._uow.session.scalars(_LATEST_VALIDATION, {"exam_id": self._exam.id}).first()
        return latest is not None and latest.valid

    def report(self) -> Report | None:
        if not self._report_loaded:
            self._report = self._uow.session.scalars(
                REPORT_OF_EXAM, {"exam_id": self._exam.id}
            ).first()
            self._report_loaded = True
        return self._report

    def report_complete(self) -> bool:
        report = self.report()
        return report is not None and not unsignable(self._uow, self._exam, report)

    def final_report_signed(self) -> bool:
        report = self.report()
        return report is not None and report.status == ReportStatus.FINAL

    def critical_results_acknowledged(self) -> bool:
        return self._scalar(_UNACKNOWLEDGED_CRITICAL) == 0


def template_for(uow: UnitOfWork, exam: Exam) -> ReportTemplate | None:
    """The structured report template of the exam's procedure, if it has one."""
    procedure = uow.session.get(Procedure, exam.procedure_id)
    if procedure is None or procedure.report_template_id is None:
        return None
    template = uow.session.get(ReportTemplate, procedure.report_template_id)
    uow.hold(template)  # asked again later in the same command: no second statement
    return template


def template_sections(uow: UnitOfWork, exam: Exam) -> tuple[TemplateSection, ...]:
    """The sections of the exam's report template (none when its procedure has no template)."""
    template = template_for(uow, exam)
    return parse_sections(template.sections) if template is not None else ()


def unsignable(uow: UnitOfWork, exam: Exam, report: Report | None) -> list[MissingReportField]:
    """What keeps the exam's report from being signed (everything, when there is no draft)."""
    content = report.content if report is not None else {}
    impression = report.impression if report is not None else ""
    return unsignable_fields(template_sections(uow, exam), content, impression)


def first(rows: Iterable[M]) -> M | None:
    """The first row or None."""
    return next(iter(rows), None)
