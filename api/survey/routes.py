"""GET /survey/<token> shows a small form; POST /survey/<token> records the answer.

The token is the invitation's signed link (application/surveys.py); nothing else identifies
the patient, so the page needs no account. Answers come as a form (`score`, `comment`) or as
JSON; a caller asking for JSON (`Accept: application/json`) gets JSON answers, a browser
gets a page. Refusals are typed, with the same codes as the GraphQL API's field issues:

| status | code | when |
|---|---|---|
| 400 | `LINK_INVALID` | the token was tampered with, signed with another key, or withdrawn |
| 410 | `LINK_EXPIRED` | the link is older than `RADFLOW_SURVEY_LINK_DAYS` |
| 409 | `ALREADY_SUBMITTED` | the survey was answered already (the link is used) |
| 422 | `OUT_OF_RANGE`, `INVALID_VALUE`, `TOO_LONG`, ... | a bad score or comment (`field`) |
| 413 | `TOO_LARGE` | a body over 16 KiB |
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from application.settings import Settings
from application.surveys import Invitee, SurveyLinks, answer, invitee, links_for
from domain import audit
from domain.db import Database
from domain.errors import DomainError, FieldIssue, IssueCode, ValidationFailed

MAX_BODY = 16 * 1024
STATUS = {
    IssueCode.LINK_INVALID: 400,
    IssueCode.LINK_EXPIRED: 410,
    IssueCode.ALREADY_SUBMITTED: 409,
}
POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
STYLE = "body{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"


class TooLarge(Exception):
    """The body is larger than a survey answer can be."""


def survey_routes(settings: Settings, db: Database) -> list[BaseRoute]:
    """The survey page's routes (none when no key signs the links)."""
    links = links_for(settings, db.clock)
    if links is None:
        return []
    return [
        Route("/survey/{token}", _page(db, links), methods=["GET"]),
        Route("/survey/{token}", _submit(db, links), methods=["POST"]),
    ]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _page(db: Database, links: SurveyLinks) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            await invitee(db, links, token)
        except ValidationFailed as refused:
            return _refusal(request, refused)
        return _html(
            "How was your visit?",
            '<form method="post"><fieldset><legend>Your rating (1 poor, 5 excellent)</legend>'
            + "".join(
                f'<label><input type="radio" name="score" value="{n}" required> {n}</label> '
                for n in range(1, 6)
            )
            + "</fieldset><p><label>Anything to tell us? (optional)<br>"
            '<textarea name="comment" maxlength="2000" rows="5" cols="40"></textarea>'
            '</label></p><p><button type="submit">Send</button></p></form>',
        )

    return page


def _submit(db: Database, links: SurveyLinks) -> Callable[[Request], Awaitable[Response]]:
    async def submit(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            score, comment = _answer(await _body(request), request.headers.get("content-type"))
            who = await invitee(db, links, token)
        except TooLarge:
            return _error(request, 413, "TOO_LARGE", "body", "a survey answer is at most 16 KiB")
        except ValidationFailed as refused:
            return _refusal(request, refused)
        return await _record(request, db, who, score, comment)

    return submit


async def _record(
    request: Request, db: Database, who: Invitee, score: int, comment: str | None
) -> Response:
    """The answer, recorded as the patient inside an audit trail (the record commits with it)."""
    trail = audit.Trail(
        actor=who.actor,
        client_address=request.client.host if request.client else None,
        operation="survey answer (link)",
        action=audit.AuditAction.CREATE,
        always=True,
    )
    trail.note_exam(who.exam_id, patient_id=who.patient_id)
    reset = audit.current_trail.set(trail)
    try:
        await answer(db, who, score=score, comment=comment)
    except DomainError as failed:
        audit.note_failure(f"survey answer: {failed.message}")
        refused = (
            failed
            if isinstance(failed, ValidationFailed)
            else ValidationFailed([FieldIssue("token", IssueCode.LINK_INVALID, failed.message)])
        )
        return _refusal(request, refused)
    finally:
        audit.current_trail.reset(reset)
        if trail.needs_record():
            await db.write_audit(trail)
    if _wants_json(request):
        return JSONResponse({"status": "RECORDED"}, status_code=201)
    return _html("Thank you", "<p>Your answer was recorded. Thank you for telling us.</p>", 201)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise TooLarge
    return body


def _answer(body: bytes, content_type: str | None) -> tuple[int, str | None]:
    """The score and comment of a form or JSON body; `ValidationFailed` naming the field."""
    fields: dict[str, object]
    try:
        if content_type and content_type.startswith("application/json"):
            loaded = json.loads(body)
            fields = loaded if isinstance(loaded, dict) else {}
        else:
            form = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=10)
            fields = {key: values[0] for key, values in form.items()}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            [FieldIssue("body", IssueCode.INVALID_FORMAT, f"cannot read the answer: {exc}")]
        ) from exc
    raw = fields.get("score")
    score = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw) < 6:
        score = int(raw)
    if score is None:
        raise ValidationFailed(
            [FieldIssue("score", IssueCode.INVALID_VALUE, "give a whole number from 1 to 5")]
        )
    comment = fields.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ValidationFailed([FieldIssue("comment", IssueCode.INVALID_VALUE, "must be text")])
    return score, (comment or None)


def _refusal(request: Request, refused: ValidationFailed) -> Response:
    issue = refused.issues[0]
    return _error(
        request, STATUS.get(issue.code, 422), issue.code.value, issue.field, issue.message
    )


def _error(request: Request, status: int, code: str, field: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"code": code, "field": field, "message": message}, status_code=status)
    return _html(
        "This survey cannot be answered",
        f'<p data-code="{html.escape(code)}">{html.escape(message)}</p>',
        status,
    )


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>"
    )
    return HTMLResponse(
        page,
        status_code=status,
        headers={
            "Content-Security-Policy": POLICY,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # the token stays out of other sites' logs
        },
    )
