"""FHIR R4 beside the API: /fhir serves Patient, ServiceRequest (create too), DiagnosticReport,
ImagingStudy and Appointment through the application's commands and the domain's scopes, and
delivers REST-hook Subscriptions from the outbox (docs/interop.md)."""
