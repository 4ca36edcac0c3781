"""How long a stored study is kept: the retention policy's arithmetic, pure.

A policy is a set of rules, each for a class of study: a modality, a site, both, or neither
(the department's default). A study takes the most specific rule that names it: modality and
site, then modality alone, then site alone, then the default. Modality is ranked above site
because the longer legal periods are set per modality (mammography) while sites differ by
their jurisdiction's default. A study no rule names has no expiry: it is kept.

A rule keeps an adult's study `years` after the study date. A study taken while the patient was
a minor (younger than `majority_age` on the study date) is kept until the later of that date
and the patient's `majority_age + years_after_majority` birthday: a child scanned at 2 is kept
until 25 where the rule says 18 + 7, a child scanned at 16 under a 10-year rule until 26.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from domain.enums import Modality

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionTerms:
    """What one rule keeps: years after the study, and a minor's years after majority."""

    years: int
    majority_age: int
    years_after_majority: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleKey:
    """The class of study a rule is for; None is "any"."""

    modality: Modality | None
    site_id: int | None


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 1 March (the later day: a study is
    never let go a day early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return date(day.year + years, 3, 1)


def age_on(born: date, day: date) -> int:
    """Completed years of age on `day`."""
    before_birthday = (day.month, day.day) < (born.month, born.day)
    return day.year - born.year - int(before_birthday)


def expiry(terms: RetentionTerms, *, born: date, studied: date) -> date:
    """The first day the study may be deleted."""
    kept_until = add_years(studied, terms.years)
    if age_on(born, studied) >= terms.majority_age:
        return kept_until
    return max(kept_until, add_years(born, terms.majority_age + terms.years_after_majority))


def specificity(key: RuleKey) -> int:
    """How closely a rule names its class: higher wins."""
    return 2 * (key.modality is not None) + (key.site_id is not None)


def applicable(key: RuleKey, *, modality: Modality, site_id: int) -> bool:
    """Whether a rule names a study of this modality at this site."""
    return key.modality in (None, modality) and key.site_id in (None, site_id)


def choose(rules: Iterable[tuple[RuleKey, T]], *, modality: Modality, site_id: int) -> T | None:
    """The most specific rule naming the study, or None (no rule: kept)."""
    best: tuple[int, T] | None = None
    for key, rule in rules:
        if applicable(key, modality=modality, site_id=site_id):
            rank = specificity(key)
            if best is None or rank > best[0]:
                best = (rank, rule)
    return None if best is None else best[1]
