"""Supervisor rule sets (immutable versions, activations) and AI triage results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field

from domain.models._columns import document, ref, text, when
from domain.models._row import Row


class RuleSetVersion(Row, table=True):
    """One saved version of the department's rules; never changed once written.

    `rules` is the rule set as plain data (a list of rules with their actions).
    """

    __tablename__ = "rule_set_versions"

    version: int | None = Field(default=None, primary_key=True)
    created_at: datetime = when()
    author: str = text(64)
    reason: str = text(500)
    based_on: int | None = Field(default=None, foreign_key="rule_set_versions.version")
    rules: list[dict[str, Any]] = document()


class RuleSetActivation(Row, table=True):
    """A version made active: the latest activation is the policy; rollback reactivates."""

    __tablename__ = "rule_set_activations"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(foreign_key="rule_set_versions.version", index=True)
    activated_at: datetime = when(index=True)
    activated_by: str = text(64)
    reason: str = text(500)


class AiTriageResult(Row, table=True):
    """An AI model's finding on a study (e.g. intracranial_hemorrhage, 0.93) that rules can use."""

    __tablename__ = "ai_triage_results"

    id: int | None = Field(default=None, primary_key=True)
    exam_id: int = ref("exams")
    finding: str = text(64)
    score: float = Field(ge=0, le=1)
    model: str = text(64)
    posted_at: datetime = when()
    posted_by: str = text(64)
