"""The patient's survey page at /survey/<token>: answered from a signed link, no account."""

from api.survey.routes import survey_routes

__all__ = ["survey_routes"]
