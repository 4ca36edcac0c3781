"""The department's catalogue rows kept in process between commands: sites, scanners and their
opening hours, procedures, prep protocols, report templates and turnaround targets.

No command changes them (seeding, migrations and an administrator's SQL do), yet most commands
read one or two: a scanner by its code, a site, a report template, a turnaround target. Each
was a statement per command; here it is read once per process and kept, as a copy no session
holds (a loaded row handed from one command's session to the next would carry the first
session's state).

A lookup that finds nothing is not kept: a row added later is seen at once. When a kept row
may be stale:
- a transaction of this process that writes a catalogue row through the ORM empties the
  cache when it flushes (`watch`), and again when it ends, so neither the writer (its later
  statements) nor any other command reads the old row;
- anything else (another process, a Core statement, SQL by hand) is seen within `max_age`
  seconds, when the whole cache is dropped and read afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from domain.models import (
    ModalityResource,
    OpeningHours,
    PrepProtocol,
    PrepProtocolItem,
    Procedure,
    ReportTemplate,
    Site,
    TurnaroundTarget,
)

T = TypeVar("T")

CATALOGUE = (
    Site,
    ModalityResource,
    OpeningHours,
    Procedure,
    PrepProtocol,
    PrepProtocolItem,
    ReportTemplate,
    TurnaroundTarget,
)
_CATALOGUE = frozenset(CATALOGUE)
MAX_AGE_S = 60.0


class ReferenceRows:
    """Catalogue lookups kept by their question (model, column, value, ...)."""

    def __init__(
        self, *, max_age: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._answers: dict[Hashable, Any] = {}
        self._max_age = max_age
        self._clock = clock
        self._since = clock()

    def answer(self, question: Hashable, ask: Callable[[], T]) -> T:
        """The kept answer to `question`, or `ask()`'s, kept when it found something (a row
        added later is then seen at once). A row in the answer must be a copy no session
        holds (`detached_copy`)."""
        if self._clock() - self._since > self._max_age:
            self.forget()
        try:
            kept: T = self._answers[question]
        except KeyError:
            answer = ask()
            if answer is not None and answer != ():
                self._answers[question] = answer
            return answer
        return kept

    def forget(self) -> None:
        """Drop every kept answer (a catalogue row changed)."""
        self._answers = {}
        self._since = self._clock()

    def watch(self, sessions: sessionmaker[Any] | type[Session]) -> None:
        """Forget when a session of `sessions` flushes a change to a catalogue row, and again
        when its transaction ends (its rows were read in the meantime, perhaps kept)."""
        written: set[int] = set()

        def after_flush(session: Session, _context: Any) -> None:
            rows = (*session.new, *session.dirty, *session.deleted)
            if any(type(row) in _CATALOGUE for row in rows):
                written.add(id(session))
                self.forget()

        def after_transaction_end(session: Session, transaction: Any) -> None:
            if transaction.parent is None and id(session) in written:
                written.discard(id(session))
                self.forget()

        event.listen(sessions, "after_flush", after_flush)
        event.listen(sessions, "after_transaction_end", after_transaction_end)


def is_catalogue(model: type[Any]) -> bool:
    """Whether rows of `model` are catalogue rows (kept by `ReferenceRows`)."""
    return model in _CATALOGUE


def detached_copy(row: T) -> T:
    """A new object with the loaded row's column values that no session holds."""
    mapper = sa.inspect(type(row))
    values = {attribute.key: getattr(row, attribute.key) for attribute in mapper.column_attrs}
    copy: T = type(row)(**values)
    return copy
