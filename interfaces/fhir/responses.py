"""FHIR answers: a resource (or an OperationOutcome) as application/fhir+json, searchsets."""

from __future__ import annotations

from collections.abc import Sequence

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource
from starlette.requests import Request
from starlette.responses import Response

from interfaces.fhir.outcome import FhirError, outcome

MEDIA_TYPE = "application/fhir+json"
JSON_TYPES = ("application/fhir+json", "application/json")


def fhir_response(
    resource: Resource, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        resource.model_dump_json(), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def refusal(error: FhirError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="radflow"'} if error.status == 401 else None
    return fhir_response(outcome(error.issues), error.status, headers)


def base_of(request: Request) -> str:
    """This server's FHIR base URL (…/fhir/: where the endpoint is mounted)."""
    url = request.url
    return f"{url.scheme}://{url.netloc}{request.scope.get('root_path', '')}/"


def searchset(
    base: str, name: str, resources: Sequence[Resource], links: list[dict[str, str]]
) -> Bundle:
    """A searchset Bundle of the resources (each with its full URL) and its links."""
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{base}{name}/{resource.id}",
                    "resource": resource,
                    "search": {"mode": "match"},
                }
                for resource in resources
            ]
            or None,
        }
    )
