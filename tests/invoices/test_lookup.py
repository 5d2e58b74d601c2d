"""Lookup codes: alphabet, check character, stdnum-style functions, junk input."""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import ValidationError
from evservice.invoices import lookup

KNOWN = "7KQ4MZ2X9HTQ"  # the example of the module docstring


def test_generate_gives_valid_fixed_length_codes() -> None:
    codes = {lookup.generate() for _ in range(2000)}
    assert len(codes) == 2000  # 54 bits of randomness: a repeat here means a broken source
    for code in codes:
        assert len(code) == lookup.LENGTH
        assert set(code) <= set(lookup.ALPHABET)
        assert lookup.validate(code) == code


def test_alphabet_has_no_confusable_symbols() -> None:
    assert len(lookup.ALPHABET) == 31
    assert len(set(lookup.ALPHABET)) == 31
    assert not set("01OIL") & set(lookup.ALPHABET)


def test_all_symbols_appear_in_generated_codes() -> None:
    seen = set("".join(lookup.generate() for _ in range(500)))
    assert seen == set(lookup.ALPHABET)


def test_format_and_compact() -> None:
    assert lookup.format(KNOWN) == "7KQ4-MZ2X-9HTQ"
    assert lookup.compact(" 7kq4-mz2x 9htq ") == KNOWN
    assert lookup.validate("7kq4-MZ2X-9htq") == KNOWN
    assert lookup.is_valid("7KQ4 MZ2X 9HTQ")


@pytest.mark.parametrize(
    ("junk", "reason"),
    [
        ("", "12 characters"),
        ("7KQ4-MZ2X-9HT", "12 characters"),
        ("7KQ4-MZ2X-9HTQQ", "12 characters"),
        ("7KQ4-MZ2X-0HTQ", "never contain"),
        ("7KQ4-MZ2X-OHTQ", "never contain"),
        ("7KQ4-MZ2X-IHTQ", "never contain"),
        ("7KQ4-MZ2X-LHTQ", "never contain"),
        ("7KQ4-MZ2X-1HTQ", "never contain"),
        ("7KQ4-MZ2X-9HT!", "may only contain"),
        ("7KQ4-MZ2X-9HTÄ", "may only contain"),
        ("7KQ4-MZ2X-9HTR", "check character"),
    ],
)
def test_validate_rejects_junk_naming_the_field(junk: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as info:
        lookup.validate(junk, field="code")
    assert info.value.field == "code"
    assert not lookup.is_valid(junk)


def test_validate_rejects_non_text() -> None:
    with pytest.raises(ValidationError, match="text"):
        lookup.validate(123456789012)  # type: ignore[arg-type]
    assert not lookup.is_valid(None)  # type: ignore[arg-type]


def test_every_single_substitution_is_detected() -> None:
    for position, symbol in itertools.product(range(lookup.LENGTH), lookup.ALPHABET):
        if KNOWN[position] == symbol:
            continue
        typo = KNOWN[:position] + symbol + KNOWN[position + 1 :]
        assert not lookup.is_valid(typo), typo


@given(st.text(alphabet=lookup.ALPHABET, min_size=11, max_size=11))
def test_every_transposition_is_detected(body: str) -> None:
    code = lookup.validate(body + _check(body))
    for i, j in itertools.combinations(range(lookup.LENGTH), 2):
        if code[i] == code[j]:
            continue
        swapped = list(code)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        assert not lookup.is_valid("".join(swapped)), (code, i, j)


def _check(body: str) -> str:
    """The check character found by trying all 31 (independent of the module's formula)."""
    matches = [c for c in lookup.ALPHABET if lookup.is_valid(body + c)]
    assert len(matches) == 1
    return matches[0]


@given(st.text(alphabet=string.printable + "ÀÁẠđĐ0OIL1-", max_size=30))
def test_junk_never_crashes(text: str) -> None:
    valid = lookup.is_valid(text)
    if valid:
        assert lookup.validate(text) == lookup.compact(text)
    else:
        with pytest.raises(ValidationError):
            lookup.validate(text)
