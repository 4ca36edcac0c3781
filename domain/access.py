"""Who may see which exams and patients: object-level access, as SQL the read models apply.

Each role sees what its work needs (docs/security.md):

- supervisors, admins, schedulers and integrations: every exam (integrations without their
  patients' names, birth dates and contact details unless their token grants PHI);
- a referrer: the exams they ordered, and those exams' patients;
- a patient: their own exams and record;
- a radiologist: the studies on their worklist and the ones they read or were assigned before;
- a technologist: the exams at the sites they work at;
- anyone else (anonymous, an unknown role): nothing.

A scope is data (a kind and its values) so statements can be built once per kind and cached,
with the subject and sites bound as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.enums import Modality, Role
from domain.lifecycle import Actor
from domain.loaded_rows import as_loaded, columns_of
from domain.models import Exam
from domain.prepared import PreparedStatement
from domain.tables import EXAMS, PATIENTS, PROCEDURES, RADIOLOGISTS, READS, REFERRERS, SITES


class ScopeKind(StrEnum):
    """How an actor's view of exams is bounded."""

    ALL = "all"
    REFERRER = "referrer"
    PATIENT = "patient"
    READER = "reader"
    SITES = "sites"
    NOTHING = "nothing"


UNBOUNDED = {Role.SUPERVISOR, Role.ADMIN, Role.SCHEDULER, Role.INTEGRATION, Role.SYSTEM}
_KINDS = {
    Role.REFERRER: ScopeKind.REFERRER,
    Role.PATIENT: ScopeKind.PATIENT,
    Role.RADIOLOGIST: ScopeKind.READER,
    Role.TECHNOLOGIST: ScopeKind.SITES,
}


@dataclass(frozen=True)
class Scope:
    """The exams an actor may see: a kind, and the subject or sites it is bound to."""

    kind: ScopeKind
    subject: str = ""
    sites: tuple[str, ...] = ()

    @property
    def unbounded(self) -> bool:
        return self.kind is ScopeKind.ALL

    def parameters(self, *, site_by_site: bool = False) -> dict[str, Any]:
        """The values bound into a statement built by `exam_clause` for this kind (with
        `site_by_site`, by one built for this many sites)."""
        if self.kind is ScopeKind.SITES and site_by_site:
            return {f"scope_site_{i}": code for i, code in enumerate(self.sites)}
        if self.kind is ScopeKind.SITES:
            return {"scope_sites": list(self.sites)}
        if self.kind in (ScopeKind.REFERRER, ScopeKind.PATIENT, ScopeKind.READER):
            return {"scope_subject": self.subject}
        return {}


EVERYTHING = Scope(ScopeKind.ALL)


def scope_of(actor: Actor) -> Scope:
    """The exams `actor` may see."""
    if actor.role in UNBOUNDED:
        return EVERYTHING
    kind = _KINDS.get(actor.role, ScopeKind.NOTHING)
    return Scope(kind, actor.id, tuple(sorted(actor.sites)))


def exam_clause(
    kind: ScopeKind, *, per_row: bool = False, sites: int | None = None
) -> sa.ColumnElement[bool] | None:
    """The condition on the exams table for a scope kind (values bound as parameters).

    `sites`: for a scope of sites, bind this many site codes one by one (`scope_site_0`, ...)
    instead of one list, which expands as the statement runs (a prepared statement, compiled
    once, cannot expand).

    `per_row`: the query asks about a few given exams. A reader's scope is then checked per
    exam (an EXISTS on that exam's reads, by index) instead of as the set of every exam the
    reader ever read, which SQLite builds in full for each query: measured on
    bench.lifecycle, that load of a reader's exam went from 110 to 200 us over 1,500 reads.
    """
    e = EXAMS.c
    subject = sa.bindparam("scope_subject", type_=sa.String())
    if kind is ScopeKind.ALL:
        return None
    if kind is ScopeKind.READER and per_row:
        return sa.exists().where(
            READS.c.exam_id == e.id,
            RADIOLOGISTS.c.id == READS.c.radiologist_id,
            RADIOLOGISTS.c.code == subject,
        )
    if kind is ScopeKind.REFERRER:
        return e.referrer_id.in_(sa.select(REFERRERS.c.id).where(REFERRERS.c.code == subject))
    if kind is ScopeKind.PATIENT:
        return e.patient_id.in_(sa.select(PATIENTS.c.id).where(PATIENTS.c.mrn == subject))
    if kind is ScopeKind.READER:
        return e.id.in_(
            sa.select(READS.c.exam_id)
            .join(RADIOLOGISTS, RADIOLOGISTS.c.id == READS.c.radiologist_id)
            .where(RADIOLOGISTS.c.code == subject)
        )
    if kind is ScopeKind.SITES:
        codes: sa.BindParameter[Any] | list[sa.BindParameter[str]] = (
            sa.bindparam("scope_sites", expanding=True)
            if sites is None
            else [sa.bindparam(f"scope_site_{i}", type_=sa.String()) for i in range(sites)]
        )
        return e.site_id.in_(sa.select(SITES.c.id).where(SITES.c.code.in_(codes)))
    return sa.false()


def visible_exam_ids(session: Session, actor: Actor, exam_ids: list[int]) -> set[int]:
    """Which of `exam_ids` the actor may see."""
    scope = scope_of(actor)
    if scope.unbounded or not exam_ids:
        return set(exam_ids)
    clause = exam_clause(scope.kind, per_row=True)
    query = sa.select(EXAMS.c.id).where(EXAMS.c.id.in_(exam_ids))
    if clause is not None:
        query = query.where(clause)
    return set(session.scalars(query, scope.parameters()))


def load_visible_exam(
    session: Session, actor: Actor, exam_id: int
) -> tuple[Exam, Modality, str] | None:
    """The exam (loaded into the session for the command that follows), its procedure's
    modality (for the outbox) and its patient's MRN (for the audit record), if the actor may
    see the exam.

    One statement: the access check is the load, and the command's own lookups then find the
    exam in the session, as long as the caller holds on to it (the session keeps only weak
    references). The procedure is the catalogue's (domain/reference_rows.py): loading it as
    a second object here cost more than the command's lookup of the kept copy. The exam's
    columns are read by Core and handed to the session as loaded (domain/loaded_rows.py).
    """
    scope = scope_of(actor)
    sites = len(scope.sites) if scope.kind is ScopeKind.SITES else 0
    query = _exam_for_command(None if scope.unbounded else scope.kind, sites)
    parameters = {**scope.parameters(site_by_site=True), "exam_id": exam_id}
    row = query.execute(session.connection(), [parameters]).first()
    if row is None:
        return None
    return as_loaded(session, Exam, row[:-2]), row[-2], row[-1]


@cache
def _exam_for_command(kind: ScopeKind | None, sites: int) -> PreparedStatement:
    """The statement of `load_visible_exam` for a scope kind (and for a scope of sites, their
    number: each site code its own parameter, where a list would expand as the statement
    runs), built once and compiled once per dialect (domain/prepared.py): the exam's columns,
    its procedure's modality, its patient's MRN."""
    query = (
        sa.select(*columns_of(Exam), PROCEDURES.c.modality, PATIENTS.c.mrn)
        .join(PROCEDURES, PROCEDURES.c.id == EXAMS.c.procedure_id)
        .join(PATIENTS, PATIENTS.c.id == EXAMS.c.patient_id)
        .where(EXAMS.c.id == sa.bindparam("exam_id", type_=sa.Integer()))
    )
    names = ["exam_id", "scope_subject", *(f"scope_site_{i}" for i in range(sites))]
    clause = None if kind is None else exam_clause(kind, per_row=True, sites=sites)
    if clause is not None:
        query = query.where(clause)
    return PreparedStatement(query, names)


def visible_patient_ids(session: Session, actor: Actor, patient_ids: list[int]) -> set[int]:
    """Which of `patient_ids` the actor may see: their own record, or one of a visible exam."""
    scope = scope_of(actor)
    if scope.unbounded or not patient_ids:
        return set(patient_ids)
    if scope.kind is ScopeKind.PATIENT:
        query = sa.select(PATIENTS.c.id).where(
            PATIENTS.c.id.in_(patient_ids), PATIENTS.c.mrn == actor.id
        )
        return set(session.scalars(query))
    clause = exam_clause(scope.kind)
    query = sa.select(EXAMS.c.patient_id).where(EXAMS.c.patient_id.in_(patient_ids)).distinct()
    if clause is not None:
        query = query.where(clause)
    return set(session.scalars(query, scope.parameters()))
