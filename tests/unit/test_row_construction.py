"""A table model's row is built as SQLModel builds it (domain/models/_row.py): the same
fields hold values (given ones as given, defaults where left out, required ones left unset),
the given names are the fields set, and the row is transient with nothing of it changed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm.attributes import instance_state
from sqlmodel._compat import sqlmodel_table_construct

from domain.loaded_rows import mapper_of
from domain.models import ExamPrepItem, Notification, Report
from domain.models._row import Row


def _table_models() -> list[type[Row]]:
    found: list[type[Row]] = []
    todo = list(Row.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model.model_config.get("table", False):
            found.append(model)
    return sorted(found, key=lambda model: model.__name__)


def _sqlmodels_way(model: type[Row], data: dict[str, Any]) -> Row:
    row: Row = mapper_of(model).class_manager.new_instance()
    sqlmodel_table_construct(self_instance=row, values=dict(data))
    return row


def _values(row: Row) -> dict[str, Any]:
    return {k: v for k, v in row.__dict__.items() if k != "_sa_instance_state"}


@pytest.mark.parametrize("model", _table_models(), ids=lambda model: model.__name__)
def test_every_table_model_is_built_with_the_fields_sqlmodel_gives_it(model: type[Row]) -> None:
    first = next(iter(model.model_fields))
    data = {first: 7, "not_a_field": 1}
    row, theirs = model(**data), _sqlmodels_way(model, data)
    assert _values(row).keys() == _values(theirs).keys()
    for name, value in _values(row).items():
        if model.model_fields[name].default_factory is None:  # a factory's value is per row
            assert value == _values(theirs)[name], name
    assert row.__pydantic_fields_set__ == theirs.__pydantic_fields_set__ == {first}
    state = instance_state(row)
    assert state.transient and not state.committed_state and not state.modified


@pytest.mark.parametrize("model", [Report, Notification, ExamPrepItem])
def test_a_default_computed_per_row_is_not_shared_between_rows(model: type[Row]) -> None:
    first = next(iter(model.model_fields))
    one, other = model(**{first: 1}), model(**{first: 2})
    for name, field in model.model_fields.items():
        value = _values(one).get(name)
        if field.default_factory is not None and isinstance(value, (list, dict)):
            assert value is not _values(other)[name]


def test_an_assignment_after_the_row_is_built_is_the_value_it_holds() -> None:
    report = Report(exam_id=1, radiologist_id=2, impression="draft")
    assert report.impression == "draft"
    report.impression = "final"
    assert report.impression == "final" and "impression" in report.__pydantic_fields_set__
