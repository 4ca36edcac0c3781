"""The resource types radflow serves over FHIR, by name (the routes and the
CapabilityStatement read this registry)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from interfaces.fhir.kind import ResourceType
from interfaces.fhir.resources.appointment import APPOINTMENT
from interfaces.fhir.resources.diagnostic_report import DIAGNOSTIC_REPORT
from interfaces.fhir.resources.imaging_study import IMAGING_STUDY
from interfaces.fhir.resources.patient import PATIENT
from interfaces.fhir.resources.service_request import SERVICE_REQUEST

RESOURCES: Mapping[str, ResourceType] = MappingProxyType(
    {
        kind.name: kind
        for kind in (PATIENT, SERVICE_REQUEST, DIAGNOSTIC_REPORT, IMAGING_STUDY, APPOINTMENT)
    }
)
