"""The CapabilityStatement, built from the registry the routes serve: it claims what is there.

radflow serves FHIR R4 (4.0.1) in JSON. Every resource and body is checked with
fhir.resources' R4B models (4.3.0): the only R4-family models for pydantic 2, identical to R4
for the resources served here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from interfaces.fhir.resources import RESOURCES

FHIR_VERSION = "4.0.1"
FORMATS = ("application/fhir+json", "json")
SECURITY = (
    "Bearer tokens (JWT) as for the GraphQL API: `Authorization: Bearer <token>`, verified "
    "for issuer, audience and expiry. Each role reads what it may see in the department "
    "(a referrer: the exams they ordered; a patient: their own record; an integration without "
    "the `phi` claim: no names, birth dates or contact details); placing an order follows the "
    "placeOrder row of the command matrix. SMART-style scopes per role: docs/interop.md. "
    "No token: 401; a role or scope that may not: 403; both with an OperationOutcome."
)


def _software_version() -> str:
    try:
        return version("radflow")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0"


@cache
def capability_statement(base: str) -> CapabilityStatement:
    """The statement for a server answering at `base` (its /fhir URL)."""
    resources = []
    for kind in RESOURCES.values():
        interactions = [{"code": "read"}, {"code": "search-type"}]
        if kind.create:
            interactions.append({"code": "create"})
        resources.append(
            {
                "type": kind.name,
                "documentation": kind.documentation,
                "interaction": interactions,
                "versioning": "no-version",
                "readHistory": False,
                "updateCreate": False,
                "conditionalCreate": kind.create,
                "conditionalRead": "not-supported",
                "conditionalUpdate": False,
                "conditionalDelete": "not-supported",
                "searchParam": [
                    {"name": p.name, "type": p.type, "documentation": p.documentation}
                    for p in kind.parameters.values()
                ],
            }
        )
    resources.append(
        {
            "type": "Subscription",
            "documentation": "R4 REST hook on DiagnosticReport or ServiceRequest (criteria: a "
            "search in the parameters above), delivered from the outbox as the owner may see "
            "each resource; for the scheduler, supervisor, integration and admin roles.",
            "interaction": [
                {"code": "create"},
                {"code": "read"},
                {"code": "search-type"},
                {"code": "delete"},
            ],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "conditionalCreate": False,
            "conditionalRead": "not-supported",
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
        }
    )
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "publisher": "radflow",
            "kind": "instance",
            "software": {"name": "radflow", "version": _software_version()},
            "implementation": {"description": "radflow FHIR R4 interface", "url": base},
            "fhirVersion": FHIR_VERSION,
            "format": list(FORMATS),
            "rest": [
                {
                    "mode": "server",
                    "documentation": "Search results are pages of `_count` (1-100, default 20) "
                    "resources in logical id order, with a `next` link; an unknown search "
                    "parameter is refused (400), never ignored.",
                    "security": {"cors": False, "description": SECURITY},
                    "resource": resources,
                }
            ],
        }
    )
