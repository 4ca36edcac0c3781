"""Storing and activating rule set versions, on the in-memory unit of work."""

from __future__ import annotations

import pytest

from domain import events as ev
from domain.errors import NotFound, NotPermitted, ValidationFailed
from domain.services import rulesets
from tests.unit.services.conftest import SUPERVISOR, TECH, Department


def test_activating_a_version_twice_in_a_row_is_refused_and_a_rollback_names_the_previous(
    department: Department,
) -> None:
    uow = department.uow
    first = rulesets.store_version(uow=uow, actor=SUPERVISOR, rules=[], reason="v1", based_on=None)
    second = rulesets.store_version(
        uow=uow, actor=SUPERVISOR, rules=[], reason="v2", based_on=first.version
    )
    rulesets.activate(uow=uow, actor=SUPERVISOR, version=second.version or 0, reason="go")

    with pytest.raises(ValidationFailed):
        rulesets.activate(uow=uow, actor=SUPERVISOR, version=second.version or 0, reason="again")
    rulesets.activate(uow=uow, actor=SUPERVISOR, version=first.version or 0, reason="rollback")

    activated = uow.events_of(ev.RuleSetActivated)
    assert [(e.version, e.previous_version) for e in activated] == [  # type: ignore[attr-defined]
        (second.version, None),
        (first.version, second.version),
    ]


def test_a_version_must_build_on_a_stored_one_and_only_editors_store(
    department: Department,
) -> None:
    with pytest.raises(NotFound):
        rulesets.store_version(
            uow=department.uow, actor=SUPERVISOR, rules=[], reason="v", based_on=42
        )
    with pytest.raises(NotPermitted):
        rulesets.store_version(uow=department.uow, actor=TECH, rules=[], reason="v", based_on=None)
