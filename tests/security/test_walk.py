"""Nothing outside a caller's scope leaks, on any path: the whole schema walked as every role.

A small department of several worlds (referrers, patients, sites, readers) is built through
the real services. Then, for every role, every root query field, every mutation and every
subscription is called over real HTTP and a real WebSocket with the ids, accession numbers,
MRNs, codes and placer numbers of objects the caller may not see; the selection asks for every
field the schema offers, a few levels deep. Every response and event, errors and their
messages included, is walked, and any string of an object the caller may not see fails the
test: an exam's global id or accession number, a patient's MRN, global id, name, birth date
or contact, a follow-up's global id. What the caller itself sent is not counted (echoing an
input reveals nothing); what they may see is recomputed after each call (ordering for a
patient makes that patient theirs).

Who may see what is written here again from docs/security.md, as plain SQL, rather than
borrowed from `domain.access`: the test checks the code against the documented rule, not
against itself. A server error is also a failure, for every role.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLUnionType,
    Undefined,
)
from websockets.asyncio.client import connect

from api.app import create_app
from api.permissions import MATRIX
from api.relay import to_global_id
from api.schema import build_schema
from application.settings import Settings
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus, PatientClass, Priority, Role
from domain.lifecycle import Actor
from domain.models import Exam
from domain.services import follow_ups, orders
from tests.conftest import Clock, on_loopback, token_for
from tests.factories import RADIOLOGIST, drive, reference
from tests.snapshots import Snapshot, restore, take

pytestmark = pytest.mark.usefixtures("backend")

SCHEMA = build_schema(Settings())._schema
DEPTH = 4  # object levels below each root field
WAIT = 30.0  # how long a condition that must come true may take on a loaded machine


@dataclass(frozen=True)
class Caller:
    subject: str
    role: Role
    sites: tuple[str, ...] | None = None
    phi: bool | None = None

    def token(self) -> str:
        return token_for(
            self.subject,
            self.role.value,
            sites=list(self.sites) if self.sites is not None else None,
            phi=self.phi,
        )


CALLERS = {
    "referrer": Caller("REF01", Role.REFERRER),
    "patient": Caller("MRN000001", Role.PATIENT),
    "radiologist": Caller("RAD01", Role.RADIOLOGIST),  # reads nothing here: every exam is foreign
    "technologist": Caller("tech.north", Role.TECHNOLOGIST, sites=("NORTH",)),
    "integration": Caller("ris.bridge", Role.INTEGRATION, phi=False),
    "scheduler": Caller("frontdesk", Role.SCHEDULER),
    "supervisor": Caller("sup.ortiz", Role.SUPERVISOR),
    "admin": Caller("admin", Role.ADMIN),
}


# -- the department ---------------------------------------------------------------------------


@dataclass
class World:
    """The exams built for the walk, by name, and the marker exam subscriptions are woken by."""

    db: Database
    exams: dict[str, int] = field(default_factory=dict)
    follow_ups: dict[str, int] = field(default_factory=dict)


async def place(
    db: Database, referrer: str, mrn: str, procedure: str, site: str, placer: str
) -> int:
    placed = await db.run(
        lambda uow: orders.place_order(
            uow=uow,
            actor=Actor(referrer, Role.REFERRER),
            order_source="EPIC",
            placer_order_number=placer,
            patient_mrn=mrn,
            referrer_code=referrer,
            procedure_code=procedure,
            site_code=site,
            priority=Priority.URGENT,
            patient_class=PatientClass.INPATIENT,
            indication="pain",
            icd10_code="R10.9",
        )
    )
    assert placed.exam.id is not None
    return placed.exam.id


async def build(db: Database) -> World:
    """Six exams over three referrers, six patients, two sites and several statuses; RAD03
    reads the two that reach a report, both with a critical finding; one has a follow-up."""
    await reference(db)
    world = World(db)
    plan = [
        ("e1", "REF01", "MRN000001", "USABD", "NORTH", ExamStatus.COMMUNICATED),
        ("e2", "REF02", "MRN000002", "CTAP", "MAIN", ExamStatus.COMMUNICATED),
        ("e3", "REF02", "MRN000003", "USABD", "NORTH", ExamStatus.READY_FOR_READ),
        ("e4", "REF03", "MRN000004", "CTHEAD", "MAIN", ExamStatus.SCHEDULED),
        # ready, but nobody on shift may read it: the balancer lists it as unassignable
        ("e5", "REF02", "MRN000005", "CTHEAD", "MAIN", ExamStatus.READY_FOR_READ),
        ("marker", "REF03", "MRN000009", "CTHEAD", "MAIN", ExamStatus.ORDERED),
    ]
    for n, (name, referrer, mrn, procedure, site, target) in enumerate(plan, 1):
        pk = await place(db, referrer, mrn, procedure, site, f"ORD{n:06d}")
        exam = await db.read(lambda s, pk=pk: s.get(Exam, pk))
        await drive(db, exam, target, procedure=procedure, critical=CriticalLevel.CRITICAL)
        world.exams[name] = pk
    follow_up = await db.run(
        lambda uow: follow_ups.record_follow_up(
            uow=uow,
            actor=RADIOLOGIST,
            exam_id=world.exams["e2"],
            recommendation="CT in 3 months",
            due_on=uow.now.date() + timedelta(days=90),
        )
    )
    assert follow_up.id is not None
    world.follow_ups["e2"] = follow_up.id
    return world


# -- who may see what (docs/security.md, "Object-level access") ------------------------------

_EXAMS = sa.text(
    "SELECT e.id, e.accession_number, r.code AS referrer, p.mrn, s.code AS site, p.id AS pid "
    "FROM exams e JOIN referrers r ON r.id = e.referrer_id JOIN patients p ON p.id = e.patient_id "
    "JOIN sites s ON s.id = e.site_id"
)
_READS = sa.text(
    "SELECT rd.exam_id, ra.code FROM reads rd JOIN radiologists ra ON ra.id = rd.radiologist_id"
)
_PATIENTS = sa.text(
    "SELECT id, mrn, given_name, family_name, birth_date, phone, email FROM patients"
)
_FOLLOW_UPS = sa.text("SELECT id, exam_id FROM follow_up_recommendations")
_PEOPLE = sa.text(
    "SELECT name FROM referrers UNION ALL SELECT name FROM radiologists "
    "UNION ALL SELECT name FROM sites UNION ALL SELECT name FROM procedures"
)


@dataclass
class Secrets:
    """What one caller may not see, as the strings that would show it."""

    exact: set[str]  # ids, accession numbers, MRNs, contacts, dates: found as substrings
    words: set[str]  # names: found as whole words
    nodes: set[str]  # the global ids among `exact`, each asked for through `node(id:)`

    def __bool__(self) -> bool:
        return bool(self.exact or self.words)

    def find(self, text: str, sent: str) -> list[str]:
        """The secrets in `text` that the caller did not send themselves."""
        hits = [s for s in self.exact if s in text and s not in sent]
        hits += [w for w in self.words if re.search(rf"\b{re.escape(w)}\b", text) and w not in sent]
        return hits


EVERY_EXAM = {Role.SUPERVISOR, Role.ADMIN, Role.SCHEDULER, Role.INTEGRATION}


def visible_exam(caller: Caller, row: Any, reads: dict[int, set[str]]) -> bool:
    match caller.role:
        case Role.REFERRER:
            return bool(row.referrer == caller.subject)
        case Role.PATIENT:
            return bool(row.mrn == caller.subject)
        case Role.RADIOLOGIST:
            return caller.subject in reads.get(row.id, set())
        case Role.TECHNOLOGIST:
            return row.site in (caller.sites or ())
        case role:
            return role in EVERY_EXAM


async def secrets_of(db: Database, caller: Caller) -> Secrets:
    """The strings of every object `caller` may not see, as the database stands now."""

    def read(session: Any) -> tuple[list[Any], list[Any], list[Any], list[Any], list[str]]:
        return (
            list(session.execute(_EXAMS)),
            list(session.execute(_READS)),
            list(session.execute(_PATIENTS)),
            list(session.execute(_FOLLOW_UPS)),
            [n for (n,) in session.execute(_PEOPLE)],
        )

    exams, read_rows, patients, follow_ups, people = await db.read(read)
    reads: dict[int, set[str]] = {}
    for exam_id, code in read_rows:
        reads.setdefault(exam_id, set()).add(code)
    seen_exams = {e.id for e in exams if visible_exam(caller, e, reads)}
    seen_patients = {e.pid for e in exams if e.id in seen_exams}
    if caller.role in EVERY_EXAM:
        seen_patients = {p.id for p in patients}
    elif caller.role is Role.PATIENT:
        seen_patients |= {p.id for p in patients if p.mrn == caller.subject}
    phi = caller.phi if caller.phi is not None else caller.role is not Role.INTEGRATION

    exact: set[str] = set()
    words: set[str] = set()
    nodes: set[str] = set()
    shown: set[str] = set(people)  # strings the caller may meet legitimately
    for e in exams:
        if e.id not in seen_exams:
            nodes.add(to_global_id("Exam", e.id))
            exact.add(e.accession_number)
    for fid, exam_id in follow_ups:
        if exam_id not in seen_exams:
            nodes.add(to_global_id("FollowUp", fid))
    for p in patients:
        contact = {str(p.birth_date), p.phone or "", p.email or ""} - {""}
        names = {p.given_name, p.family_name}
        if p.id not in seen_patients:
            nodes.add(to_global_id("Patient", p.id))
            exact |= {p.mrn} | contact
            words |= names
        elif not phi:
            exact |= contact
            words |= names
        else:
            shown |= contact | names
    text = " ".join(shown)
    words = {w for w in words if not re.search(rf"\b{re.escape(w)}\b", text)}
    return Secrets((exact | nodes) - shown, words, nodes)


# -- documents built from the schema ----------------------------------------------------------

LITERALS = {
    "ID": '"RXhhbTox"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.5",
    "Boolean": "false",
    "DateTime": '"2026-03-02T10:00:00+00:00"',
    "Date": '"2026-03-02"',
    "JSON": "{}",
}


def unwrap(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


class Documents:
    """GraphQL documents for every root field, aimed at one foreign exam."""

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = targets  # argument or input field name -> the value to send

    def value(self, name: str, kind: GraphQLInputType, *, required: bool) -> str | None:
        if isinstance(kind, GraphQLNonNull):
            return self.value(name, kind.of_type, required=True)
        if isinstance(kind, GraphQLList):
            inner = self.value(name, kind.of_type, required=required)
            return None if inner is None else f"[{inner}]"
        if name in self.targets and isinstance(kind, GraphQLScalarType):
            return json.dumps(self.targets[name])
        if isinstance(kind, GraphQLInputObjectType):
            fields = [
                (n, self.value(n, f.type, required=isinstance(f.type, GraphQLNonNull)))
                for n, f in kind.fields.items()
            ]
            given = [f"{n}: {v}" for n, v in fields if v is not None]
            aimed = any(n in self.targets for n, _ in fields)
            return "{" + ", ".join(given) + "}" if required or aimed else None
        if not required:
            return None
        if isinstance(kind, GraphQLEnumType):
            return next(iter(kind.values))
        assert isinstance(kind, GraphQLScalarType)
        return LITERALS.get(kind.name, '"x"')

    def arguments(self, gql_field: GraphQLField, *, aimed: bool) -> str:
        pairs = []
        for name, argument in gql_field.args.items():
            required = isinstance(argument.type, GraphQLNonNull)
            if not (required or aimed):
                continue
            given = self.value(name, argument.type, required=required)
            if given is not None:
                pairs.append(f"{name}: {given}")
        return f"({', '.join(pairs)})" if pairs else ""

    def selection(self, kind: GraphQLOutputType, depth: int) -> str:
        kind = unwrap(kind)
        if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
            return ""
        if depth == 0:
            return "{ __typename }"
        if isinstance(kind, GraphQLUnionType | GraphQLInterfaceType):
            members = (
                kind.types
                if isinstance(kind, GraphQLUnionType)
                else SCHEMA.get_possible_types(kind)
            )
            parts = [f"... on {m.name} {self.selection(m, depth)}" for m in members]
            return "{ __typename " + " ".join(parts) + " }"
        assert isinstance(kind, GraphQLObjectType)
        parts = ["__typename"]
        for name, child in kind.fields.items():
            if any(
                isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
                for a in child.args.values()
            ):
                continue  # a nested field with required arguments: reached from the root instead
            parts.append(name + self.selection(child.type, depth - 1))
        return "{ " + " ".join(parts) + " }"

    def root(self, operation: str, name: str, gql_field: GraphQLField, *, aimed: bool) -> str:
        return (
            f"{operation} {{ {name}{self.arguments(gql_field, aimed=aimed)}"
            f"{self.selection(gql_field.type, DEPTH)} }}"
        )


async def targets_for(db: Database, caller: Caller, world: World) -> dict[str, str]:
    """The inputs aimed at the first exam the caller may not see (or e2, for callers who see
    every exam): its ids, accession, placer number, patient, referrer, procedure and site."""
    secrets = await secrets_of(db, caller)
    name = next(
        (
            n
            for n in ("e2", "e3", "e4", "e1")
            if to_global_id("Exam", world.exams[n]) in secrets.exact
        ),
        "e2",
    )
    pk = world.exams[name]
    row = await db.read(
        lambda s: s.execute(
            sa.text(
                "SELECT e.accession_number, e.order_source, e.placer_order_number, p.mrn, r.code, "
                "pr.code, s.code, s.id FROM exams e JOIN patients p ON p.id = e.patient_id "
                "JOIN referrers r ON r.id = e.referrer_id "
                "JOIN procedures pr ON pr.id = e.procedure_id "
                "JOIN sites s ON s.id = e.site_id WHERE e.id = :pk"
            ).bindparams(pk=pk)
        ).one()
    )
    other_reader = await db.read(
        lambda s: s.execute(
            sa.text("SELECT id, code FROM radiologists WHERE code = :c").bindparams(
                c=RADIOLOGIST.id
            )
        ).one()
    )
    follow_up = world.follow_ups.get(name, world.follow_ups["e2"])
    return {
        "examId": to_global_id("Exam", pk),
        "completedExamId": to_global_id("Exam", pk),
        "followUpId": to_global_id("FollowUp", follow_up),
        "accessionNumber": row[0],
        "orderSource": row[1],
        "placerOrderNumber": row[2],
        "mrn": row[3],
        "patientMrn": row[3],
        "referrerCode": row[4],
        "procedureCode": row[5],
        "siteCode": row[6],
        "siteId": to_global_id("Site", row[7]),
        "radiologistCode": other_reader[1],
        "radiologistId": to_global_id("Radiologist", other_reader[0]),
        # valid where a command checks its input before it looks anything up
        "icd10Code": "R10.9",
        "indication": "pain",
    }


# -- the walk ---------------------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@dataclass
class Walk:
    """Calls made, and what was found where it should not be."""

    caller: Caller
    calls: int = 0
    leaks: list[str] = field(default_factory=list)

    async def check(self, db: Database, what: str, sent: str, body: Any) -> None:
        self.calls += 1
        secrets = await secrets_of(db, self.caller)
        text = "\n".join(strings(body))
        for hit in secrets.find(text, sent):
            self.leaks.append(f"{what}: {hit!r} in {text[:300]!r}")
        if "Internal server error" in text:
            self.leaks.append(f"{what}: a server error: {text[:300]!r}")


@dataclass(frozen=True)
class Built:
    """The department as `build` left it: its contents, the clock and the exams by name."""

    contents: Snapshot
    now: datetime
    exams: dict[str, int]
    follow_ups: dict[str, int]


@pytest.fixture(scope="module")
def departments() -> dict[str, Built]:
    """The department of each backend, built by the first walk on it and restored for the
    others (every role walks the department as `build` left it, not as the last walk did)."""
    return {}


async def department(db: Database, clock: Clock, built: dict[str, Built]) -> World:
    """The department in `db` (empty): built through the services the first time, restored
    from what that build left the other times."""
    done = built.get(db.backend)
    if done is None:
        world = await build(db)
        built[db.backend] = Built(
            await take(db), clock.now, dict(world.exams), dict(world.follow_ups)
        )
        return world
    await restore(db, done.contents)
    # Restored exactly (rows and id counters), or the walk would not be the one it was.
    assert await take(db) == done.contents
    clock.now = done.now
    return World(db, dict(done.exams), dict(done.follow_ups))


@pytest.fixture
async def walked(
    db: Database, clock: Clock, departments: dict[str, Built]
) -> AsyncIterator[tuple[httpx.AsyncClient, World, int]]:
    """The department, and radflow serving it with room for documents that ask for
    everything (the walk's selections are larger than the default limits allow)."""
    world = await department(db, clock, departments)
    settings = Settings(
        database_url=str(db.url),
        RADFLOW_BALANCER=False,
        RADFLOW_OUTBOX_POLL=0.2,
        RADFLOW_MAX_QUERY_TOKENS=200_000,
        RADFLOW_MAX_QUERY_DEPTH=20,
        RADFLOW_RATE_LIMIT="100000/minute",
    )
    async with (
        on_loopback(create_app(settings, db=db)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        # One balancer run, so its status has assignments and unassignable studies to show.
        ran = await post(
            client,
            CALLERS["admin"],
            "mutation { rebalanceNow { run { moved unassignable { reason } } } }",
        )
        assert ran["data"]["rebalanceNow"]["run"]["unassignable"], ran
        yield client, world, port


async def post(client: httpx.AsyncClient, caller: Caller, document: str) -> Any:
    response = await client.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {caller.token()}"}
    )
    assert response.status_code in (200, 400), response.text
    return response.json()


async def walk_queries_and_mutations(client: httpx.AsyncClient, world: World, walk: Walk) -> None:
    caller = walk.caller
    documents = Documents(await targets_for(world.db, caller, world))
    secrets = await secrets_of(world.db, caller)
    foreign_nodes = sorted(secrets.nodes)
    for operation, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root is not None
        for name, gql_field in sorted(root.fields.items()):
            if name == "node":
                for node_id in foreign_nodes:
                    doc = Documents({"id": node_id}).root("query", name, gql_field, aimed=True)
                    body = await post(client, caller, doc)
                    await walk.check(world.db, f"node({node_id})", doc, body)
                continue
            optional = any(not isinstance(a.type, GraphQLNonNull) for a in gql_field.args.values())
            shapes = (True, False) if operation == "query" and optional else (True,)
            for aimed in shapes:
                doc = documents.root(operation, name, gql_field, aimed=aimed)
                body = await post(client, caller, doc)
                await walk.check(world.db, f"{operation} {name}", doc, body)


# -- subscriptions ----------------------------------------------------------------------------


class Socket:
    """A graphql-transport-ws session that keeps every message it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def open(self, token: str) -> None:
        await self.ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert json.loads(await asyncio.wait_for(self.ws.recv(), WAIT))["type"] == "connection_ack"

    async def subscribe(self, document: str) -> None:
        await self.ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}})
        )

    async def until(self, done: Any, what: str) -> None:
        """Keep receiving until a received message satisfies `done`."""
        try:
            async with asyncio.timeout(WAIT):
                while not any(done(m) for m in self.received):
                    self.received.append(json.loads(await self.ws.recv()))
        except TimeoutError:
            raise AssertionError(
                f"waited {WAIT} s for {what}; received {json.dumps(self.received)[:2000]}"
            ) from None

    async def flush(self) -> None:
        """Everything the server sent before it answers a ping (one connection is ordered)."""
        await self.ws.send(json.dumps({"type": "ping"}))
        await self.until(lambda m: m.get("type") == "pong", "a pong")


def mentions(text: str) -> Any:
    return lambda message: text in json.dumps(message)


async def wake(client: httpx.AsyncClient, world: World, name: str) -> str:
    """Make the department emit an event `name` carries; the string the event will show."""
    admin = CALLERS["admin"]
    marker = to_global_id("Exam", world.exams["marker"])
    accession = await world.db.read(
        lambda s: s.scalar(
            sa.text("SELECT accession_number FROM exams WHERE id = :pk").bindparams(
                pk=world.exams["marker"]
            )
        )
    )
    if name == "examStatusChanged":
        body = await post(
            client,
            admin,
            f'mutation {{ cancelExam(input: {{examId: "{marker}", '
            'reason: "walk"}) { __typename } }',
        )
        assert body["data"]["cancelExam"]["__typename"] == "ExamCancelled", body
        return str(accession)
    if name == "worklistChanged":
        e3 = to_global_id("Exam", world.exams["e3"])
        body = await post(
            client,
            admin,
            f'mutation {{ pinAssignment(input: {{examId: "{e3}", '
            f'radiologistCode: "{RADIOLOGIST.id}", '
            'reason: "walk"}) { __typename } }',
        )
        assert body["data"]["pinAssignment"]["__typename"] == "AssignmentPinned", body
        return e3
    if name == "ruleSetActivated":
        saved = await post(
            client,
            admin,
            "mutation { saveRuleSet(input: {rules: [], "
            'reason: "walk"}) { __typename '
            "... on RuleSetSaved { ruleSet { version } } } }",
        )
        version = saved["data"]["saveRuleSet"]["ruleSet"]["version"]
        body = await post(
            client,
            admin,
            f"mutation {{ activateRuleSet(input: {{version: "
            f'{version}, reason: "walk"}}) {{ __typename }} }}',
        )
        assert body["data"]["activateRuleSet"]["__typename"] == "RuleSetActivated", body
        return "ruleSetActivated"
    # criticalResultRaised: the critical finding of e2, raised while the world was built,
    # comes back in the replay from the start of the outbox.
    return str(
        await world.db.read(
            lambda s: s.scalar(
                sa.text("SELECT accession_number FROM exams WHERE id = :pk").bindparams(
                    pk=world.exams["e2"]
                )
            )
        )
    )


async def walk_subscriptions(
    client: httpx.AsyncClient, world: World, port: int, walk: Walk
) -> None:
    caller = walk.caller
    # Aimed at the marker exam, which no bounded caller may see and whose change wakes the
    # stream (`wake`).
    documents = Documents(
        {
            **await targets_for(world.db, caller, world),
            "examId": to_global_id("Exam", world.exams["marker"]),
        }
    )
    subscription = SCHEMA.subscription_type
    assert subscription is not None
    url = f"ws://127.0.0.1:{port}/graphql"
    for name, gql_field in sorted(subscription.fields.items()):
        if not await secrets_of(world.db, caller):
            return  # a caller who may see everything has nothing to leak here
        documents.targets["after"] = "0"
        doc = documents.root("subscription", name, gql_field, aimed=True)
        doc = doc.replace('after: "0"', "after: 0")
        allowed = caller.role in MATRIX[f"Subscription.{name}"]
        async with (
            connect(
                url,
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                open_timeout=WAIT,
            ) as ws,
            connect(
                url,
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                open_timeout=WAIT,
            ) as twin_ws,
        ):
            mine, twin = Socket(ws), Socket(twin_ws)
            await mine.open(caller.token())
            await mine.subscribe(doc)
            if not allowed:
                # Refused by the role matrix: wait for the refusal itself.
                await mine.until(
                    lambda m: m.get("type") in ("error", "complete"), f"{name} to be refused"
                )
            else:
                # The same subscription as an admin: once the admin has the event the test
                # causes, the caller's connection has had its chance to receive it too.
                await twin.open(CALLERS["admin"].token())
                await twin.subscribe(doc)
                await twin.flush()
                shows = await wake(client, world, name)
                await twin.until(mentions(shows), f"{name} to carry {shows}")
                await mine.flush()
            await walk.check(world.db, f"subscription {name}", doc, mine.received)


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(CALLERS))
async def test_no_path_shows_a_caller_what_is_outside_their_scope(
    walked: tuple[httpx.AsyncClient, World, int], role: str
) -> None:
    client, world, port = walked
    caller = CALLERS[role]
    walk = Walk(caller)
    await walk_queries_and_mutations(client, world, walk)
    await walk_subscriptions(client, world, port, walk)
    assert walk.calls > len(SCHEMA.mutation_type.fields)  # type: ignore[union-attr]
    assert not walk.leaks, "\n".join(walk.leaks)


async def test_the_walk_finds_a_leak_when_one_is_planted(
    walked: tuple[httpx.AsyncClient, World, int],
) -> None:
    """The walk is not blind: an exam the referrer may not see, put in a response on purpose,
    is found by the same check."""
    _client, world, _port = walked
    walk = Walk(CALLERS["referrer"])
    foreign = await world.db.read(
        lambda s: s.scalar(
            sa.text("SELECT accession_number FROM exams WHERE id = :pk").bindparams(
                pk=world.exams["e2"]
            )
        )
    )
    await walk.check(world.db, "planted", "", {"data": {"exam": {"accessionNumber": foreign}}})
    assert len(walk.leaks) == 1 and "planted" in walk.leaks[0]
