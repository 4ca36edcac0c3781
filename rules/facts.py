"""Columnar facts of all open studies: the input of whole-department rule evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from domain.enums import Modality, PatientClass, Priority, Subspecialty
from rules.vocabulary import ATTRIBUTES, VOCABULARY, AttributeType, StudyFacts, Weekday

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TextColumn:
    """A text attribute stored as codes into its distinct values (few values, many studies)."""

    codes: npt.NDArray[np.int32]
    categories: tuple[str, ...]

    def code_of(self, value: str) -> int:
        """The code of `value`, or -1 when no study has it (so equality is all False)."""
        try:
            return self.categories.index(value)
        except ValueError:
            return -1

    def isin(self, values: Sequence[str]) -> BoolArray:
        """Which studies have one of `values`."""
        lut = np.array([c in values for c in self.categories] + [False], dtype=np.bool_)
        return lut[self.codes]

    def value(self, row: int) -> str:
        """The value of one study."""
        return self.categories[int(self.codes[row])]


_ENUMS: dict[str, type[StrEnum]] = {
    "modality": Modality,
    "subspecialty": Subspecialty,
    "priority": Priority,
    "patient_class": PatientClass,
    "weekday": Weekday,
}

Column = TextColumn | IntArray | FloatArray


@dataclass(frozen=True)
class FactsTable:
    """Every vocabulary attribute as a column over the same studies, in `study_ids` order."""

    study_ids: IntArray
    columns: Mapping[str, Column]

    def __len__(self) -> int:
        return int(self.study_ids.shape[0])

    def text(self, name: str) -> TextColumn:
        """A text column by attribute name."""
        column = self.columns[name]
        assert isinstance(column, TextColumn), name
        return column

    def number(self, name: str) -> IntArray | FloatArray:
        """A numeric column by attribute name."""
        column = self.columns[name]
        assert not isinstance(column, TextColumn), name
        return column

    def replace(self, **columns: Column) -> FactsTable:
        """A table with some columns replaced (e.g. the effective priority after urgency rules)."""
        return FactsTable(self.study_ids, {**self.columns, **columns})

    def row(self, i: int) -> StudyFacts:
        """The facts of the study at position `i`."""
        values: dict[str, object] = {}
        for a in VOCABULARY:
            column = self.columns[a.name]
            if isinstance(column, TextColumn):
                values[a.name] = column.value(i)
            elif a.type is AttributeType.INT:
                values[a.name] = int(column[i])
            else:
                values[a.name] = float(column[i])
        return facts_from_plain(int(self.study_ids[i]), values)


def text_column(values: Sequence[str]) -> TextColumn:
    """Encode a sequence of strings as a text column."""
    categories, codes = np.unique(np.asarray(values, dtype=np.str_), return_inverse=True)
    return TextColumn(codes.astype(np.int32), tuple(str(c) for c in categories))


def facts_table(studies: Sequence[StudyFacts]) -> FactsTable:
    """Build the columnar table from per-study facts."""
    columns: dict[str, Column] = {}
    for a in VOCABULARY:
        values = [getattr(s, a.name) for s in studies]
        if a.is_text:
            columns[a.name] = text_column([str(v) for v in values])
        elif a.type is AttributeType.INT:
            columns[a.name] = np.asarray(values, dtype=np.int64)
        else:
            columns[a.name] = np.asarray(values, dtype=np.float64)
    ids = np.asarray([s.study_id for s in studies], dtype=np.int64)
    return FactsTable(ids, columns)


def facts_from_plain(study_id: int, values: Mapping[str, object]) -> StudyFacts:
    """Build StudyFacts from plain values (enum names as strings), converting enums."""
    converted = {k: (_ENUMS[k](str(v)) if k in _ENUMS else v) for k, v in values.items()}
    missing = set(ATTRIBUTES) - set(converted)
    if missing:
        raise ValueError(f"missing facts: {sorted(missing)}")
    return StudyFacts(study_id=study_id, **converted)  # type: ignore[arg-type]
