"""Rows read by a Core statement, handed to the session as if its ORM query had loaded them.

A command's first statement reads its exam (domain/access.py). Through the ORM that read
builds a loading context and a row processor for every execution, more than the statement
itself costs; the same columns read by Core and given to the session by the steps
SQLAlchemy's own loader takes for a new row leave the session as the query would: the row
persistent under its key, every column loaded and unchanged, later changes tracked and
written as before.

Commands run in a `CommandSession`: `Session.add` and `Session.expunge` walk every mapped
property of the row (a wide row's forty columns among them) looking for relationships to
cascade along, and radflow's table models have none; for a model without relationships the
session skips that walk, which was most of either call. It also keeps the connection of its
current transaction: a command asks for it for each Core statement it sends (its exam's read,
its rows' writes, the history, audit and outbox rows), and each ask went through the
session's transaction state machine again to find the same connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import InstanceState, Mapper, Session
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


@cache
def _attributes(mapper: Mapper[Any]) -> tuple[tuple[str, ...], tuple[sa.Column[Any], ...], int]:
    """The mapped attributes' names and columns, and where the key is among them."""
    if len(mapper.primary_key) != 1:
        raise ValueError(f"{mapper.class_.__name__} has no one-column key")
    keys, columns = [], []
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        assert isinstance(column, sa.Column)
        keys.append(attribute.key)
        columns.append(column)
    key = mapper.primary_key[0]
    return tuple(keys), tuple(columns), next(i for i, c in enumerate(columns) if c is key)


def columns_of(model: type[SQLModel]) -> tuple[sa.Column[Any], ...]:
    """The columns of every mapped attribute of `model` (a one-column key), in the order
    `as_loaded` takes their values."""
    return _attributes(mapper_of(model))[1]


@cache
def mapper_of(model: type[SQLModel]) -> Mapper[Any]:
    """The model's mapper, found once (`sa.inspect` looks it up through its registry on every
    call, and commands ask for it per row they read or write)."""
    mapper: Mapper[Any] = sa.inspect(model)
    return mapper


def key_of(model: type[SQLModel], key: Any) -> tuple[Any, ...]:
    """The session's identity key of the row of `model` (a one-column key) with this key, as
    `sqlalchemy.orm.util.identity_key(model, key)` answers it without finding the mapper and
    listing the key each time."""
    return mapper_of(model).identity_key_from_primary_key((key,))


def as_loaded(session: Session, model: type[M], values: Sequence[Any]) -> M:
    """The row of `model` with these column values (in `columns_of`'s order), persistent in
    `session`: the one the session already holds under its key, else a new one."""
    mapper = mapper_of(model)
    keys, _, key_at = _attributes(mapper)
    identity = key_of(model, values[key_at])
    held = session.identity_map.get(identity)
    if isinstance(held, model):
        return held  # as a query would: the session's row wins over the values read
    row: M = mapper.class_manager.new_instance()
    row.__dict__.update(zip(keys, values, strict=True))
    # The steps SQLAlchemy's loader takes for a row it reads that the session does not hold
    # (orm/loading.py, `_instance`): keyed, owned by the session, in its identity map, every
    # column loaded and nothing changed. `make_transient_to_detached` then `Session.add`
    # reach the same state through checks and events a fresh row needs none of (measured on
    # an exam row: 43 µs that way, 14-22 µs this way).
    _persist(session, instance_state(row), identity)
    return row


def _persist(session: Session, state: InstanceState[Any], identity: tuple[Any, ...]) -> None:
    """Key a row, give it to `session` and put it in its identity map, which no row of that
    key is in (orm/loading.py, `_instance`, for a row it reads)."""
    state.key = identity
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, identity)


class CommandSession(Session):
    """A session whose `add` and `expunge` of a row without relationships skip the cascade
    walk, which for such a row finds nothing (SQLAlchemy's own steps otherwise), and whose
    `connection()` is found once per transaction."""

    # (the transaction, innermost first, its connection was found for; the connection)
    _kept: tuple[object, sa.Connection] | None = None

    def connection(
        self,
        bind_arguments: Any = None,
        execution_options: Any = None,
    ) -> sa.Connection:
        if bind_arguments or execution_options:
            return super().connection(bind_arguments, execution_options)
        kept = self._kept
        # The innermost transaction (a savepoint's own): a statement sent in a savepoint then
        # always goes through the session once, which begins the SAVEPOINT if it has not yet.
        if kept is not None and kept[0] is self._transaction:
            return kept[1]
        connection = super().connection()
        self._kept = (self._transaction, connection)
        return connection

    def _save_or_update_state(self, state: InstanceState[Any]) -> None:
        if state.mapper.relationships:
            super()._save_or_update_state(state)
            return
        state._orphaned_outside_of_session = False
        self._save_or_update_impl(state)

    def expunge(self, instance: object) -> None:
        state = instance_state(instance)
        if state.mapper.relationships:
            super().expunge(instance)
            return
        if state.session_id is not self.hash_key:
            raise sa_exc.InvalidRequestError(f"{instance!r} is not present in this Session")
        self._expunge_states([state])


def as_inserted(session: Session, row: object, key: Any) -> None:
    """Make a new row the session holds as pending, and that was inserted by a statement of
    the command's own with this key, persistent as the flush leaves a row it inserted
    (`Session._register_persistent`): keyed, out of the session's new rows and in its
    identity map, every value it was given unchanged, and a column it was not given (one the
    database filled in) expired, loaded when first read."""
    state = instance_state(row)
    mapper = state.mapper
    keys, _, key_at = _attributes(mapper)
    state.dict[keys[key_at]] = key
    session._new.pop(state, None)
    state._commit_all(state.dict)
    unloaded = state.unloaded
    if unloaded:
        state._expire_attributes(state.dict, unloaded)
    _persist(session, state, mapper.identity_key_from_primary_key((key,)))
