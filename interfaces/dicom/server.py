"""The DICOM service class provider: Modality Worklist C-FIND, MPPS N-CREATE/N-SET, C-ECHO.

pynetdicom serves each association on a thread of its own. radflow's `Database` belongs to the
event loop that created it (on SQLite its commands run on that loop's thread, which serialises
the writes; on PostgreSQL its asyncpg connections are bound to that loop), so a handler never
touches it from the association's thread: it hands a coroutine to the server's loop with
`asyncio.run_coroutine_threadsafe` and waits for its result, at most `timeout` seconds (the
coroutine is cancelled past that and the scanner gets a failure status). The loop is never
blocked by DICOM: pynetdicom's socket work stays on its threads, and stopping the server runs
on a worker thread too, because a handler waiting for the loop would otherwise deadlock it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pydicom.dataset import Dataset
from pynetdicom import AE, _config, evt
from pynetdicom.dimse_primitives import C_FIND, N_CREATE, N_SET
from pynetdicom.events import Event
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from application.settings import Settings
from domain.audit import AuditAction, Trail
from domain.db import Database
from domain.enums import Role
from domain.lifecycle import Actor
from interfaces.dicom.mpps import PROCESSING_FAILURE, ProcedureSteps, Refused, status_dataset
from interfaces.dicom.pending import PendingResponses
from interfaces.dicom.worklist import (
    Encoding,
    QueryInvalid,
    WorklistEntry,
    WorklistQuery,
    answers,
    find_entries,
    find_station,
    parse_query,
)

log = logging.getLogger("radflow.dicom")
T = TypeVar("T")

CANCELLED = 0xFE00
IDENTIFIER_MISMATCH = 0xA900  # the identifier does not match the SOP class
UNABLE_TO_PROCESS = 0xC000
UNKNOWN_CALLER = 0xC001


def _failure(status: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]
    return ds


@dataclass(frozen=True)
class Worklist:
    """The C-FIND side: a scanner's query, answered from the database, audited."""

    db: Database
    uid_root: str
    max_matches: int

    async def find(self, caller: str, address: str, query: WorklistQuery) -> list[WorklistEntry]:
        """The entries of the caller's site matching the query; the read is audited."""

        def read(session: Any) -> list[WorklistEntry] | None:
            station = find_station(session, caller)
            if station is None:
                return None
            return find_entries(session, station, query, limit=self.max_matches)

        entries = await self.db.read(read)
        if entries is None:
            raise Refused(UNKNOWN_CALLER, f"AE title {caller} is no known scanner")
        if entries:
            trail = Trail(
                Actor(caller, Role.TECHNOLOGIST),
                address,
                "dicom:MWL C-FIND",
                AuditAction.READ,
            )
            for entry in entries:
                trail.note_exam(entry.exam_id, patient_id=entry.patient_id, mrn=entry.mrn)
            await self.db.write_audit(trail)
        return entries


class Bridge:
    """Runs coroutines on the server's event loop from pynetdicom's threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(self.timeout)
        except FutureTimeout:
            future.cancel()
            raise Refused(PROCESSING_FAILURE, "radflow did not answer in time") from None


@dataclass(frozen=True)
class Handlers:
    """pynetdicom's event handlers, each bridged to the loop."""

    bridge: Bridge
    worklist: Worklist
    steps: ProcedureSteps

    def find(self, event: Event) -> Iterator[tuple[int | Dataset, Dataset | None]]:
        identifier = event.identifier
        caller = event.assoc.requestor.ae_title.strip()
        try:
            query = parse_query(identifier)
        except QueryInvalid as bad:
            yield _failure(IDENTIFIER_MISMATCH, str(bad)), None
            return
        try:
            entries = self.bridge.call(
                self.worklist.find(caller, event.assoc.requestor.address, query)
            )
        except Refused as refused:
            yield status_dataset(refused), None
            return
        except Exception:
            log.exception("worklist query from %s failed", caller)
            yield _failure(UNABLE_TO_PROCESS, "radflow could not read its worklist"), None
            return
        syntax = event.context.transfer_syntax
        encoding = Encoding(syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
        identifiers = answers(entries, identifier, self.worklist.uid_root, encoding)
        responses = PendingResponses(
            event.assoc, cast(C_FIND, event.request), event.context.context_id
        )
        for encoded in identifiers:
            if event.is_cancelled:
                yield CANCELLED, None
                return
            responses.send(encoded)
        # Ending without a yield: pynetdicom sends the final success after the pending ones.

    def create(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        request = cast(N_CREATE, event.request)
        uid = request.AffectedSOPInstanceUID
        attributes = event.attribute_list
        caller = event.assoc.requestor.ae_title.strip()
        try:
            self.bridge.call(self.steps.create(caller, str(uid) if uid else None, attributes))
        except Refused as refused:
            log.info("MPPS N-CREATE from %s refused: %s", caller, refused.comment)
            return status_dataset(refused), None
        except Exception:
            log.exception("MPPS N-CREATE from %s failed", caller)
            return _failure(PROCESSING_FAILURE, "radflow could not record the step"), None
        created = Dataset()
        created.SOPClassUID = request.AffectedSOPClassUID
        created.SOPInstanceUID = uid
        created.update(attributes)
        return 0x0000, created

    def set(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        request = cast(N_SET, event.request)
        uid = request.RequestedSOPInstanceUID
        changes = event.modification_list
        caller = event.assoc.requestor.ae_title.strip()
        try:
            self.bridge.call(self.steps.update(caller, str(uid) if uid else None, changes))
        except Refused as refused:
            log.info("MPPS N-SET from %s refused: %s", caller, refused.comment)
            return status_dataset(refused), None
        except Exception:
            log.exception("MPPS N-SET from %s failed", caller)
            return _failure(PROCESSING_FAILURE, "radflow could not record the step"), None
        updated = Dataset()
        updated.update(changes)
        return 0x0000, updated


class SharedPortServer(ThreadedAssociationServer):
    """An association server whose port other processes may listen on too (SO_REUSEPORT): the
    kernel hands each new association to one of them. Every worklist answer is worked out from
    the database, so the processes share nothing else."""

    def server_bind(self) -> None:
        # pynetdicom's own server_bind ignores socketserver's allow_reuse_port.
        listening = cast(socket.socket, self.socket)  # made by the constructor, before binding
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def no_delay(event: Event) -> None:
    """Send each PDU at once: with Nagle's algorithm, a C-FIND's request (command and identifier
    in two PDUs) or a run of pending responses waits on the peer's delayed ACK, about 40 ms."""
    connection = event.assoc.dul.socket
    if connection is not None and connection.socket is not None:
        connection.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# How long an association's DUL thread sleeps between two polls of its socket and queues when
# it has nothing to do (pynetdicom's default is 1 ms). Each poll takes the GIL, and idle
# associations polling every millisecond took a large share of radflow's CPU under a few
# scanners (docs/dicom.md). At 4 ms a request or a run of answers waits at most 4 ms more to
# be picked up (busy, the thread does not sleep).
DUL_IDLE_SECONDS = 0.004


def calm_polling(event: Event) -> None:
    """Let the association's DUL thread poll its socket less often when idle."""
    # pynetdicom's own knob (dul.py: "Setting `_run_loop_delay` higher will use less CPU when
    # idle"); it has no public setting.
    event.assoc.dul._run_loop_delay = DUL_IDLE_SECONDS


def quiet_pynetdicom() -> None:
    """Turn off pynetdicom's per-message logging work (process-wide; warnings and errors stay).

    Its standard handlers format every PDU and DIMSE message for its debug log, each under a
    per-association lock that the DUL thread and the association's thread then contend for, and
    it decodes each request identifier again and pretty-prints each response identifier for
    that log, whether or not the log is enabled: a third of the SCP's time answering a worklist
    of a hundred entries. radflow records what a scanner did itself (audit, history, warnings).
    """
    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False


def application_entity(ae_title: str) -> AE:
    """radflow's AE: the SOP classes it provides, scanners addressing it by its title."""
    quiet_pynetdicom()
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(ModalityWorklistInformationFind)
    ae.add_supported_context(ModalityPerformedProcedureStep)
    ae.add_supported_context(Verification)
    ae.require_called_aet = True
    ae.maximum_associations = 64
    return ae


@asynccontextmanager
async def dicom_listener(
    db: Database,
    host: str,
    port: int,
    *,
    ae_title: str = "RADFLOW",
    uid_root: str,
    max_matches: int = 1000,
    wait_seconds: float = 30.0,
    shared_port: bool = False,
) -> AsyncIterator[ThreadedAssociationServer]:
    """Serve DICOM while the context is open; yields the server (its address and port).
    `shared_port`: other processes serve the same port (`SharedPortServer`)."""
    bridge = Bridge(asyncio.get_running_loop(), wait_seconds)
    handlers = Handlers(bridge, Worklist(db, uid_root, max_matches), ProcedureSteps(db))
    ae = application_entity(ae_title)
    # ae.start_server(block=False), whose server class is fixed: make_server, served on a thread.
    server = ae.make_server(
        (host, port),
        evt_handlers=[
            (evt.EVT_CONN_OPEN, no_delay),
            (evt.EVT_CONN_OPEN, calm_polling),
            (evt.EVT_C_FIND, handlers.find),
            (evt.EVT_N_CREATE, handlers.create),
            (evt.EVT_N_SET, handlers.set),
        ],
        server_class=SharedPortServer if shared_port else ThreadedAssociationServer,
    )
    threading.Thread(target=server.serve_forever, name="dicom-acceptor", daemon=True).start()
    ae._servers.append(server)  # as start_server does: the server's shutdown takes it out again
    log.info("DICOM %s on %s:%s", ae_title, host, server.server_address[1])
    try:
        yield server
    finally:
        await asyncio.to_thread(server.shutdown)


def listener_for(
    db: Database, settings: Settings
) -> AbstractAsyncContextManager[ThreadedAssociationServer]:
    """The configured DICOM service (`RADFLOW_DICOM_*`)."""
    if settings.dicom_port is None:
        raise ValueError("RADFLOW_DICOM_PORT is not set")
    return dicom_listener(
        db,
        settings.dicom_host,
        settings.dicom_port,
        ae_title=settings.dicom_ae_title,
        uid_root=settings.dicom_uid_root,
        max_matches=settings.dicom_max_matches,
        wait_seconds=settings.dicom_timeout_seconds,
        shared_port=settings.dicom_workers > 1,
    )
