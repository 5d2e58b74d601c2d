"""Phone numbers: E.164 out, Vietnam by default, masks for logs, junk never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import ValidationError
from evservice.vn import mask_phone, phone


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912345678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("0912-345-678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("+84912345678", "+84912345678"),
        ("(024) 3825 1234", "+842438251234"),
        ("028 3822 1234", "+842838221234"),
        ("0389 123 456", "+84389123456"),
        ("+1 650 253 0000", "+16502530000"),
        ("+65 6123 4567", "+6561234567"),
    ],
)
def test_validate_returns_e164(text: str, e164: str) -> None:
    assert phone.validate(text) == e164
    assert phone.is_valid(text)
    assert phone.validate(e164) == e164


def test_compact() -> None:
    assert phone.compact(" 0912.345-678 ") == "0912345678"
    assert phone.compact("(024) 3825/1234") == "02438251234"


@pytest.mark.parametrize(
    "bad", ["", "   ", "0123", "abc", "+84 123", "0912 345 67", "09123456789012345678901", "+999 1"]
)
def test_invalid_numbers_name_the_field_and_hide_the_value(bad: str) -> None:
    assert not phone.is_valid(bad)
    with pytest.raises(ValidationError) as info:
        phone.validate(bad, field="buyer.phone")
    assert info.value.field == "buyer.phone"
    digits = "".join(c for c in bad if c.isdigit())
    if len(digits) >= 3:
        assert digits not in str(info.value)


def test_not_text() -> None:
    assert not phone.is_valid(912345678)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="phone: must be text"):
        phone.validate(None)  # type: ignore[arg-type]


def test_region_for_national_numbers() -> None:
    assert phone.validate("6123 4567", region="SG") == "+6561234567"
    assert not phone.is_valid("6123 4567")


def test_format_is_national_for_vietnam() -> None:
    assert phone.format("+84912345678") == "0912 345 678"
    assert phone.format("0243 825 1234") == "024 3825 1234"
    assert phone.format("+16502530000") == "+1 650-253-0000"


def test_mask_keeps_country_and_last_three() -> None:
    assert phone.mask("+84912345678") == "+84 *** *** 678"
    assert phone.mask("0912 345 678") == "+84 *** *** 678"
    assert mask_phone("0912 345 678") == "+84 *** *** 678"
    # a longer landline has the same mask shape: the length is not told either
    assert phone.mask("024 3825 1234") == "+84 *** *** 234"
    assert phone.mask("+1 650 253 0000") == "+1 *** *** 000"
    with pytest.raises(ValidationError, match=r"contact\.phone"):
        mask_phone("0123", field="contact.phone")


vn_mobiles = st.builds(
    lambda prefix, rest: f"0{prefix}{rest:07d}",
    st.sampled_from(["90", "91", "93", "94", "96", "97", "98", "86", "88", "32", "70", "81"]),
    st.integers(0, 9_999_999),
)


@given(vn_mobiles)
def test_vietnamese_mobiles(number: str) -> None:
    e164 = phone.validate(number)
    assert e164 == "+84" + number[1:]
    assert phone.validate(phone.format(e164)) == e164
    masked = phone.mask(e164)
    assert masked == f"+84 *** *** {number[-3:]}"
    assert number[1:-3] not in masked


@given(st.text(max_size=40))
def test_junk_never_crashes(text: str) -> None:
    valid = phone.is_valid(text)
    try:
        result = phone.validate(text)
    except ValidationError:
        assert not valid
    else:
        assert valid
        assert result.startswith("+")
        assert result[1:].isdigit()
        assert phone.validate(result) == result
