"""The input checks every command shares, and the accession numbers orders get."""

from __future__ import annotations

import pytest

from domain.services._common import Checks
from domain.services.orders import _ACCESSION_ALPHABET, new_accession_number


@pytest.mark.parametrize("code", range(128))
def test_free_text_refuses_control_characters_but_tab_line_feed_and_return(code: int) -> None:
    checks = Checks()
    checks.text(f"before{chr(code)}after", "note", max_length=100)
    refused = [issue.code for issue in checks.issues]
    control = code < 32 and chr(code) not in "\t\n\r"
    assert refused == (["CONTROL_CHARACTERS"] if control else [])


def test_an_accession_number_is_rf_and_twelve_base32_characters_all_of_them_drawn() -> None:
    numbers = {new_accession_number() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(n.startswith("RF") and len(n) == 14 for n in numbers)
    seen = {c for n in numbers for c in n[2:]}
    assert seen == set(_ACCESSION_ALPHABET)  # every character, never one outside the alphabet
    for position in range(2, 14):  # and each position varies
        assert len({n[position] for n in numbers}) == 32
