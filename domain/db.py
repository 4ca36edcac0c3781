"""Database access: one transaction per command, with the driver each backend does best.

Domain services are plain synchronous functions over a SQLAlchemy `Session`. How they run
depends on the backend:

* SQLite (the embedded default) runs each command with the standard `sqlite3` driver on the
  event loop's thread: no thread hop at all (aiosqlite pays one per statement), and writes are
  serialised the way SQLite wants them anyway. Reads run on a small thread pool.
* PostgreSQL runs commands through an asyncpg `AsyncSession` via `run_sync`, so the event loop
  never blocks and no thread is involved.

Either way the command sees the same `UnitOfWork`, commits once, and its domain events are
written to the outbox in that same transaction (domain/outbox.py) and handed to the listeners
only after the commit succeeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from domain.audit import Trail, command_records, current_trail, write_records
from domain.closing_rows import write_closing_rows
from domain.enums import Modality
from domain.errors import Conflict
from domain.events import DomainEvent
from domain.history import history_rows
from domain.loaded_rows import CommandSession
from domain.outbox import outbox_rows
from domain.reference_rows import ReferenceRows
from domain.repositories import (
    Acquisitions,
    Appointments,
    Department,
    Exams,
    Notifications,
    PrepChecklists,
    Reads,
    Reports,
    RuleSets,
    Shifts,
)
from domain.sql_repositories import (
    SqlAcquisitions,
    SqlAppointments,
    SqlDepartment,
    SqlExams,
    SqlNotifications,
    SqlPrepChecklists,
    SqlReads,
    SqlReports,
    SqlRuleSets,
    SqlShifts,
    is_unique_violation,
    write_new_row,
    write_order,
    write_row_changes,
)
from domain.types import utcnow

T = TypeVar("T")
EventListener = Callable[[Sequence[DomainEvent]], None]
_AuditEntry = tuple[Trail, datetime, "asyncio.Future[None]"]


__all__ = ["Database", "UnitOfWork", "is_unique_violation"]


class UnitOfWork:
    """The unit of work of domain/repositories.py over one SQLAlchemy session: its
    repositories, the command's clock, and its events. (`session` stays for the application
    layer's own statements; the domain's services go through the repositories.)"""

    def __init__(
        self, session: Session, now: datetime, reference: ReferenceRows | None = None
    ) -> None:
        self.session = session
        self.exams: Exams = SqlExams(session)
        self.department: Department = SqlDepartment(session, reference)
        self.prep: PrepChecklists = SqlPrepChecklists(session)
        self.acquisitions: Acquisitions = SqlAcquisitions(session)
        self.appointments: Appointments = SqlAppointments(session)
        self.notifications: Notifications = SqlNotifications(session)
        self.reads: Reads = SqlReads(session)
        self.reports: Reports = SqlReports(session)
        self.shifts: Shifts = SqlShifts(session)
        self.rule_sets: RuleSets = SqlRuleSets(session)
        self.now = now
        self.events: list[DomainEvent] = []
        # The exam this command changes, so a lost optimistic-lock race can name it.
        self.exam_id: int | None = None
        # Patients whose MRN the command already read (its audit record needs no lookup).
        self.patient_mrns: dict[int, str] = {}
        # Exams the command answers with but did not change, with their patients (its record
        # lists them).
        self.exams_named: dict[int, int] = {}
        # Procedures whose modality the command already read (its outbox rows need no lookup).
        self.modalities: dict[int, Modality] = {}
        self._held: list[object] = []
        self.appended: dict[sa.Table, list[dict[str, Any]]] = {}

    def hold(self, *rows: object) -> None:
        """Keep rows loaded for this command alive until it commits (the session's identity
        map holds only weak references; a later lookup by key then needs no statement)."""
        self._held.extend(rows)

    def name_patient(self, patient_id: int, mrn: str) -> None:
        """Note a patient's MRN, read along with something else, for the audit record."""
        self.patient_mrns[patient_id] = mrn

    def name_exam(self, exam_id: int, patient_id: int) -> None:
        """Note an exam the command answers with but did not change (a re-sent order), and
        whose it is, for the audit record."""
        self.exams_named[exam_id] = patient_id

    def mrn_of(self, patient_id: int) -> str | None:
        """A patient's MRN this command already read (with its exam), else None."""
        return self.patient_mrns.get(patient_id)

    def name_modality(self, procedure_id: int, modality: Modality) -> None:
        """Note a procedure's modality, read along with something else, for the outbox."""
        self.modalities[procedure_id] = modality

    def add(self, instance: object) -> None:
        """Stage a new row."""
        self.session.add(instance)

    def delete(self, instance: object) -> None:
        """Stage the removal of a row the command loaded."""
        self.session.delete(instance)

    def append(self, model: type[Any], row: dict[str, Any]) -> None:
        """Stage a new row the command never reads back (a queued notification): inserted
        with the others of its table by one Core INSERT when the command ends, without the
        ORM's per-object bookkeeping. Every non-null column without a default must be given."""
        self.appended.setdefault(model.__table__, []).append(row)

    def emit(self, event: DomainEvent) -> None:
        """Record an event, published once the transaction commits."""
        self.events.append(event)

    def flush(self) -> None:
        """Send pending writes now (to learn generated ids or hit constraints early)."""
        self.write_rows()
        self.session.flush()

    def write_rows(self) -> None:
        """Write the rows the command changed, each by one Core UPDATE by its key (the exam's
        versioned), then the new rows it staged, each by one Core INSERT
        (domain/sql_repositories.py), parents' tables first, ahead of the flush that writes
        anything else. A command that deletes rows leaves its new rows to the flush, which
        orders deletes and inserts against each other."""
        session = self.session
        for row in sorted(session.dirty, key=write_order):
            write_row_changes(session, row)
        if session.new and not session.deleted:
            for row in sorted(session.new, key=write_order):
                write_new_row(session, row)


def normalise_url(url: str) -> URL:
    """Pick the driver radflow uses for a URL: sqlite3 for SQLite, asyncpg for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def ensure_sqlite_folder(url: URL) -> None:
    """Create the folder of a SQLite file, so `var/radflow.db` works on a fresh checkout."""
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


# The execution option that marks an engine's connections as readers (`_sqlite_begin`).
READS_ONLY = "radflow_reads_only"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The transaction is ours to begin (`_sqlite_begin`): left to itself, pysqlite begins one
    # only before an INSERT/UPDATE/DELETE, so a SAVEPOINT issued before any write became the
    # outermost transaction and its RELEASE committed on its own (a placed order's exam row
    # without the rest of the command). SQLAlchemy's documented remedy for pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL is durable across application crashes; only a power loss may lose the last
    # commits, the usual trade-off for an embedded deployment.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Every write (each read's audit record among them) makes the other connections drop
    # their page caches; memory-mapped pages are re-read from memory instead of by read(2).
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    """Open the transaction SQLAlchemy begins, at its first statement, reads included.

    A transaction that may write takes the write lock as it begins (waiting up to the busy
    timeout): begun deferred, one that read first could not write once another connection
    had committed (SQLite refuses to write from an old snapshot). Reads begin deferred and
    never wait: in WAL mode they read their snapshot beside the writer.
    """
    reads_only = connection.get_execution_options().get(READS_ONLY, False)
    connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")


class _OwedOnRollback:
    """A command writes its operation's audit record in its own transaction; when that
    transaction does not commit, the record went with it, and the operation owes it again
    (written as a failure when the operation ends): the trail goes back to its checkpoint.
    A class, not `@contextmanager`: that one sets `__traceback__` on the exception it
    re-raises, which the domain's frozen errors refuse."""

    def __init__(self, trail: Trail | None) -> None:
        self.kept = (trail, trail.checkpoint()) if trail is not None else None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and self.kept is not None:
            trail, checkpoint = self.kept
            trail.restore(checkpoint)


def _reusable(connection: sa.Connection) -> bool:
    """Whether a kept connection may serve again after its transaction; one lost, or left in
    a transaction, is closed instead (the next use makes its own)."""
    if connection.invalidated or connection.closed or connection.in_transaction():
        connection.close()
        return False
    return True


@cache
def _insert_into(table: sa.Table) -> sa.Insert:
    """The INSERT of a table's staged rows, built once (a new statement per command would
    generate its cache key each time)."""
    return sa.insert(table)


class Database:
    """The process's connection to its database."""

    def __init__(
        self, url: str, *, clock: Callable[[], datetime] = utcnow, echo: bool = False
    ) -> None:
        self.url = normalise_url(url)
        self.clock = clock
        self._listeners: list[EventListener] = []
        self._audit_queue: list[_AuditEntry] = []
        self._audit_writer: asyncio.Task[None] | None = None
        # The catalogue rows commands read, kept between them (domain/reference_rows.py).
        self.reference = ReferenceRows()
        self.sync_engine: sa.Engine | None = None
        self.async_engine: AsyncEngine | None = None
        if self.is_sqlite:
            ensure_sqlite_folder(self.url)
            # LIFO: commands run one at a time on the loop thread, so the connection they get
            # is the one the last command used, whose page cache its own commits kept valid
            # (another connection's commit makes SQLite drop a connection's cache).
            self.sync_engine = sa.create_engine(
                self.url,
                echo=echo,
                connect_args={"check_same_thread": False},
                pool_use_lifo=True,
            )
            sa_event.listen(self.sync_engine, "connect", _sqlite_pragmas)
            sa_event.listen(self.sync_engine, "begin", _sqlite_begin)
            self._sessions = sessionmaker(
                self.sync_engine, class_=CommandSession, expire_on_commit=False
            )
            self.reference.watch(self._sessions)
            # Sessions closed after their command, each taken again by the next one with the
            # connection it is bound to (list.pop and append are atomic: a command on another
            # thread meanwhile makes its own).
            self._idle_sessions: list[tuple[Session, sa.Connection]] = []
            self._idle_connections: list[sa.Connection] = []  # `kept_transaction`'s
            self._reader_engine = self.sync_engine.execution_options(**{READS_ONLY: True})
            self._read_sessions = sessionmaker(self._reader_engine, expire_on_commit=False)
            self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="radflow-db-r")
        else:
            self.async_engine = create_async_engine(
                self.url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True
            )
            # A session class of this database's own, so the cache watches its sessions only.
            sessions: type[Session] = type("CommandSession", (CommandSession,), {})
            self._async_sessions = async_sessionmaker(
                self.async_engine, expire_on_commit=False, sync_session_class=sessions
            )
            self.reference.watch(sessions)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite backend."""
        return self.url.get_backend_name() == "sqlite"

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.url.get_backend_name()

    def on_commit(self, listener: EventListener) -> None:
        """Call `listener` with each committed command's events."""
        self._listeners.append(listener)

    async def run(self, command: Callable[[UnitOfWork], T]) -> T:
        """Run a state-changing command in one transaction; publish its events after commit."""
        result, events = await self._execute(command)
        for listener in self._listeners:
            listener(events)
        return result

    async def read(self, query: Callable[[Session], T], *, bounded: bool = False) -> T:
        """Run a read-only query function.

        `bounded` marks a read whose cost is small and capped (a page of at most 100 rows):
        on SQLite it then runs on the loop thread, like commands, instead of paying a hop.
        """
        if self.sync_engine is not None:
            if bounded:
                return self._read_sync(query)
            loop = asyncio.get_running_loop()
            # In a copy of this context: the request's audit trail goes along.
            return await loop.run_in_executor(
                self._readers, copy_context().run, self._read_sync, query
            )
        async with self._async_sessions() as session:
            return await session.run_sync(query)

    async def fetch(
        self, statement: sa.Executable, params: dict[str, Any]
    ) -> Sequence[sa.Row[Any]]:
        """All rows of one bounded Core statement, on a pooled connection without a session
        (the leanest read: a page of at most 100 rows, on SQLite right on the loop thread)."""
        if self.sync_engine is not None:
            with self._reader_engine.connect() as connection:
                return connection.execute(statement, params).all()
        assert self.async_engine is not None
        async with self.async_engine.connect() as connection:
            return (await connection.execute(statement, params)).all()

    def _read_sync(self, query: Callable[[Session], T]) -> T:
        with self._read_sessions() as session:
            return query(session)

    async def _execute(self, command: Callable[[UnitOfWork], T]) -> tuple[T, list[DomainEvent]]:
        try:
            if self.sync_engine is not None:
                # Measured: a hop to a writer thread per command costs more than the command
                # (sqlite3 releases the GIL on every step, and the event loop thread then holds
                # it for up to the 5 ms switch interval). A command is a millisecond of work
                # on SQLite, so it runs right here; this also serialises writes as SQLite
                # wants, without a lock.
                return self._execute_sync(command)
            trail = current_trail.get()  # read here: the greenlet below may not see it
            with _OwedOnRollback(trail):
                async with self._async_sessions() as session, session.begin():
                    return await session.run_sync(self._in_session, command, trail)
        except _LostRace as lost:
            raise Conflict(exam_id=lost.exam_id) from lost.__cause__

    def _execute_sync(self, command: Callable[[UnitOfWork], T]) -> tuple[T, list[DomainEvent]]:
        # A closed session holds nothing of its last command (no rows, no transaction), so the
        # next command takes it instead of building one with its event dispatch and registry
        # entry; and it keeps its connection checked out, so a command pays neither the pool's
        # checkout nor its check-in with the reset (a ROLLBACK) after the COMMIT. Measured on
        # an in-memory database, a session's begin, connection, commit and close: 160 µs new,
        # 120 µs taken again; on a file with one INSERT, 290 µs taken again with a connection
        # from the pool, 200-210 µs with its own.
        try:
            session, connection = self._idle_sessions.pop()
        except IndexError:
            assert self.sync_engine is not None
            connection = self.sync_engine.connect()
            session = self._sessions(bind=connection)
        trail = current_trail.get()
        try:
            with _OwedOnRollback(trail), session.begin():
                return self._in_session(session, command, trail)
        finally:
            session.close()
            if _reusable(connection):
                self._idle_sessions.append((session, connection))

    @contextmanager
    def kept_transaction(self) -> Iterator[sa.Connection]:
        """One transaction, without a session, on a connection kept between uses as a
        command's session keeps its own (SQLite: on the caller's thread, like a command)."""
        if self.sync_engine is None:
            raise RuntimeError("kept connections are SQLite's; use the async engine")
        try:
            connection = self._idle_connections.pop()
        except IndexError:
            connection = self.sync_engine.connect()
        try:
            with connection.begin():
                yield connection
        finally:
            if _reusable(connection):
                self._idle_connections.append(connection)

    def _in_session(
        self, session: Session, command: Callable[[UnitOfWork], T], trail: Trail | None = None
    ) -> tuple[T, list[DomainEvent]]:
        uow = UnitOfWork(session, self.clock(), self.reference)
        try:
            result = command(uow)
            uow.write_rows()
            session.flush()
        except StaleDataError as exc:
            raise _LostRace(uow.exam_id or 0) from exc
        for table, rows in uow.appended.items():
            session.connection().execute(_insert_into(table), rows)
        # The status events are the exam's history rows (domain/history.py), and the events go
        # into the outbox, in this same transaction: committed together with the
        # change they describe, or rolled back with it (published later by api/live's relay).
        # So does the audit record of the request that ran the command, if one did.
        # The outbox last: on PostgreSQL its INSERT takes the lock that orders every command's
        # events, held until the commit, so nothing but the COMMIT should follow it (all three
        # go as one statement there: domain/closing_rows.py).
        write_closing_rows(
            session.connection(),
            history_rows(uow.events),
            command_records(session, trail, uow.now, uow.patient_mrns, uow.events, uow.exams_named),
            outbox_rows(session, uow.events, uow.modalities) if uow.events else [],
        )
        return result, uow.events

    async def write_audit(self, trail: Trail) -> None:
        """Write an operation's audit record (a read, a refusal, a failed command) and return
        once it is committed. Raises if it cannot: the caller then fails rather than answer
        unaudited.

        Group commit: records that arrive while a batch is being written go into the next
        one, a single transaction and INSERT for all of them. Every read of patient data
        writes a record, and one transaction per record was the largest single cost of a
        read (measured on SQLite under 8 concurrent callers: 370 µs of a 1.1 ms request;
        each commit rewrote whole WAL pages for a row of 300 bytes).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._audit_queue.append((trail, self.clock(), future))
        if self._audit_writer is None or self._audit_writer.done():
            self._audit_writer = asyncio.create_task(self._write_audit_batches())
        await future

    async def _write_audit_batches(self) -> None:
        await asyncio.sleep(0)  # one turn of the loop: requests about to finish join the batch
        while self._audit_queue:
            batch, self._audit_queue = self._audit_queue, []
            error = await self._attempt_audit_batch(batch)
            outcomes = [(entry, error) for entry in batch]
            if error is not None and len(batch) > 1:
                # One bad record must not fail the other requests: write each alone.
                outcomes = [(entry, await self._attempt_audit_batch([entry])) for entry in batch]
            for (_, _, future), failure in outcomes:
                if future.done():
                    continue
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)

    async def _attempt_audit_batch(self, batch: list[_AuditEntry]) -> Exception | None:
        try:
            await self._write_audit_batch(batch)
        except Exception as exc:
            return exc
        return None

    async def _write_audit_batch(self, batch: list[_AuditEntry]) -> None:
        def write(connection: sa.Connection) -> None:
            write_records(connection, [(trail, at) for trail, at, _ in batch])

        if self.sync_engine is not None:
            with self.kept_transaction() as connection:
                write(connection)
            return
        assert self.async_engine is not None
        async with self.async_engine.begin() as async_connection:
            await async_connection.run_sync(write)

    def run_sync_command(self, command: Callable[[UnitOfWork], T]) -> T:
        """Run a command synchronously (CLI and seeding on SQLite only)."""
        if self.sync_engine is None:
            raise RuntimeError("synchronous commands need the SQLite backend; use `run`")
        result, events = self._execute_sync(command)
        for listener in self._listeners:
            listener(events)
        return result

    async def dispose(self) -> None:
        """Close every connection and worker thread (after the audit records in flight)."""
        if self._audit_writer is not None and not self._audit_writer.done():
            await self._audit_writer
        if self.sync_engine is not None:
            self._readers.shutdown(wait=True)
            while self._idle_sessions:
                self._idle_sessions.pop()[1].close()
            while self._idle_connections:
                self._idle_connections.pop().close()
            self.sync_engine.dispose()
        if self.async_engine is not None:
            await self.async_engine.dispose()


class _LostRace(Exception):
    def __init__(self, exam_id: int) -> None:
        super().__init__(exam_id)
        self.exam_id = exam_id
