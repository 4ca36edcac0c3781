"""Refusals as FHIR answers: an HTTP status and an OperationOutcome naming what and where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError


@dataclass(frozen=True)
class Issue:
    """One issue of an OperationOutcome: its code (FHIR issue-type), text and FHIRPath."""

    code: str
    diagnostics: str
    expression: str | None = None


@dataclass
class FhirError(Exception):
    """A request radflow does not carry out, with the status and issues that answer it."""

    status: int
    issues: list[Issue] = field(default_factory=list)

    @classmethod
    def one(
        cls, status: int, code: str, diagnostics: str, expression: str | None = None
    ) -> FhirError:
        return cls(status, [Issue(code, diagnostics, expression)])

    def __str__(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues)


class Unauthenticated(Exception):
    """The bearer token is missing a piece, forged, expired or meant for someone else."""


def outcome(issues: Sequence[Issue]) -> OperationOutcome:
    """The OperationOutcome of a refusal (severity error for each issue)."""
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": issue.code,
                    "diagnostics": issue.diagnostics,
                    **({"expression": [issue.expression]} if issue.expression else {}),
                }
                for issue in issues
            ],
        }
    )


def fhirpath(resource_type: str, location: Sequence[int | str]) -> str:
    """A pydantic error location as a FHIRPath: ('identifier', 0, 'value') ->
    ServiceRequest.identifier[0].value."""
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("resource_type", "__root__") and not part.startswith("function-"):
            path += f".{part}"
    return path


def invalid_resource(resource_type: str, error: ValidationError) -> FhirError:
    """A body the model library refuses: one issue per error, with its FHIRPath (the values
    sent are never repeated: they may be a patient's)."""
    issues = []
    for problem in error.errors()[:20]:
        kind = problem["type"]
        code = "required" if kind == "missing" else "structure" if "extra" in kind else "value"
        message = str(problem["msg"]).split("\n")[0]
        issues.append(Issue(code, message, fhirpath(resource_type, problem["loc"])))
    return FhirError(400, issues)
