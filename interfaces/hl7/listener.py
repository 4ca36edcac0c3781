"""The MLLP listener: python-hl7's asyncio MLLP streams, one task per connection.

Each framed message is answered before the next is read (the sender waits for its ACK, as MLLP
senders do). A frame that is not HL7 (no MSH, wrong encoding characters) is answered with an
AR built from nothing the sender sent; a frame over `RADFLOW_HL7_MAX_BYTES`, a broken frame, or
no whole frame within the idle timeout (`RADFLOW_HL7_IDLE_SECONDS`: a silent sender, one that
stops mid-frame, one that trickles a frame slower than that) closes that connection, and what
it had sent of the frame is dropped unread; every other connection keeps being served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import hl7
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server

from application.settings import Settings
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from interfaces.hl7.inbound import Inbound

log = logging.getLogger("radflow.hl7")

UNREADABLE = (
    "MSH|^~\\&|RADFLOW|||||ACK|{control}|P|2.5.1\r"
    "MSA|AR|\r"
    "ERR||MSH^1^1^1^1|100^Segment sequence error^HL70357|E||||the frame is not an HL7 v2 "
    "message (it must begin with MSH and its encoding characters)"
)


async def serve_connection(
    inbound: Inbound, reader: HL7StreamReader, writer: HL7StreamWriter, idle_seconds: float
) -> None:
    peer = writer.get_extra_info("peername")
    address = str(peer[0]) if isinstance(peer, tuple) and peer else None
    try:
        while True:
            try:
                block = await asyncio.wait_for(reader.readblock(), idle_seconds)
            except (asyncio.IncompleteReadError, TimeoutError, InvalidBlockError, ValueError):
                return  # closed, idle, unframed or too large: this connection ends
            try:
                message = hl7.parse(block.decode(reader.encoding, "replace"))
                message.segment("MSH")
            except Exception:  # not HL7 at all: no control id to answer to
                writer.writemessage(
                    hl7.parse(UNREADABLE.format(control=hl7.generate_message_control_id()))
                )
                await writer.drain()
                continue
            ack = await inbound.handle(message, address)
            writer.writeblock(ack.encode("utf-8"))
            await writer.drain()
    except ConnectionError:
        log.info("HL7 connection from %s dropped", peer)
    finally:
        writer.close()


@asynccontextmanager
async def hl7_listener(
    inbound: Inbound,
    host: str,
    port: int,
    *,
    max_bytes: int = 1_048_576,
    idle_seconds: float = 300.0,
) -> AsyncIterator[asyncio.Server]:
    """Listen for MLLP connections while the context is open; yields the server (its port)."""

    async def connected(reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        await serve_connection(inbound, reader, writer, idle_seconds)

    server = await start_hl7_server(
        connected, host, port, encoding="utf-8", encoding_errors="replace", limit=max_bytes
    )
    log.info("HL7 MLLP listener on %s:%s", host, server.sockets[0].getsockname()[1])
    try:
        yield server
    finally:
        server.close()
        await server.wait_closed()


def listener_for(db: Database, settings: Settings) -> AbstractAsyncContextManager[asyncio.Server]:
    """The configured listener (`RADFLOW_HL7_*`), acting as the interface's integration user."""
    if settings.hl7_port is None:
        raise ValueError("RADFLOW_HL7_PORT is not set")
    inbound = Inbound(db, Actor(settings.hl7_actor, Role.INTEGRATION), settings.hl7_site)
    return hl7_listener(
        inbound,
        settings.hl7_host,
        settings.hl7_port,
        max_bytes=settings.hl7_max_bytes,
        idle_seconds=settings.hl7_idle_seconds,
    )
