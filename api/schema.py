"""The schema: every feature's queries and mutations merged into one."""

from __future__ import annotations

import logging
import re

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import ParserCache
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.acquisition.mutations import AcquisitionMutations
from api.audit import AuditOperations, AuditQueries
from api.catalog.queries import CatalogQueries
from api.conversion import compile_inputs
from api.errors import ERROR_TYPES
from api.exams.mutations import OrderMutations
from api.exams.queries import ExamQueries
from api.exams.types import Exam
from api.execution import PlannedExecutionContext
from api.imaging.mutations import ImagingMutations
from api.imaging.queries import ImagingQueries
from api.limits import LIMIT_EXCEEDED, DocumentValidationCache, Guards, document_rules
from api.live.subscriptions import LiveSubscriptions
from api.metrics.queries import MetricsQueries
from api.operations.mutations import OperationsMutations
from api.operations.queries import OperationsQueries
from api.people.types import Patient, Radiologist, Referrer
from api.permissions import install
from api.reading.mutations import ReadingMutations
from api.results.mutations import ResultsMutations
from api.results.queries import ResultsQueries
from api.rules.mutations import RuleMutations
from api.rules.queries import RuleQueries
from api.rules.types import RuleSetInvalid
from api.scalars import SCALAR_OVERRIDES
from api.scheduling.mutations import SchedulingMutations
from api.worklists.mutations import WorklistMutations
from api.worklists.queries import WorklistQueries
from application.settings import Settings
from domain.errors import DomainError, ValidationFailed

Query = merge_types(
    "Query",
    (
        ExamQueries,
        CatalogQueries,
        WorklistQueries,
        RuleQueries,
        MetricsQueries,
        AuditQueries,
        ImagingQueries,
        OperationsQueries,
        ResultsQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        OrderMutations,
        SchedulingMutations,
        AcquisitionMutations,
        ReadingMutations,
        WorklistMutations,
        ResultsMutations,
        RuleMutations,
        ImagingMutations,
        OperationsMutations,
    ),
)
Subscription = merge_types("Subscription", (LiveSubscriptions,))
install(Query, Mutation, Subscription)  # the role matrix on every root field


log = logging.getLogger("radflow.api")
_OVER_LIMIT = re.compile(r"contains more than \d+ tokens|exceeds maximum operation depth")


class RadflowSchema(strawberry.Schema):
    """strawberry's schema: every top-level error carries `extensions.code`, and the errors
    it answers on purpose are logged as one line each (docs/api.md, "Errors")."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """A refusal, a malformed request or a limit is an answer, not a fault: it gets its
        code and one log line, no traceback. Anything else is a bug, logged in full."""
        unexpected = []
        for error in errors:
            if _is_internal(error):
                unexpected.append(error)
                continue
            error.extensions = {**top_level_code(error), **(error.extensions or {})}
            log.info(
                "refused %s at %s: %s",
                error.extensions["code"],
                ".".join(map(str, error.path or ())) or "-",
                error.message.replace("\n", " "),
            )
        if unexpected:
            super().process_errors(unexpected, execution_context)


def top_level_code(error: GraphQLError) -> dict[str, object]:
    """The `extensions` of an expected top-level error that did not name its code itself."""
    original = error.original_error
    if isinstance(original, GraphQLError) and original.extensions:  # raised with its code
        return dict(original.extensions)
    if isinstance(original, ValidationFailed):  # a query's argument (a mutation's is a member)
        return {
            "code": original.code,
            "fields": [
                {"field": i.field, "code": str(i.code), "message": i.message}
                for i in original.issues
            ],
        }
    if isinstance(original, DomainError):
        return {"code": original.code}
    if _OVER_LIMIT.search(error.message):  # the parser's token cap, the depth rule
        return {"code": LIMIT_EXCEEDED}
    if error.message.startswith("Syntax Error"):
        return {"code": "GRAPHQL_PARSE_FAILED"}
    return {"code": "GRAPHQL_VALIDATION_FAILED"}


def _is_internal(error: GraphQLError) -> bool:
    """Mask everything but GraphQL's own errors and expected domain failures."""
    original = error.original_error
    if original is None:  # parse/validation errors and GraphQLErrors we raised deliberately
        return False
    return not isinstance(original, (DomainError, GraphQLError))


_BUILT: dict[tuple[object, ...], strawberry.Schema] = {}


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with radflow's extensions: caches, document limits, masked internal errors.

    One per set of document limits, shared by every app built with them: the validation cache
    is keyed by the schema and its rules, so apps sharing it also share validated documents
    (tests and benchmarks build many apps in one process).
    """
    key = (
        settings.max_query_depth,
        settings.max_operations,
        settings.max_query_aliases,
        settings.max_root_fields,
        settings.max_query_tokens,
        settings.production,
    )
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _build_schema(settings)
    return built


class RequestExtensions(Guards, DocumentValidationCache, AuditOperations, ParserCache):
    """radflow's schema extensions as one object per request, each stage's hook its own:
    the token cap, rules and error masking around the operation (`Guards`), the parse
    (`ParserCache`), the validation (`DocumentValidationCache`) and the audit trail around
    the execution (`AuditOperations`).

    One object rather than four because strawberry's cost is per extension: it builds each
    one per request, scans each for every stage's hook, and sets, asks and awaits each for
    its context, middleware and results. The parse and validation caches live at module or
    class level, so they are shared by every request all the same.
    """

    def __init__(
        self,
        *,
        rules: tuple[type[ASTValidationRule], ...],
        max_tokens: int,
        hide_suggestions: bool,
    ) -> None:
        ParserCache.__init__(self, maxsize=256)
        Guards.__init__(
            self,
            rules=rules,
            max_tokens=max_tokens,
            hide_suggestions=hide_suggestions,
            should_mask_error=_is_internal,
        )


def _build_schema(settings: Settings) -> strawberry.Schema:
    # One rule set for the life of the schema: new rule classes per request would make every
    # validation a cache miss (the cache is keyed by the rule set).
    rules = document_rules(settings)
    schema = RadflowSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[*ERROR_TYPES, RuleSetInvalid, Exam, Patient, Referrer, Radiologist],
        execution_context_class=PlannedExecutionContext,
        scalar_overrides=SCALAR_OVERRIDES,
        extensions=[
            lambda: RequestExtensions(
                rules=rules,
                max_tokens=settings.max_query_tokens,
                hide_suggestions=settings.production,
            )
        ],
    )
    compile_inputs(schema)
    return schema
