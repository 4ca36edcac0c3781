"""The floor of a lifecycle mutation: the least one can do, on the same HTTP and GraphQL stack.

`mount_floor(app)` adds `/floor` to radflow's own app: a strawberry GraphQL endpoint behind the
same hardening middleware (rate limit, content type, body size), with the same JSON parsing,
parser and validation caches, input conversion (api/conversion.py) and bearer-token check,
whose one mutation `advanceExam` reads the exam, checks the version the caller saw, updates
the exam's status and version, inserts one history row and commits, on the app's own database
(on SQLite a connection kept between requests, as radflow's command sessions keep theirs), its
statements prepared and sent as radflow's commands send theirs (domain/prepared.py:
nothing of the ORM, no access check, outbox, audit record or guards). Whatever radflow's stack
gains, the floor gains too, so the ratio is what radflow's own work costs.
bench.lifecycle drives it over the same exams, count and transport as radflow's mutations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import strawberry
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache

from api.auth import AuthenticationFailed
from api.context import actor_from_request
from api.conversion import compile_inputs
from api.hardening import Hardening, JsonBodies
from api.limits import DocumentValidationCache
from api.relay import decode_id
from domain.db import Database
from domain.lifecycle import Actor
from domain.prepared import PreparedStatement
from domain.tables import EXAM_HISTORY, EXAMS
from domain.types import utcnow

PATH = "/floor"
DOCUMENT = (
    "mutation($input: AdvanceExamInput!) { advanceExam(input: $input) { __typename "
    "... on ExamAdvanced { version } ... on VersionConflict { actualVersion } } }"
)

_READ = PreparedStatement(
    sa.select(EXAMS.c.status, EXAMS.c.version).where(EXAMS.c.id == sa.bindparam("exam_id")),
    ["exam_id"],
)
_UPDATE = PreparedStatement(
    sa.update(EXAMS)
    .where(EXAMS.c.id == sa.bindparam("exam_id"), EXAMS.c.version == sa.bindparam("seen"))
    .values(
        status=sa.bindparam("to_status"),
        version=sa.bindparam("next_version"),
        status_changed_at=sa.bindparam("at"),
    ),
    ["exam_id", "seen", "to_status", "next_version", "at"],
)
_HISTORY = PreparedStatement(
    sa.insert(EXAM_HISTORY),
    ["exam_id", "from_status", "to_status", "event", "actor", "role", "at", "reason"],
)


@strawberry.input
class AdvanceExamInput:
    exam_id: strawberry.ID
    version: int
    to_status: str


@strawberry.type
class ExamAdvanced:
    version: int


@strawberry.type
class VersionConflict:
    actual_version: int


def _advance(
    connection: sa.Connection, actor: Actor, exam_id: int, seen: int, to_status: str
) -> ExamAdvanced | VersionConflict:
    status, version = _READ.execute(connection, [{"exam_id": exam_id}]).one()
    if version != seen:
        return VersionConflict(actual_version=version)
    at = utcnow()
    parameters = {"exam_id": exam_id, "seen": seen, "next_version": seen + 1}
    _UPDATE.execute(connection, [{**parameters, "to_status": to_status, "at": at}])
    _HISTORY.execute(connection, [_history_row(exam_id, status, to_status, actor, at)])
    return ExamAdvanced(version=seen + 1)


def _history_row(
    exam_id: int, from_status: str, to_status: str, actor: Actor, at: datetime
) -> dict[str, Any]:
    return {
        "exam_id": exam_id,
        "from_status": from_status,
        "to_status": to_status,
        "event": "FLOOR",
        "actor": actor.id,
        "role": actor.role,
        "at": at,
        "reason": None,
    }


def _schema(db: Database) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def ok(self) -> bool:
            return True

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        async def advance_exam(
            self, info: strawberry.Info, input: AdvanceExamInput
        ) -> ExamAdvanced | VersionConflict:
            actor: Actor = info.context["actor"]
            exam_id = decode_id(input.exam_id, "Exam", field="exam_id")
            arguments = (actor, exam_id, input.version, input.to_status)
            if db.sync_engine is not None:
                # On the loop thread and a kept connection, as radflow's commands run.
                with db.kept_transaction() as connection:
                    return _advance(connection, *arguments)
            assert db.async_engine is not None
            async with db.async_engine.begin() as connection:
                return await connection.run_sync(_advance, *arguments)

    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[lambda: ParserCache(maxsize=256), DocumentValidationCache],
    )
    compile_inputs(schema)  # radflow's input conversion (api/conversion.py)
    return schema


class FloorGraphQL(JsonBodies, GraphQL[dict[str, Any], None]):
    """A GraphQL view whose context is the caller's verified token, as radflow's is."""

    def __init__(self, db: Database, settings: Any) -> None:
        super().__init__(_schema(db), graphql_ide=None, allow_queries_via_get=False)
        self.settings = settings

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        try:
            actor = actor_from_request(request, self.settings)
        except AuthenticationFailed as exc:
            raise HTTPException(401, str(exc)) from exc
        return {"actor": actor}


def mount_floor(app: Starlette) -> None:
    """Serve the floor at `/floor` in `app`, behind the same hardening as `/graphql`."""
    settings = app.state.settings
    # First among the routes, as /graphql is first among radflow's: routing costs both alike.
    app.router.routes.insert(0, Route(PATH, FloorGraphQL(app.state.db, settings), methods=["POST"]))
    app.add_middleware(Hardening, settings=settings, path=PATH)


def request_of(exam_id: str, version: int, to_status: str) -> dict[str, Any]:
    """The JSON body of one floor mutation."""
    variables = {"input": {"examId": exam_id, "version": version, "toStatus": to_status}}
    return {"query": DOCUMENT, "variables": variables}
