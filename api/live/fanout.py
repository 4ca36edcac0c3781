"""Execute once, send to many: subscribers with the same operation share one execution.

strawberry runs one subscription (resolver, execution of the selection, JSON encoding) per
subscriber: about 70 µs per message per subscriber. Here every subscription operation that
does not resume (no `after`) is keyed by (caller, document, variables, operation name); the
first subscriber with a key starts one strawberry stream, later ones join it, and each result
is executed and encoded once, then written to every member's socket as a ready-made frame.
The caller is part of the key, so what one user may see is never sent to another.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Hashable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSyntaxError,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import CompleteMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

if TYPE_CHECKING:
    from strawberry.schema import BaseSchema
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
        BaseGraphQLTransportWSHandler,
        Operation,
    )

    from api.live.context import LiveContext

log = logging.getLogger("radflow.live")


@lru_cache(maxsize=512)
def _resume_variables(query: str, operation_name: str | None) -> frozenset[str] | None:
    """The variables that feed a root field's `after`, or None when the operation cannot be
    shared: not a subscription, not parseable, or `after` written as a literal."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.SUBSCRIPTION:
        return None
    names: set[str] = set()
    for selection in operations[0].selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None  # fragments at the root: keep it simple, run it alone
        for argument in selection.arguments or ():
            if argument.name.value != "after":
                continue
            if isinstance(argument.value, VariableNode):
                names.add(argument.value.name.value)
            elif not isinstance(argument.value, NullValueNode):
                return None
    return frozenset(names)


def share_key(
    context: LiveContext, query: str, variables: dict[str, Any] | None, operation_name: str | None
) -> Hashable | None:
    """The key subscribers share an execution by, or None when this one must run alone
    (it resumes from an `after`, or is not a plain subscription)."""
    resume = _resume_variables(query, operation_name)
    if resume is None or any((variables or {}).get(name) is not None for name in resume):
        return None
    try:
        encoded = json.dumps(variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return (context.actor.id, context.actor.role, query, encoded, operation_name)


class Member:
    """One subscriber's operation inside a shared stream."""

    __slots__ = ("done", "handler", "operation", "prefix")

    def __init__(
        self, handler: BaseGraphQLTransportWSHandler[Any, Any], operation: Operation[Any, Any]
    ) -> None:
        self.handler = handler
        self.operation = operation
        self.prefix = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
        self.done = asyncio.Event()


class SharedStream:
    """One strawberry subscription whose results go to every member."""

    def __init__(
        self,
        fanout: FanOut,
        key: Hashable,
        schema: BaseSchema,
        context: LiveContext,
        operation: Operation[Any, Any],
    ) -> None:
        self.fanout = fanout
        self.key = key
        self.members: dict[int, Member] = {}
        self.delivered = 0
        self._task = asyncio.get_running_loop().create_task(
            self._run(
                schema, context, operation.query, operation.variables, operation.operation_name
            )
        )

    def join(self, member: Member) -> None:
        """Add a subscriber."""
        self.members[id(member)] = member

    def leave(self, member: Member) -> None:
        """Remove a subscriber; the last one to leave stops the stream."""
        self.members.pop(id(member), None)
        if not self.members:
            self.fanout.forget(self)
            self._task.cancel()

    async def _run(
        self,
        schema: BaseSchema,
        context: LiveContext,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        try:
            source = await schema.stream(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
            )
            async with aclosing(source):
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        await self._fail(result.errors or [], close_on_syntax=True)
                        return
                    if not isinstance(result, ExecutionResult):
                        await self._fail(
                            [
                                GraphQLError(
                                    "Incremental delivery is not supported "
                                    "over graphql-transport-ws"
                                )
                            ]
                        )
                        return
                    first = False
                    await self._broadcast(self._encode(result))
            await self._complete()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription stream failed")
            await self._complete()
        finally:
            self.fanout.forget(self)
            for member in self.members.values():
                member.done.set()

    @staticmethod
    def _encode(result: ExecutionResult) -> str:
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        return json.dumps(payload, separators=(",", ":"))

    async def _broadcast(self, payload: str) -> None:
        for member in list(self.members.values()):
            if member.operation.completed:
                continue
            try:
                await member.handler.websocket.ws.send_text(  # type: ignore[attr-defined]
                    member.prefix + payload + "}"
                )
                self.delivered += 1
            except Exception:  # that socket is gone; its handler cleans up the operation
                member.done.set()
                self.members.pop(id(member), None)

    async def _fail(self, errors: list[GraphQLError], *, close_on_syntax: bool = False) -> None:
        for member in list(self.members.values()):
            if close_on_syntax and errors and isinstance(errors[0], GraphQLSyntaxError):
                await member.handler.websocket.close(code=4400, reason=errors[0].message)
                continue
            await member.operation.send_initial_errors(errors)

    async def _complete(self) -> None:
        for member in list(self.members.values()):
            try:
                await member.operation.send_operation_message(
                    CompleteMessage(id=member.operation.id, type="complete")
                )
            except Exception:
                continue


class FanOut:
    """The shared streams of this process, by key."""

    def __init__(self) -> None:
        self.streams: dict[Hashable, SharedStream] = {}

    def join(
        self, key: Hashable, member: Member, schema: BaseSchema, context: LiveContext
    ) -> SharedStream:
        """The stream for `key` (started now if there is none), with `member` in it."""
        stream = self.streams.get(key)
        if stream is None:
            stream = SharedStream(self, key, schema, context, member.operation)
            self.streams[key] = stream
        stream.join(member)
        return stream

    def forget(self, stream: SharedStream) -> None:
        """Drop a stream that ended or lost its last member."""
        if self.streams.get(stream.key) is stream:
            del self.streams[stream.key]

    def subscriber_count(self) -> int:
        """Subscribers in shared streams."""
        return sum(len(s.members) for s in self.streams.values())
