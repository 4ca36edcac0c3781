"""The retention policy's arithmetic, by hand-worked cases."""

from __future__ import annotations

from datetime import date

import pytest

from domain.enums import Modality
from domain.retention import RetentionTerms, RuleKey, add_years, age_on, choose, expiry

# A department's policy, worked by hand below: adults 8 years; minors until 25 (18 + 7) if
# that is later; mammography 10 years; the NORTH site (id 2) keeps everything 12 years, and
# its mammography 15.
ADULT = RetentionTerms(years=8, majority_age=18, years_after_majority=7)
MAMMOGRAPHY = RetentionTerms(years=10, majority_age=18, years_after_majority=7)
NORTH = RetentionTerms(years=12, majority_age=18, years_after_majority=7)
NORTH_MAMMOGRAPHY = RetentionTerms(years=15, majority_age=18, years_after_majority=7)
POLICY = [
    (RuleKey(modality=None, site_id=None), ADULT),
    (RuleKey(modality=Modality.MG, site_id=None), MAMMOGRAPHY),
    (RuleKey(modality=None, site_id=2), NORTH),
    (RuleKey(modality=Modality.MG, site_id=2), NORTH_MAMMOGRAPHY),
]


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(2000, 6, 15), date(2018, 6, 14), 17),  # the day before the 18th birthday
        (date(2000, 6, 15), date(2018, 6, 15), 18),  # the birthday itself
        (date(2004, 2, 29), date(2022, 2, 28), 17),  # a leap-day child is not 18 on 28 Feb
        (date(2004, 2, 29), date(2022, 3, 1), 18),
    ],
)
def test_age_counts_completed_years(born: date, day: date, age: int) -> None:
    assert age_on(born, day) == age


def test_a_leap_day_moves_to_the_first_of_march_never_earlier() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 3, 1)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_an_adults_study_is_kept_its_years_after_the_study_date() -> None:
    # Born 1970, scanned 2020-05-04 aged 50: 8 years later.
    assert expiry(ADULT, born=date(1970, 1, 1), studied=date(2020, 5, 4)) == date(2028, 5, 4)


def test_a_young_childs_study_is_kept_until_age_of_majority_plus_seven() -> None:
    # Born 2015-03-10, scanned 2017-01-20 aged 1: 8 years would be 2025-01-20, but the 25th
    # birthday (18 + 7) is 2040-03-10, the later.
    assert expiry(ADULT, born=date(2015, 3, 10), studied=date(2017, 1, 20)) == date(2040, 3, 10)


def test_a_teenagers_study_is_kept_the_longer_of_the_two() -> None:
    # Born 2000-09-01, scanned 2017-08-31 aged 16 (a minor): the 25th birthday is 2025-09-01,
    # 8 years after the study is 2025-08-31: the birthday is later by a day.
    assert expiry(ADULT, born=date(2000, 9, 1), studied=date(2017, 8, 31)) == date(2025, 9, 1)
    # Under a 10-year rule the study date wins: 2027-08-31 is after 2025-09-01.
    assert expiry(MAMMOGRAPHY, born=date(2000, 9, 1), studied=date(2017, 8, 31)) == date(
        2027, 8, 31
    )


def test_on_the_18th_birthday_the_patient_is_an_adult() -> None:
    # Scanned on the 18th birthday: the adult rule alone, 8 years.
    assert expiry(ADULT, born=date(2000, 6, 15), studied=date(2018, 6, 15)) == date(2026, 6, 15)
    # Scanned the day before: a minor, kept until the 25th birthday, 2025-06-15, or 8 years
    # after the study, 2026-06-14: the later.
    assert expiry(ADULT, born=date(2000, 6, 15), studied=date(2018, 6, 14)) == date(2026, 6, 14)


def test_a_jurisdiction_with_majority_at_21_keeps_an_18_year_olds_study_longer() -> None:
    # Born 2001-04-01, scanned 2019-06-01 aged 18. With majority at 18: an adult, 5 years,
    # 2024-06-01. With majority at 21: a minor, kept until the 24th birthday (21 + 3),
    # 2025-04-01, the later.
    at_18 = RetentionTerms(years=5, majority_age=18, years_after_majority=3)
    at_21 = RetentionTerms(years=5, majority_age=21, years_after_majority=3)
    assert expiry(at_18, born=date(2001, 4, 1), studied=date(2019, 6, 1)) == date(2024, 6, 1)
    assert expiry(at_21, born=date(2001, 4, 1), studied=date(2019, 6, 1)) == date(2025, 4, 1)


@pytest.mark.parametrize(
    ("modality", "site_id", "kept"),
    [
        (Modality.CT, 1, ADULT),  # the default
        (Modality.MG, 1, MAMMOGRAPHY),  # mammography anywhere
        (Modality.CT, 2, NORTH),  # the site's own
        (Modality.MG, 2, NORTH_MAMMOGRAPHY),  # modality and site together win
    ],
)
def test_the_most_specific_rule_applies(
    modality: Modality, site_id: int, kept: RetentionTerms
) -> None:
    assert choose(POLICY, modality=modality, site_id=site_id) == kept


def test_modality_outranks_site_when_both_have_a_rule_of_their_own() -> None:
    policy = [
        (RuleKey(modality=Modality.MG, site_id=None), MAMMOGRAPHY),
        (RuleKey(modality=None, site_id=2), NORTH),
    ]
    assert choose(policy, modality=Modality.MG, site_id=2) == MAMMOGRAPHY


def test_a_study_no_rule_names_has_no_expiry() -> None:
    assert choose(POLICY[1:2], modality=Modality.CT, site_id=1) is None


def test_mammography_of_an_adult_at_north_is_kept_fifteen_years() -> None:
    terms = choose(POLICY, modality=Modality.MG, site_id=2)
    assert terms is not None
    assert expiry(terms, born=date(1960, 1, 1), studied=date(2021, 3, 3)) == date(2036, 3, 3)
