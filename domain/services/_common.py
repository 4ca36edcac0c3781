"""What every command needs: loading an exam for change, guard facts, input checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from sqlmodel import SQLModel

from domain.enums import ReportStatus, Role
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
    Procedure,
    Report,
    ReportTemplate,
)
from domain.reporting import TemplateSection, parse_sections, unsignable_fields
from domain.repositories import UnitOfWork
from domain.types import pk

M = TypeVar("M", bound=SQLModel)
# The control characters free text may not hold: below 32, but for tab, line feed and return.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def require_role(actor: Actor, roles: set[Role], action: str) -> None:
    """Refuse a command to roles that may not take it (NotPermitted names the action)."""
    if actor.role not in roles:
        raise NotPermitted(f"role {actor.role.value} may not {action}")


def load_exam(uow: UnitOfWork, exam_id: int, *, expected_version: int | None = None) -> Exam:
    """The exam to change; `expected_version` (the version the caller saw) guards lost updates."""
    exam = uow.exams.get(exam_id)
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
    row = uow.department.get(model, key)
    if row is None:
        raise NotFound(entity, field=field)
    return row


def find_by(
    uow: UnitOfWork, model: type[M], column: str, value: object, *, entity: str, field: str
) -> M:
    """A row by a unique natural key (code, MRN, ...), or NotFound naming the input field."""
    row = uow.department.find(model, column, value)
    if row is None:
        raise NotFound(entity, str(value), field=field)
    return row


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
            CONTROL_CHARACTERS.search(value) is None,
            field,
            IssueCode.CONTROL_CHARACTERS,
            "must not contain control characters",
        )

    def done(self) -> None:
        """Raise ValidationFailed if any issue was recorded."""
        if self.issues:
            raise ValidationFailed(self.issues)


class GuardFacts:
    """The guard facts of one exam, each read from the database only when a guard asks."""

    def __init__(
        self,
        uow: UnitOfWork,
        exam: Exam,
        *,
        report: Report | None = None,
        open_prep_items: int | None = None,
        metadata_valid: bool | None = None,
    ) -> None:
        """`report`, `open_prep_items`, `metadata_valid`: the exam's report, how many of its
        prep items are not done, and whether its latest metadata validation passed, when the
        command already knows (the guards then read no more)."""
        self._uow = uow
        self._exam = exam
        self._open_prep_items = open_prep_items
        self._metadata_valid = metadata_valid
        self._report = report
        self._report_loaded = report is not None

    def prep_complete(self) -> bool:
        if self._open_prep_items is not None:
            return self._open_prep_items == 0
        return self._uow.prep.open_count(pk(self._exam)) == 0

    def metadata_valid(self) -> bool:
        if self._metadata_valid is not None:
            return self._metadata_valid
        latest = self._uow.acquisitions.latest_validation(pk(self._exam))
        if latest is None or not latest.valid:
            return False
        # of the last attempt's study: a repeat's new study needs its own check
        return latest.attempt == self._uow.acquisitions.before_start(pk(self._exam)).attempts

    def report(self) -> Report | None:
        if not self._report_loaded:
            self._report = self._uow.reports.of_exam(pk(self._exam))
            self._report_loaded = True
        return self._report

    def report_complete(self) -> bool:
        report = self.report()
        return report is not None and not unsignable(self._uow, self._exam, report)

    def final_report_signed(self) -> bool:
        report = self.report()
        return report is not None and report.status == ReportStatus.FINAL

    def critical_results_acknowledged(self) -> bool:
        return self._uow.reports.unacknowledged_critical(pk(self._exam)) == 0


def template_for(uow: UnitOfWork, exam: Exam) -> ReportTemplate | None:
    """The structured report template of the exam's procedure, if it has one."""
    procedure = uow.department.get(Procedure, exam.procedure_id)
    if procedure is None or procedure.report_template_id is None:
        return None
    template = uow.department.get(ReportTemplate, procedure.report_template_id)
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
