"""Follow-up queries: the list of recommendations, keyset paged, bounded by the caller's view."""

from __future__ import annotations

import base64
import binascii
from datetime import date

import strawberry

from api.context import Info
from api.exams.types import FollowUp
from api.relay import Connection, page_of
from api.results.inputs import FollowUpFilter
from api.selection import selected_fields
from domain.access import scope_of
from domain.enums import FollowUpStatus
from domain.errors import FieldIssue, IssueCode, ValidationFailed
from domain.follow_up_list import FollowUpCriteria, count_follow_ups, follow_up_page
from domain.queries import MAX_PAGE


def encode_cursor(row: FollowUp) -> str:
    """An opaque cursor holding the follow-up's position (due date, then id)."""
    return base64.urlsafe_b64encode(f"{row.due_on.isoformat()}|{row.pk}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[date, int]:
    """The position of a cursor, or a typed error naming `after`."""
    try:
        stamp, _, pk = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return date.fromisoformat(stamp), int(pk)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValidationFailed(
            [FieldIssue("after", IssueCode.INVALID_CURSOR, "not a cursor of this list")]
        ) from exc


@strawberry.type
class ResultsQueries:
    @strawberry.field(
        description="Follow-up recommendations, soonest due first, keyset-paginated: those of "
        "the exams the caller may see (a referrer's own orders, a technologist's sites)."
    )
    async def follow_ups(
        self,
        info: Info,
        filter: FollowUpFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[FollowUp]:
        if not 0 < first <= MAX_PAGE:
            raise ValidationFailed(
                [FieldIssue("first", IssueCode.OUT_OF_RANGE, f"must be between 1 and {MAX_PAGE}")]
            )
        position = decode_cursor(after) if after else None
        f = filter or FollowUpFilter()
        criteria = FollowUpCriteria(
            scope=scope_of(info.context.actor),
            today=info.context.db.clock().date(),
            statuses=[FollowUpStatus(s) for s in f.status or []],
            overdue=f.overdue,
            referrer_code=f.referrer,
            site_code=f.site,
        )
        rows = await info.context.db.read(
            lambda s: follow_up_page(s, criteria, first=first + 1, after=position), bounded=True
        )
        total = None
        if "totalCount" in selected_fields(info):
            total = await info.context.db.read(lambda s: count_follow_ups(s, criteria))
        return page_of(
            [FollowUp.from_model(r) for r in rows[:first]],
            encode_cursor,
            more=len(rows) > first,
            after=after,
            total=total,
        )
