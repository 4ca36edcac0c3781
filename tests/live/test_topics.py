"""Each subscription delivers its own events, with the changed object; identical
subscriptions share one execution."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from api.relay import to_global_id
from domain.db import Database
from domain.enums import CriticalLevel, ExamStatus
from domain.models import OutboxEvent, Radiologist
from domain.services import rulesets, worklists
from tests import factories
from tests.live.conftest import WAIT, Server, subscriber


async def newest(db: Database) -> int:
    return int(await db.read(lambda s: s.scalar(sa.select(sa.func.max(OutboxEvent.id)))) or 0)


async def test_worklist_and_balancer_subscriptions(db: Database, server: Server) -> None:
    await factories.reference(db)
    reader = await db.read(
        lambda s: s.scalars(
            sa.select(Radiologist).where(Radiologist.code == factories.RADIOLOGIST.id)
        ).one()
    )
    exam = await factories.drive(db, await factories.order(db), ExamStatus.READY_FOR_READ)
    start = await newest(db)
    async with subscriber(server) as client:
        await client.subscribe(
            "w",
            """subscription ($r: ID!, $after: Int) {
            worklistChanged(radiologistId: $r, after: $after) {
              eventId type change radiologist { code } exam { accessionNumber } } }""",
            {"r": to_global_id("Radiologist", reader.id or 0), "after": start},
        )
        await client.subscribe(
            "b",
            """subscription ($after: Int) { balancerRan(after: $after) {
            eventId type assigned moved run { trigger } } }""",
            {"after": start},
        )
        await db.run(
            lambda uow: worklists.pin_assignment(
                uow=uow,
                actor=factories.SUPERVISOR,
                exam_id=exam.id or 0,
                radiologist_code=reader.code,
                reason="test",
            )
        )
        added = (await client.next("w"))["worklistChanged"]
        await server.app.state.runner.run_once("test run")
        ran = None
        while ran is None:  # the run may also reorder the worklist
            message = await client.receive()
            if message["id"] == "b":
                ran = message["payload"]["data"]["balancerRan"]
    assert added["change"] == "ADDED" and added["type"] == "ASSIGNMENT_CHANGED"
    assert added["radiologist"] == {"code": reader.code}
    assert added["exam"] == {"accessionNumber": exam.accession_number}
    assert ran["type"] == "BALANCER_RAN" and ran["run"] == {"trigger": "test run"}
    assert ran["eventId"] > added["eventId"]


async def test_critical_result_raised_at_a_site(db: Database, server: Server) -> None:
    await factories.reference(db)
    exam = await factories.order(db)
    start = await newest(db)
    async with subscriber(server) as client:
        await client.subscribe(
            "c",
            """subscription ($site: ID, $after: Int) {
            criticalResultRaised(siteId: $site, after: $after) {
              eventId type escalated criticalLevel exam { accessionNumber } } }""",
            {"site": to_global_id("Site", exam.site_id), "after": start},
        )
        await factories.drive(db, exam, ExamStatus.COMMUNICATED, critical=CriticalLevel.CRITICAL)
        event = (await client.next("c"))["criticalResultRaised"]
    assert event["type"] == "CRITICAL_RESULT_RAISED" and event["escalated"] is False
    assert event["criticalLevel"] == "CRITICAL"
    assert event["exam"] == {"accessionNumber": exam.accession_number}


async def test_rule_set_activated(db: Database, server: Server) -> None:
    await factories.reference(db)
    saved = await db.run(
        lambda uow: rulesets.store_version(
            uow=uow, actor=factories.SUPERVISOR, rules=[], reason="empty", based_on=None
        )
    )
    version = saved.version
    start = await newest(db)
    async with subscriber(server) as client:
        await client.subscribe(
            "r",
            """subscription ($after: Int) {
            ruleSetActivated(after: $after) { eventId type version ruleSet { version } } }""",
            {"after": start},
        )
        await db.run(
            lambda uow: rulesets.activate(
                uow=uow, actor=factories.SUPERVISOR, version=version, reason="test"
            )
        )
        event = (await client.next("r"))["ruleSetActivated"]
    assert event["version"] == version and event["ruleSet"] == {"version": version}


async def test_identical_subscriptions_share_one_execution(db: Database, server: Server) -> None:
    await factories.reference(db)
    query = "subscription { examStatusChanged { eventId exam { accessionNumber } } }"
    fanout = server.app.state.live  # the hub counts listeners: one per shared stream
    # The process's own listeners (the FHIR notifier's, HL7 out's when configured) come first.
    baseline = fanout.hub.listener_count()
    async with subscriber(server) as one, subscriber(server) as two:
        await one.subscribe("a", query)
        await two.subscribe("b", query)
        async with asyncio.timeout(WAIT):
            while fanout.hub.listener_count() < baseline + 1:  # noqa: ASYNC110  (listening)
                await asyncio.sleep(0.01)
        exam = await factories.order(db)
        got_one = (await one.next("a"))["examStatusChanged"]
        got_two = (await two.next("b"))["examStatusChanged"]
        assert fanout.hub.listener_count() == baseline + 1
        await one.send({"id": "a", "type": "complete"})
        second = await factories.order(db)
        assert (await two.next("b"))["examStatusChanged"]["exam"]["accessionNumber"] == (
            second.accession_number
        )
    assert got_one == got_two
    assert got_one["exam"] == {"accessionNumber": exam.accession_number}
