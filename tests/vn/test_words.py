"""Amounts in Vietnamese words: a hand-checked table, a parser for round trips, properties."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import ValidationError
from evservice.vn import MAX_WORDS_AMOUNT, amount_in_words

# Each row was read aloud and checked by hand against invoice practice.
TABLE = [
    (0, "Không đồng"),
    (1, "Một đồng"),
    (5, "Năm đồng"),
    (10, "Mười đồng"),
    (11, "Mười một đồng"),
    (14, "Mười bốn đồng"),
    (15, "Mười lăm đồng"),
    (20, "Hai mươi đồng"),
    (21, "Hai mươi mốt đồng"),
    (24, "Hai mươi tư đồng"),
    (25, "Hai mươi lăm đồng"),
    (55, "Năm mươi lăm đồng"),
    (99, "Chín mươi chín đồng"),
    (100, "Một trăm đồng"),
    (101, "Một trăm linh một đồng"),
    (104, "Một trăm linh bốn đồng"),
    (105, "Một trăm linh năm đồng"),
    (110, "Một trăm mười đồng"),
    (115, "Một trăm mười lăm đồng"),
    (121, "Một trăm hai mươi mốt đồng"),
    (1_000, "Một nghìn đồng"),
    (1_005, "Một nghìn không trăm linh năm đồng"),
    (1_015, "Một nghìn không trăm mười lăm đồng"),
    (1_100, "Một nghìn một trăm đồng"),
    (10_000, "Mười nghìn đồng"),
    (15_000, "Mười lăm nghìn đồng"),
    (21_000, "Hai mươi mốt nghìn đồng"),
    (100_000, "Một trăm nghìn đồng"),
    (105_000, "Một trăm linh năm nghìn đồng"),
    (320_700, "Ba trăm hai mươi nghìn bảy trăm đồng"),
    (346_356, "Ba trăm bốn mươi sáu nghìn ba trăm năm mươi sáu đồng"),
    (1_000_000, "Một triệu đồng"),
    (1_000_001, "Một triệu không trăm linh một đồng"),
    (1_050_000, "Một triệu không trăm năm mươi nghìn đồng"),
    (1_000_500, "Một triệu năm trăm đồng"),
    (13_690_000, "Mười ba triệu sáu trăm chín mươi nghìn đồng"),
    (1_000_000_000, "Một tỷ đồng"),
    (1_000_000_005, "Một tỷ không trăm linh năm đồng"),
    (2_500_000_000, "Hai tỷ năm trăm triệu đồng"),
    (1_000_000_000_000, "Một nghìn tỷ đồng"),
    (1_005_000_000_000, "Một nghìn không trăm linh năm tỷ đồng"),
    (1_000_000_001_000, "Một nghìn tỷ không trăm linh một nghìn đồng"),
    (10**15, "Một triệu tỷ đồng"),
    (
        999_999_999_999_999,
        "Chín trăm chín mươi chín nghìn chín trăm chín mươi chín tỷ chín trăm chín mươi "
        "chín triệu chín trăm chín mươi chín nghìn chín trăm chín mươi chín đồng",
    ),
    (-5, "Âm năm đồng"),
    (-1_015, "Âm một nghìn không trăm mười lăm đồng"),
    (-(10**15), "Âm một triệu tỷ đồng"),
]


@pytest.mark.parametrize(("amount", "words"), TABLE)
def test_table(amount: int, words: str) -> None:
    assert amount_in_words(amount) == words
    assert amount_in_words(Decimal(amount)) == words


def test_decimal_with_zero_fraction_is_whole() -> None:
    assert amount_in_words(Decimal("25.00")) == "Hai mươi lăm đồng"
    assert amount_in_words(Decimal("1E+3")) == "Một nghìn đồng"


@pytest.mark.parametrize(
    "bad",
    [
        Decimal("0.5"),
        Decimal("12.01"),
        Decimal("NaN"),
        Decimal("Infinity"),
        12.0,
        "12",
        True,
        None,
        10**15 + 1,
        -(10**15) - 1,
        Decimal(10) ** 16,
    ],
)
def test_rejects_bad_amounts(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        amount_in_words(bad)  # type: ignore[arg-type]
    assert info.value.field == "amount"


# -- a small words -> number parser, written independently of the module ----------

_DIGIT_WORDS = {
    "không": 0,
    "một": 1,
    "mốt": 1,
    "hai": 2,
    "ba": 3,
    "bốn": 4,
    "tư": 4,
    "năm": 5,
    "lăm": 5,
    "sáu": 6,
    "bảy": 7,
    "tám": 8,
    "chín": 9,
}


def _parse_group(tokens: list[str]) -> int:
    value = 0
    pending: int | None = None
    for token in tokens:
        if token in _DIGIT_WORDS:
            assert pending is None, f"two digits in a row: {tokens}"
            pending = _DIGIT_WORDS[token]
        elif token == "trăm":
            assert pending is not None
            value += pending * 100
            pending = None
        elif token == "mươi":
            assert pending is not None
            assert pending >= 2
            value += pending * 10
            pending = None
        elif token == "mười":
            value += 10
        elif token == "linh":
            assert value % 100 == 0
            assert value >= 0
        else:
            raise AssertionError(f"unexpected word {token!r}")
    return value + (pending or 0)


def _parse_below_billion(tokens: list[str]) -> int:
    total = 0
    group: list[str] = []
    for token in tokens:
        if token in ("triệu", "nghìn"):
            total += _parse_group(group) * (10**6 if token == "triệu" else 1000)
            group = []
        else:
            group.append(token)
    return total + _parse_group(group)


def parse_words(text: str) -> int:
    tokens = text.lower().split(" ")
    assert tokens[-1] == "đồng"
    tokens = tokens[:-1]
    sign = 1
    if tokens[0] == "âm":
        sign, tokens = -1, tokens[1:]
    if tokens == ["không"]:
        return 0
    if "tỷ" in tokens:
        index = tokens.index("tỷ")
        assert tokens.count("tỷ") == 1
        high = _parse_below_billion(tokens[:index])
        return sign * (high * 10**9 + _parse_below_billion(tokens[index + 1 :]))
    return sign * _parse_below_billion(tokens)


@st.composite
def sparse_amounts(draw: st.DrawFn) -> int:
    """Amounts with many zero digits, where "không trăm" and "linh" matter."""
    digits = draw(st.lists(st.sampled_from([0, 0, 0, 0, 1, 4, 5, 9]), min_size=1, max_size=15))
    return int("".join(map(str, digits)))


amounts = st.one_of(st.integers(0, MAX_WORDS_AMOUNT), sparse_amounts(), st.integers(0, 2000))


def test_parser_agrees_with_table() -> None:
    for amount, words in TABLE:
        assert parse_words(words) == amount


@given(amounts)
def test_round_trip(amount: int) -> None:
    assert parse_words(amount_in_words(amount)) == amount


@given(amounts)
def test_shape(amount: int) -> None:
    words = amount_in_words(amount)
    assert "  " not in words
    assert words == words.strip()
    assert words[0].isupper()
    assert words[1:] == words[1:].lower()
    assert words.endswith(" đồng") or words == "Không đồng"
    tokens = words.lower().split(" ")
    for before, word in itertools.pairwise(tokens):
        if word in ("mốt", "tư"):
            assert before == "mươi"
        if word == "lăm":
            assert before in ("mươi", "mười")
        if word == "linh":
            assert before == "trăm"
    for word, after in itertools.pairwise(tokens):
        if word == "linh":
            assert after in _DIGIT_WORDS
            assert after not in ("không", "mốt", "lăm", "tư")


@given(st.integers(1, MAX_WORDS_AMOUNT))
def test_every_group_contributes(amount: int) -> None:
    words = amount_in_words(amount).lower().split(" ")
    assert ("tỷ" in words) == (amount >= 10**9)
    tail = words[words.index("tỷ") + 1 :] if "tỷ" in words else words
    below_billion = amount % 10**9
    assert ("triệu" in tail) == bool(below_billion // 10**6 % 1000)
    assert ("nghìn" in tail) == bool(below_billion // 1000 % 1000)
    if amount % 1000:
        # the last group is read, and read in full after a higher part ("không trăm ...")
        assert tail[-2] not in ("nghìn", "triệu", "tỷ")
        if amount >= 1000:
            assert "trăm" in tail[-5:]


@given(st.integers(1, 999), st.integers(1, 10**6))
def test_scales_compose(small: int, billions: int) -> None:
    def bare(n: int) -> str:
        return amount_in_words(n).removesuffix(" đồng").lower()

    assert amount_in_words(small * 1000).lower() == f"{bare(small)} nghìn đồng"
    assert amount_in_words(small * 10**6).lower() == f"{bare(small)} triệu đồng"
    assert amount_in_words(billions * 10**9).lower() == f"{bare(billions)} tỷ đồng"


@given(st.integers(1, MAX_WORDS_AMOUNT))
def test_negative_prefix(amount: int) -> None:
    positive = amount_in_words(amount)
    assert amount_in_words(-amount) == "Âm " + positive[0].lower() + positive[1:]


@given(st.integers(MAX_WORDS_AMOUNT + 1, 10**30))
def test_out_of_range(amount: int) -> None:
    with pytest.raises(ValidationError, match="amount"):
        amount_in_words(amount)
    with pytest.raises(ValidationError, match="amount"):
        amount_in_words(-amount)
