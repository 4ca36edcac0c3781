"""A faster executor: selections made only of plain data are completed by a compiled plan.

graphql-core resolves every field through the full machinery (resolve info, resolver wrapper,
completion dispatch), which costs microseconds per field and dominates a 50-exam page of some
850 fields. Most of those fields are plain attributes of objects our resolvers already built.
For such a selection we compile, once per query text, a plan that reads the attributes and
serializes the leaves directly, and we run it instead of the field-by-field path.

A selection is planned only when every field in it (recursively) is a plain attribute without
arguments, permissions or extensions, or a relation marked `prefetched` whose value the parent
object already holds; the plan is never used for abstract types, for documents that use
directives, or for incremental delivery. Whenever a plan meets something it cannot do (a
missing prefetched relation, a null in a non-null field, a value it cannot serialize) it steps
aside and the standard executor completes that object, errors and all, exactly as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.language import DirectiveNode, Visitor, visit
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.projection import Prebuilt

PREFETCHED = "radflow.prefetched"  # strawberry field metadata key: read `source.prefetched`
MAX_PLANS = 2048

Complete = Callable[[Any], Any]
_NO_PLAN = object()


class _StepAside(Exception):
    """The plan cannot complete this object; the standard executor will."""


class _HasDirectives(Visitor):
    found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self.found = True


# Plans are keyed by the AST nodes of cached parsed documents; the entry keeps its node alive
# so an id is never reused while its plan exists.
_plans: OrderedDict[tuple[int, str], tuple[object, Any]] = OrderedDict()
_documents: dict[int, tuple[object, bool]] = {}


class PlannedExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with compiled plans for plain-data selections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plannable = self.operation is not None and not any(
            _uses_directives(definition)
            for definition in (self.operation, *self.fragment_definitions.values())
        )

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if isinstance(result, Prebuilt):  # a resolver already answered the whole selection
            return result.data
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self._plannable:
            plan = self._object_plan(return_type, field_details_list)
            if plan is not None:
                try:
                    return plan(result)
                except Exception:
                    pass
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _object_plan(
        self, return_type: GraphQLObjectType, field_details_list: Any
    ) -> Complete | None:
        anchor = field_details_list[0].node
        key = (id(anchor), return_type.name)
        cached = _plans.get(key)
        if cached is not None and cached[0] is anchor:
            return None if cached[1] is _NO_PLAN else cached[1]
        plan = self._compile_object(return_type, field_details_list)
        _plans[key] = (anchor, _NO_PLAN if plan is None else plan)
        if len(_plans) > MAX_PLANS:
            _plans.popitem(last=False)
        return plan

    def _compile_object(
        self, return_type: GraphQLObjectType, field_details_list: Any
    ) -> Complete | None:
        if return_type.is_type_of is not None and not _is_strawberry_default(return_type):
            return None
        grouped, defer_usages, _ = self.collect_subfields(return_type, field_details_list)
        if defer_usages:
            return None
        type_name = return_type.name

        def typename(_source: Any) -> str:
            return type_name

        steps: list[tuple[str, Callable[[Any], Any], Complete]] = []
        for response_key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                steps.append((response_key, typename, lambda v: v))
                continue
            field_def = return_type.fields.get(name)
            if field_def is None or node.arguments:
                return None
            getter = _getter(field_def)
            complete = self._compile_type(field_def.type, details) if getter else None
            if getter is None or complete is None:
                return None
            steps.append((response_key, getter, complete))

        def run(source: Any) -> dict[str, Any]:
            return {key: complete(get(source)) for key, get, complete in steps}

        return run

    def _compile_type(self, type_: GraphQLOutputType, details: Any) -> Complete | None:
        if isinstance(type_, GraphQLNonNull):
            inner = self._compile_type(type_.of_type, details)
            if inner is None:
                return None

            def non_null(value: Any, inner: Complete = inner) -> Any:
                if value is None:
                    raise _StepAside
                completed = inner(value)
                if completed is None:
                    raise _StepAside
                return completed

            return non_null
        if isinstance(type_, GraphQLList):
            item = self._compile_type(type_.of_type, details)
            if item is None:
                return None

            def items(value: Any, item: Complete = item) -> Any:
                return None if value is None else [item(v) for v in value]

            return items
        if isinstance(type_, (GraphQLScalarType, GraphQLEnumType)):
            return _leaf(type_)
        if isinstance(type_, GraphQLObjectType):
            plan = self._object_plan(type_, details)
            if plan is None:
                return None

            def object_(value: Any, plan: Complete = plan) -> Any:
                return None if value is None else plan(value)

            return object_
        return None  # interfaces and unions go through the standard path


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> Complete:
    """Serialize a leaf; the common cases skip the generic serializer."""
    serialize = type_.serialize
    if isinstance(type_, GraphQLEnumType):
        # Our enum values are the domain's StrEnum members: map member -> name directly.
        names = {definition.value: name for name, definition in type_.values.items()}

        def enum(value: Any) -> Any:
            if value is None:
                return None
            name = names.get(value)
            return name if name is not None else serialize(value)

        return enum
    if type_.name in ("String", "ID"):
        return lambda value: value if type(value) is str or value is None else serialize(value)
    return lambda value: None if value is None else serialize(value)


def _getter(field_def: Any) -> Callable[[Any], Any] | None:
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None or definition.permission_classes or definition.extensions:
        return None
    if definition.base_resolver is None:
        attribute = definition.python_name
        return lambda source: getattr(source, attribute)
    if (definition.metadata or {}).get(PREFETCHED):
        name = definition.python_name

        def prefetched(source: Any) -> Any:
            try:
                return source.prefetched[name]
            except (AttributeError, KeyError):
                raise _StepAside from None

        return prefetched
    return None


def _is_strawberry_default(return_type: GraphQLObjectType) -> bool:
    # Strawberry adds an isinstance-style is_type_of to types implementing interfaces; the
    # objects a plan meets were built by our resolvers as exactly those types.
    return "strawberry-definition" in (return_type.extensions or {})


def _uses_directives(definition: Any) -> bool:
    key = id(definition)
    cached = _documents.get(key)
    if cached is not None and cached[0] is definition:
        return cached[1]
    visitor = _HasDirectives()
    visit(definition, visitor)
    if len(_documents) > MAX_PLANS:
        _documents.clear()
    _documents[key] = (definition, visitor.found)
    return visitor.found
