"""Event schema: canonical bytes anyone can recompute, and no personal data or secrets."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from evservice.audit._event import (
    canonical_event_bytes,
    check_event_fields,
    format_event_time,
    normalise_data,
    normalised_data_bytes,
    parse_event_time,
)
from evservice.errors import ValidationError

AT = datetime(2026, 11, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=7)))
EVENT_ID = "0b8f5c1e-4a43-4c7e-9a55-0d6f1e3c2b10"


def _independent_bytes(data: dict[str, Any]) -> bytes:
    """RFC 8785 for ASCII keys, strings and small integers is sorted, compact JSON."""
    obj = {
        "v": 1,
        "id": EVENT_ID,
        "type": "invoice.issued",
        "subject": "inv-2026-000123",
        "actor": "system",
        "at": "2026-11-01T02:30:00.123456Z",
        "data": data,
    }
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_canonical_bytes_are_recomputable_without_evservice() -> None:
    data = {"xml_sha256": "ab" * 32, "total": 1234567, "buyer": "Nguyễn Văn An", "lines": [1, 2]}
    raw = canonical_event_bytes(
        id=EVENT_ID,
        type="invoice.issued",
        subject="inv-2026-000123",
        actor="system",
        at=AT,
        data=normalise_data(data),
    )
    assert raw == _independent_bytes(data)
    assert raw.startswith(b'{"actor":"system","at":"2026-11-01T02:30:00.123456Z","data":{')
    # The documented example: a third party gets this leaf hash from the fields above.
    leaf = hashlib.sha256(b"\x00" + raw).hexdigest()
    assert leaf == hashlib.sha256(b"\x00" + _independent_bytes(data)).hexdigest()


def test_time_is_utc_with_six_decimals() -> None:
    assert format_event_time(AT) == "2026-11-01T02:30:00.123456Z"
    assert format_event_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"
    assert parse_event_time("2026-11-01T02:30:00.123456Z") == AT
    with pytest.raises(ValidationError):
        format_event_time(datetime(2026, 1, 1))  # naive


def test_decimal_and_dates_become_strings() -> None:
    out = normalise_data({"amount": Decimal("1234.50"), "day": date(2026, 11, 1), "when": AT})
    assert out == {"amount": "1234.50", "day": "2026-11-01", "when": "2026-11-01T02:30:00.123456Z"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "nguyen.an@example.com"}, "data.email"),
        ({"note": "write to an@example.vn please"}, "data.note"),
        ({"destination": "0912345678"}, "data.destination"),
        ({"destination": "+84 912 345 678"}, "data.destination"),
        ({"to": "84912345678"}, "data.to"),
        ({"customer_phone": "912-345-678"}, "data.customer_phone"),
        ({"msisdn": 84912345678}, "data.msisdn"),
        ({"otp": "123456"}, "data.otp"),
        ({"code": 123456}, "data.code"),
        ({"otpCode": "004217"}, "data.otpCode"),
        ({"pin": "1234"}, "data.pin"),
        ({"password": "hunter2"}, "data.password"),
        ({"client_secret": "abc"}, "data.client_secret"),
        ({"outer": {"inner": [{"email": "a.b@c.de"}]}}, "data.outer.inner.0.email"),
        ({"amount": 1.5}, "data.amount"),
        ({"big": 2**60}, "data.big"),
        ({"bad key": 1}, "data.bad key"),
        ({"blob": b"raw"}, "data.blob"),
        ({"nan": Decimal("NaN")}, "data.nan"),
    ],
)
def test_personal_data_and_bad_values_are_refused(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        normalise_data(data)
    assert err.value.field == field
    # The message never repeats the refused value.
    for value in ("nguyen.an", "0912345678", "912 345", "123456", "hunter2", "004217"):
        assert value not in str(err.value)


@pytest.mark.parametrize(
    "data",
    [
        {"destination": "n***@example.com"},
        {"destination": "+84 *** *** 678"},
        {"buyer_tax_code": "0312345678"},
        {"seller_mst": "0104831030-091"},
        {"lookup_code": "7KQ4-MZ2X-9HTQ"},
        {"attempts_left": 4, "otp_ttl_seconds": 300, "code_length": 6},
        {"number": "00000123", "series": "C26TAA", "total": 2_000_000_000},
        {"document_sha256": "0" * 64},
        {"channel": "sms", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    ],
)
def test_masked_values_hashes_and_business_ids_are_accepted(data: dict[str, Any]) -> None:
    assert normalise_data(data) == data


@pytest.mark.parametrize(
    ("type_", "subject", "actor", "field"),
    [
        ("Invoice.Issued", "inv-1", "system", "type"),
        ("issued", "inv-1", "system", "type"),
        ("invoice.issued", "", "system", "subject"),
        ("invoice.issued", " inv-1", "system", "subject"),
        ("invoice.issued", "x" * 129, "system", "subject"),
        ("invoice.issued", "an@example.com", "system", "subject"),
        ("invoice.issued", "inv-1", "0912345678", "actor"),
        ("invoice.issued", "inv-1", "", "actor"),
    ],
)
def test_envelope_fields_are_checked(type_: str, subject: str, actor: str, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        check_event_fields(type_, subject, actor)
    assert err.value.field == field


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.one_of(
            st.integers(-(2**53) + 1, 2**53 - 1),
            st.booleans(),
            st.none(),
            st.text(alphabet=st.characters(min_codepoint=0x41, max_codepoint=0x17F), max_size=20),
        ),
        max_size=6,
    )
)
def test_canonical_bytes_match_sorted_compact_json(data: dict[str, Any]) -> None:
    try:
        clean = normalise_data(data)
    except ValidationError:
        return  # refused as personal data: nothing to canonicalise
    raw = canonical_event_bytes(
        id=EVENT_ID,
        type="invoice.issued",
        subject="inv-2026-000123",
        actor="system",
        at=AT,
        data=clean,
    )
    assert raw == _independent_bytes(clean)


@given(
    subject=st.text(min_size=1, max_size=30).filter(lambda s: s == s.strip()),
    actor=st.text(min_size=1, max_size=30).filter(lambda s: s == s.strip()),
)
def test_spliced_envelope_equals_rfc8785_of_the_whole_event(subject: str, actor: str) -> None:
    data = {"note": 'quote " backslash \\ tab \t', "n": 7, "ok": True, "none": None}
    whole = {
        "v": 1,
        "id": EVENT_ID,
        "type": "contract.sealed",
        "subject": subject,
        "actor": actor,
        "at": "2026-11-01T02:30:00.123456Z",
        "data": data,
    }
    raw = canonical_event_bytes(
        id=EVENT_ID, type="contract.sealed", subject=subject, actor=actor, at=AT, data=data
    )
    assert raw == rfc8785.dumps(whole)


@pytest.mark.parametrize("text", ["inv-1\n", "system\n", "a\nb"])
def test_a_trailing_newline_is_escaped_not_spliced(text: str) -> None:
    """Stored fields are re-hashed as read: a newline never takes the unescaped fast path."""
    whole = {
        "v": 1,
        "id": text,
        "type": "contract.sealed",
        "subject": text,
        "actor": text,
        "at": "2026-11-01T02:30:00.123456Z",
        "data": {},
    }
    raw = canonical_event_bytes(
        id=text, type="contract.sealed", subject=text, actor=text, at=AT, data={}
    )
    assert raw == rfc8785.dumps(whole)


_KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True)
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(max_size=40)
    | st.text(st.characters(exclude_categories=()), max_size=8)  # controls, lone surrogates
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_the_fast_data_bytes_equal_rfc8785(raw: dict[str, Any]) -> None:
    """What record() stores for normalised data is byte for byte the RFC 8785 library's."""
    try:
        data = normalise_data(raw)
    except ValidationError:
        return  # refused data never reaches either encoder
    try:
        expected = rfc8785.dumps(data)
    except rfc8785.CanonicalizationError:
        with pytest.raises(ValidationError):
            normalised_data_bytes(data)
        return
    assert normalised_data_bytes(data) == expected
