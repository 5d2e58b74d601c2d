"""Masked e-mail addresses: the only form logs and audit events may carry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import ValidationError
from evservice.vn import mask_email


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("nam@example.com", "n***@example.com"),
        ("Nguyen.An@Example.COM", "N***@example.com"),
        ("  a@b.vn ", "a***@b.vn"),
        ("x+tag@mail.evn.com.vn", "x***@mail.evn.com.vn"),
    ],
)
def test_mask_email(address: str, masked: str) -> None:
    assert mask_email(address) == masked


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "nam",
        "nam@",
        "@example.com",
        "nam@localhost",
        "na m@example.com",
        "a@.com.",
        'odd"@local@example.org',  # the one address rule: no quote or second @ in the local part
    ],
)
def test_bad_addresses_name_the_field_without_the_value(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        mask_email(bad, field="buyer.email")
    assert info.value.field == "buyer.email"
    if bad:
        assert bad not in str(info.value)


def test_not_text() -> None:
    with pytest.raises(ValidationError, match="email: must be text"):
        mask_email(None)  # type: ignore[arg-type]


@given(
    st.from_regex(r"[a-z0-9._%+-]{2,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?\.(vn|com|com\.vn|org)", fullmatch=True),
)
def test_only_first_letter_of_local_part_is_shown(local: str, domain: str) -> None:
    masked = mask_email(f"{local}@{domain}")
    assert masked == f"{local[0]}***@{domain}"
    assert len(masked.split("@")[0]) == 4  # the mask does not tell the length either


@given(st.text(max_size=60))
def test_junk_never_crashes(text: str) -> None:
    try:
        masked = mask_email(text)
    except ValidationError as exc:
        problem = exc.field
    else:
        problem = None
        local, _, domain = masked.partition("@")
        assert local.endswith("***")
        assert len(local) == 4
        assert domain == domain.lower()
    assert problem in (None, "email")
