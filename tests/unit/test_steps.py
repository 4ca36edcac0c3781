"""One name for what was done to an exam: the step, in history, events and refusals."""

from __future__ import annotations

import pytest

from domain import events as ev
from domain.lifecycle import TRANSITIONS, Step, step_of


@pytest.mark.parametrize("step", list(Step))
def test_every_step_is_recorded_by_exactly_one_kind_of_status_event(step: Step) -> None:
    kinds = {
        c.__name__
        for c in vars(ev).values()
        if isinstance(c, type)
        and issubclass(c, ev.ExamStatusChanged)
        and c is not ev.ExamStatusChanged
        and step_of(c.__name__) == step
    }
    assert len(kinds) == 1, kinds


def test_a_transition_s_event_names_its_step() -> None:
    assert all(step_of(t.event.__name__) == t.step for t in TRANSITIONS)
    assert step_of(ev.ExamOrdered.__name__) == Step.ORDER
