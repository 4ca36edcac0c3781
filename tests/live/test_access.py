"""Subscriptions and who may follow what: the role matrix, another reader's worklist, and a
connection that outlives its token."""

from __future__ import annotations

from datetime import timedelta

from api.auth import mint
from api.relay import to_global_id
from application.settings import Settings
from domain.db import Database
from domain.enums import Role
from tests.conftest import token_for
from tests.factories import reference
from tests.live.conftest import Server, subscriber

WORKLIST = "subscription($r: ID!) { worklistChanged(radiologistId: $r) { eventId } }"
STATUS = "subscription { examStatusChanged { eventId } }"


def bearer(subject: str, role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(subject, role)}"}


async def test_a_role_the_matrix_refuses_gets_an_error_and_no_stream(server: Server) -> None:
    async with subscriber(server, payload=bearer("REF01", "referrer")) as client:
        await client.send({"id": "1", "type": "subscribe", "payload": {"query": STATUS}})
        message = await client.receive()
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_radiologist_follows_their_own_worklist_only(server: Server, db: Database) -> None:
    await reference(db)
    rad01 = to_global_id("Radiologist", 1)
    async with subscriber(server, payload=bearer("RAD03", "radiologist")) as client:
        await client.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": WORKLIST, "variables": {"r": rad01}},
            }
        )
        message = await client.receive()
        assert message["type"] == "error", message
        assert "does not exist" in message["payload"][0]["message"]


async def test_a_connection_closes_4403_when_its_token_expires(server: Server) -> None:
    token = mint(
        role=Role.SUPERVISOR,
        subject="sup.ortiz",
        settings=Settings(),
        lifetime=timedelta(seconds=2),
    )
    async with subscriber(server, payload={"authorization": f"Bearer {token}"}) as client:
        await client.send({"id": "1", "type": "subscribe", "payload": {"query": STATUS}})
        code, reason = await client.closed_with()
        assert (code, reason) == (4403, "token expired")
