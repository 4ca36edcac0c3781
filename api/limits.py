"""What one GraphQL document may ask for, and what an error may tell the caller.

The rules run during validation, which strawberry caches per document and rule set: they are
built once per schema (`document_rules`) so every request passes the same classes and a
repeated query costs a cache lookup. `Guards` is the one per-request extension that applies
them, caps the parser's tokens, masks internal errors with a correlation id and, in
production, strips "Did you mean ...?" hints that would map the schema for an outsider.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.query_depth_limiter import create_validator
from strawberry.schema.schema import validate_document

from api.hardening import NOT_TEXT
from application.settings import Settings

log = logging.getLogger("radflow.errors")

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
_SUGGESTION = re.compile(r"\s*Did you mean .*\?\s*$", re.DOTALL)


class _Counter:
    """Aliases and fields of selection sets, each fragment counted once and reused."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, tuple[int, int]] = {}
        self.visiting: set[str] = set()

    def count(self, selections: SelectionSetNode | None) -> tuple[int, int]:
        """(aliases anywhere below, fields at this level) with spreads expanded."""
        aliases = fields = 0
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                fields += 1
                aliases += (node.alias is not None) + self.count(node.selection_set)[0]
            elif isinstance(node, InlineFragmentNode):
                inner_aliases, inner_fields = self.count(node.selection_set)
                aliases, fields = aliases + inner_aliases, fields + inner_fields
            elif isinstance(node, FragmentSpreadNode):
                inner_aliases, inner_fields = self.spread(node.name.value)
                aliases, fields = aliases + inner_aliases, fields + inner_fields
        return aliases, fields

    def spread(self, name: str) -> tuple[int, int]:
        # Memoised, so nested spreads cost linear time rather than exponential; a cycle
        # counts nothing here (NoFragmentCyclesRule reports it).
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0, 0
        self.visiting.add(name)
        self.memo[name] = self.count(fragment.selection_set)
        self.visiting.discard(name)
        return self.memo[name]


def measure(document: DocumentNode) -> tuple[int, int, int]:
    """(operations, aliases in all operations, most root fields of one operation)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    counter = _Counter(
        {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    )
    sizes = [counter.count(operation.selection_set) for operation in operations]
    return len(operations), sum(a for a, _ in sizes), max((f for _, f in sizes), default=0)


def document_limits(
    *, max_operations: int, max_aliases: int, max_root_fields: int
) -> type[ValidationRule]:
    """A rule refusing documents with too many operations, aliases or root fields."""

    class DocumentLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations, aliases, root_fields = measure(context.document)
            for what, found, allowed in (
                ("operations", operations, max_operations),
                ("aliases", aliases, max_aliases),
                ("top-level fields in one operation", root_fields, max_root_fields),
            ):
                if found > allowed:
                    context.report_error(
                        GraphQLError(
                            f"The document has {found} {what}; at most {allowed} are allowed"
                            " (fragments count at every spread).",
                            extensions={"code": LIMIT_EXCEEDED},
                        )
                    )

    return DocumentLimits


class PlainText(ValidationRule):
    """String literals hold text: no NUL (PostgreSQL cannot store it) and no lone surrogate
    (no encoding can). Variables get the same check where the JSON body is parsed."""

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if NOT_TEXT.search(node.value):
            self.report_error(
                GraphQLError(
                    "A string literal holds a NUL character or an unpaired surrogate, which no "
                    "text may contain.",
                    node,
                    extensions={"code": "INVALID_TEXT"},
                )
            )


def document_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The schema's extra validation rules, built once so validation stays cached."""
    rules: list[type[ASTValidationRule]] = [
        create_validator(settings.max_query_depth, None, None),
        document_limits(
            max_operations=settings.max_operations,
            max_aliases=settings.max_query_aliases,
            max_root_fields=settings.max_root_fields,
        ),
        PlainText,
    ]
    if settings.production:  # no __schema / __type: the schema is not published there
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


class Guards(MaskErrors):
    """Token cap and extra rules for each request; internal errors masked, with an id."""

    def __init__(
        self,
        *,
        rules: tuple[type[ASTValidationRule], ...],
        max_tokens: int,
        hide_suggestions: bool,
        should_mask_error: Callable[[GraphQLError], bool],
    ) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message="Internal server error")
        self.rules = rules
        self.max_tokens = max_tokens
        self.hide_suggestions = hide_suggestions

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield from super().on_operation()

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        correlation_id = secrets.token_hex(8)
        original = error.original_error
        log.error(
            "internal error %s at %s: %r",
            correlation_id,
            error.path,
            original,
            exc_info=(type(original), original, original.__traceback__)
            if original is not None
            else None,
        )
        return GraphQLError(
            self.error_message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id},
        )

    def _process_result(self, result: object) -> None:
        # MaskErrors asks isinstance() of a runtime-checkable protocol, which inspects the
        # class on every request (~1% of a mutation); every result type has `errors`.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        if self.hide_suggestions:
            for error in processed:
                error.message = _SUGGESTION.sub("", error.message)
        return processed


class DocumentValidationCache(SchemaExtension):
    """Validation results per parsed document, found by the document's identity.

    The parser cache hands back the same `DocumentNode` for the same query text, so identity
    finds a repeated document; strawberry's `ValidationCache` keys an `lru_cache` by the
    document's value, and hashing a document walks its whole tree on every request (a
    nested-dataclass hash, ~1% of a mutation). An entry keeps its document alive, so an id
    is never reused while it is cached. Bounded: the oldest entry goes first.
    """

    _entries: OrderedDict[
        tuple[int, int, tuple[type[ASTValidationRule], ...]],
        tuple[DocumentNode, list[GraphQLError]],
    ] = OrderedDict()
    maxsize = 256

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None  # validation runs after a successful parse
        schema = context.schema._schema
        key = (id(document), id(schema), tuple(context.validation_rules))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is document:
            self._entries.move_to_end(key)
            errors = entry[1]
        else:
            errors = validate_document(schema, document, key[2])
            self._entries[key] = (document, errors)
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        context.pre_execution_errors = errors
        yield
