"""The payment reference: python-stdnum functions, MOD 97-10 against stdnum, junk, search."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_97_10

from evservice.errors import PaymentCodeError
from evservice.payments import reference

_SERIES = st.builds(
    lambda kind, year, letters: f"{kind}{year:02d}{letters}",
    st.sampled_from("CK"),
    st.integers(0, 99),
    st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=3, max_size=3),
)
_TEMPLATE = st.sampled_from("123456")
_NUMBER = st.integers(1, 99_999_999)


def test_a_known_reference() -> None:
    ref = reference.make("1", "C26TAA", 123)
    assert ref == "1C26TAA0000012375"
    assert reference.format(ref) == "1C26TAA-00000123-75"
    assert reference.compact(" 1c26taa-00000123 75 ") == ref
    assert reference.validate("1C26TAA-00000123-75") == ref
    assert reference.is_valid("1C26TAA-00000123-76") is False


@given(_TEMPLATE, _SERIES, _NUMBER)
def test_make_agrees_with_stdnum_and_round_trips(template: str, series: str, number: int) -> None:
    ref = reference.make(template, series, number)
    assert len(ref) == reference.LENGTH
    # An independent implementation of ISO 7064 MOD 97-10 accepts it.
    assert mod_97_10.is_valid(ref)
    assert mod_97_10.calc_check_digits(ref[:15]) == ref[15:]
    assert reference.validate(reference.format(ref)) == ref
    assert reference.validate(ref.lower()) == ref


@given(_TEMPLATE, _SERIES, _NUMBER, st.data())
def test_every_single_substitution_is_detected(
    template: str, series: str, number: int, data: st.DataObject
) -> None:
    ref = reference.make(template, series, number)
    i = data.draw(st.integers(0, len(ref) - 1))
    other = data.draw(st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    typo = ref[:i] + other + ref[i + 1 :]
    assert reference.is_valid(typo) is (typo == ref)


@given(_TEMPLATE, _SERIES, _NUMBER, st.integers(0, reference.LENGTH - 2))
def test_every_neighbour_swap_is_detected(template: str, series: str, number: int, i: int) -> None:
    ref = reference.make(template, series, number)
    swapped = ref[:i] + ref[i + 1] + ref[i] + ref[i + 2 :]
    assert reference.is_valid(swapped) is (swapped == ref)


@given(_TEMPLATE, _SERIES, _NUMBER, st.text(max_size=30), st.text(max_size=30))
def test_found_in_a_memo(template: str, series: str, number: int, before: str, after: str) -> None:
    ref = reference.make(template, series, number)
    memo = f"{before} HD {reference.format(ref)} {after}"
    found = list(reference.find(memo))
    assert reference.Candidate(ref, True) in found


def test_find_reports_mistyped_references_after_valid_ones() -> None:
    good = reference.make("1", "C26TAA", 7)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    found = list(reference.find(f"tt {bad} va {good} va {good}"))
    assert found == [reference.Candidate(good, True), reference.Candidate(bad, False)]
    assert list(reference.find("chuyen tien dien thang 11")) == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("12", "C26TAA", 1), "template"),
        (("1", "X26TAA", 1), "series"),
        (("1", "C26TA1", 1), "series"),
        (("1", "C26TAA", 0), "number"),
        (("1", "C26TAA", 100_000_000), "number"),
        (("1", "C26TAA", True), "number"),
    ],
)
def test_make_names_the_bad_part(args: tuple[str, str, int], field: str) -> None:
    with pytest.raises(PaymentCodeError) as caught:
        reference.make(*args)
    assert caught.value.field == field


@pytest.mark.parametrize("aliased", ["00", "01", "99"])
def test_check_digits_that_make_never_gives_are_refused(aliased: str) -> None:
    ref = reference.make("1", "C26TAA", 123)
    body = ref[:15]
    # 00, 01, 99 are congruent to 97, 98, 02 mod 97; only the latter are ever made.
    for candidate in (body + aliased,):
        assert not reference.is_valid(candidate)


@given(st.one_of(st.text(max_size=40), st.binary(max_size=20), st.integers(), st.none()))
def test_junk(junk: object) -> None:
    assert reference.is_valid(junk) in (True, False)
    if isinstance(junk, str):
        list(reference.find(junk))
        try:
            reference.validate(junk)
            reference.format(junk)
        except PaymentCodeError:
            pass
    else:
        with pytest.raises(PaymentCodeError):
            reference.validate(junk)  # type: ignore[arg-type]
