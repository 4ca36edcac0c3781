"""Survey links: a patient answers the satisfaction survey from a signed, expiring link.

The invitation (queued when the result is communicated) is sent with a link whose token is the
invitation's notification id, signed with the server's key and stamped with the time it was
sent, by itsdangerous (an HMAC-SHA256 of the id and the time). The token names no patient and
no exam: opening it looks the invitation up. A token whose signature does not match was
tampered with (or signed with another key); one older than its lifetime has expired; an
invitation already answered refuses a second answer. The answer is recorded through the
`submitSurvey` command as the patient (their MRN, role PATIENT), so it is authorised, scoped
and audited like any patient's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from sqlmodel import col

from application.commands import Commands
from application.settings import Settings
from domain.db import Database
from domain.enums import NotificationStatus, NotificationTemplate, Respondent, Role
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.lifecycle import Actor
from domain.models import Notification, Patient, SatisfactionSurvey
from domain.services.results import submit_survey

SALT = "radflow.survey-invitation"  # keeps these signatures apart from any other use of the key
DEVELOPMENT_KEY = "radflow-development-survey-key-do-not-use-in-production"


def _refused(code: IssueCode, message: str) -> ValidationFailed:
    return ValidationFailed([FieldIssue("token", code, message)])


class SurveyLinks:
    """Signs an invitation's id into a link token, and opens a token back into the id."""

    def __init__(self, secret: str, lifetime: timedelta, clock: Callable[[], datetime]) -> None:
        self.lifetime = lifetime

        class Signer(TimestampSigner):
            def get_timestamp(self) -> int:  # the application's clock, not the host's
                return int(clock().timestamp())

        self._serializer = URLSafeTimedSerializer(
            secret,
            salt=SALT,
            signer=Signer,
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def token(self, invitation_id: int) -> str:
        """The token of one invitation, valid for `lifetime` from now."""
        return self._serializer.dumps(invitation_id)

    def invitation(self, token: str) -> int:
        """The invitation a token was signed for; `ValidationFailed` on field `token` with
        LINK_EXPIRED or LINK_INVALID (tampered, truncated, another key)."""
        try:
            value = self._serializer.loads(token, max_age=int(self.lifetime.total_seconds()))
        except SignatureExpired as exc:
            raise _refused(
                IssueCode.LINK_EXPIRED,
                "this survey link has expired; it is valid for "
                f"{self.lifetime.days} days after it was sent",
            ) from exc
        except BadSignature as exc:
            raise _refused(IssueCode.LINK_INVALID, "this survey link is not valid") from exc
        if not isinstance(value, int) or isinstance(value, bool):
            raise _refused(IssueCode.LINK_INVALID, "this survey link is not valid")
        return value


def links_for(settings: Settings, clock: Callable[[], datetime]) -> SurveyLinks | None:
    """The links of this configuration: signed with RADFLOW_SURVEY_SECRET, else the bearer
    tokens' secret, else (development only) a fixed key; None in production with neither."""
    secret = settings.survey_secret or settings.jwt_secret
    if not secret and settings.production:
        return None
    return SurveyLinks(secret or DEVELOPMENT_KEY, timedelta(days=settings.survey_link_days), clock)


def survey_link_for(
    settings: Settings, clock: Callable[[], datetime]
) -> Callable[[int], str] | None:
    """How the delivery worker writes an invitation's link; None when no address or key is
    configured."""
    links, base = links_for(settings, clock), settings.survey_link_base
    if links is None or base is None:
        return None
    return lambda invitation_id: f"{base}/{links.token(invitation_id)}"


@dataclass(frozen=True, slots=True)
class Invitee:
    """Who an invitation asks, and about which exam."""

    exam_id: int
    actor: Actor  # the patient, as a command's actor (MRN, role PATIENT)
    patient_id: int


def _invitee(session: Session, invitation_id: int) -> Invitee | None:
    row = session.execute(
        sa.select(col(Notification.exam_id), col(Patient.id), col(Patient.mrn))
        .join(Patient, col(Patient.id) == col(Notification.recipient_id))
        .where(
            col(Notification.id) == invitation_id,
            col(Notification.template) == NotificationTemplate.SURVEY_INVITATION,
            col(Notification.recipient_kind) == "patient",
            col(Notification.status) != NotificationStatus.CANCELLED,
        )
    ).first()
    if row is None:
        return None
    exam_id, patient_id, mrn = row
    if exam_id is None or patient_id is None:
        return None
    return Invitee(exam_id, Actor(mrn, Role.PATIENT), patient_id)


async def invitee(db: Database, links: SurveyLinks, token: str) -> Invitee:
    """Who a survey link invites; `ValidationFailed` (field `token`) when the link is expired,
    tampered with, or its invitation was withdrawn."""
    invitation_id = links.invitation(token)
    found = await db.read(lambda s: _invitee(s, invitation_id))
    if found is None:
        raise _refused(IssueCode.LINK_INVALID, "this survey link is not valid")
    return found


async def answer(
    db: Database, who: Invitee, *, score: int, comment: str | None
) -> SatisfactionSurvey:
    """Record the patient's answer once (`ALREADY_SUBMITTED` for a second one)."""
    survey, _ = await Commands(db, who.actor).on_exam(
        "submitSurvey",
        who.exam_id,
        lambda uow, actor, exam_id: submit_survey(
            uow=uow,
            actor=actor,
            exam_id=exam_id,
            respondent=Respondent.PATIENT,
            score=score,
            comment=comment,
        ),
    )
    return survey
