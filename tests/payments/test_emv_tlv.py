"""The EMVCo TLV codec: CRC, structure, field rules, round trips under Hypothesis, tampering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evservice.errors import PaymentCodeError, ValidationError
from evservice.payments import Field, emv

# NAPAS VietQR examples (NAPAS "VietQR" QR code specification for bank transfers),
# the ones quoted in the issue: dynamic with amount, bill number and purpose; static.
NAPAS_DYNAMIC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
NAPAS_STATIC = (
    "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
)


def _reference_crc(data: bytes) -> int:
    """Bit-by-bit CRC-16/CCITT-FALSE, written from the definition, to check the fast one."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def test_crc_check_value() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE ("123456789" -> 0x29B1).
    assert emv.crc16("123456789") == "29B1"
    assert emv.crc16(b"123456789") == "29B1"


@given(st.binary(max_size=600))
def test_crc_matches_the_bitwise_definition(data: bytes) -> None:
    assert emv.crc16(data) == f"{_reference_crc(data):04X}"


def test_decodes_napas_dynamic_example() -> None:
    payload = emv.decode(NAPAS_DYNAMIC)
    assert payload.crc == "2E2E"
    assert payload.get("01") == "12"
    assert payload.get("38.00") == "A000000727"
    assert payload.get("38.01.00") == "970403"
    assert payload.get("38.01.01") == "0011012345678"
    assert payload.get("38.02") == "QRIBFTTA"
    assert payload.get("54") == "180000"
    assert payload.get("62.01") == "NPS6869"
    assert payload.get("62.08") == "thanh toan don hang"
    assert payload.get("62") is None  # a template has no text of its own
    assert payload.field("62") is not None
    assert payload.get("99") is None
    assert payload.text() == NAPAS_DYNAMIC


@pytest.mark.parametrize("payload", [NAPAS_DYNAMIC, NAPAS_STATIC])
def test_napas_examples_reencode_byte_for_byte(payload: str) -> None:
    assert emv.encode(emv.decode(payload).fields) == payload


def test_stdnum_style_functions() -> None:
    assert emv.compact(f"  {NAPAS_STATIC}\r\n") == NAPAS_STATIC
    assert emv.validate(NAPAS_STATIC + "\n") == NAPAS_STATIC
    assert emv.is_valid(NAPAS_DYNAMIC)
    assert not emv.is_valid(NAPAS_DYNAMIC[:-1] + "F")
    listing = emv.format(NAPAS_DYNAMIC)
    assert "38 merchant account (VietQR / NAPAS)" in listing
    assert "    00 acquirer BIN: 970403" in listing
    assert "  08 purpose: thanh toan don hang" in listing
    assert listing.endswith("63 CRC: 2E2E")


def test_errors_are_validation_errors_naming_the_tag() -> None:
    with pytest.raises(PaymentCodeError) as info:
        emv.decode(NAPAS_DYNAMIC[:-4] + "0000")
    assert isinstance(info.value, ValidationError)
    assert info.value.field == "tag 63"
    assert "CRC" in info.value.reason


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ([Field("01", "12")], "tag 00", "first"),
        ([Field("00", "02"), Field("26", (Field("00", "X"),))], "tag 00", "one of 01"),
        ([Field("00", "01"), Field("01", "13"), Field("26", (Field("00", "X"),))], "tag 01", "11"),
        ([Field("00", "01"), Field("53", "704")], "payload", "merchant account"),
        ([Field("00", "01"), Field("26", (Field("00", "X"),)), Field("53", "70")], "tag 53", "3"),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("53", "7O4")],
            "tag 53",
            "digits",
        ),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("54", "1,5")],
            "tag 54",
            "amount",
        ),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("58", "V1")],
            "tag 58",
            "letters",
        ),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("59", "N" * 26)],
            "tag 59",
            "25",
        ),
        ([Field("00", "01"), Field("26", (Field("00", "X"),)), Field("59", "")], "tag 59", "empty"),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("59", "Tên")],
            "tag 59",
            "ASCII",
        ),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("59", "a\nb")],
            "tag 59",
            "ASCII",
        ),
        ([Field("00", "01"), Field("26", (Field("00", "X" * 100),))], "tag 26.00", "99"),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("26", "x")],
            "tag 26",
            "twice",
        ),
        ([Field("00", "01"), Field("26", "not a template")], "tag 26", "template"),
        ([Field("00", "01"), Field("26", ())], "tag 26", "empty"),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("53", (Field("00", "1"),))],
            "tag 53",
            "plain",
        ),
        ([Field("00", "01"), Field("2x", "1")], "tag 2x", "two digits"),
        (
            [Field("00", "01"), Field("26", (Field("00", "X"),)), Field("63", "ABCD")],
            "tag 63",
            "computed",
        ),
        (
            [
                Field("00", "01"),
                Field("26", (Field("00", "X"),)),
                Field("62", (Field("08", "p" * 26),)),
            ],
            "tag 62.08",
            "25",
        ),
        (
            [Field("00", "01"), Field("26", tuple(Field(f"{i:02d}", "x" * 20) for i in range(5)))],
            "tag 26",
            "at most 99",
        ),
    ],
)
def test_encode_rejects_bad_fields(fields: list[Field], field: str, words: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        emv.encode(fields)
    assert info.value.field == field
    assert words in info.value.reason


def test_512_character_limit() -> None:
    accounts = [Field(f"{tag}", (Field("00", "G" * 90),)) for tag in range(26, 32)]
    with pytest.raises(PaymentCodeError) as info:
        emv.encode([Field("00", "01"), *accounts])
    assert info.value.field == "payload"
    assert "512" in info.value.reason
    # The same limit on decoding, even with a correct CRC.
    body = "000201" + "".join(f"{t}9400{90:02d}{'G' * 90}" for t in range(26, 32)) + "6304"
    with pytest.raises(PaymentCodeError, match="512"):
        emv.decode(body + emv.crc16(body))


def test_language_template_may_carry_unicode() -> None:
    fields = [
        Field("00", "01"),
        Field("26", (Field("00", "SG.PAYNOW"), Field("01", "2"))),
        Field("64", (Field("00", "VI"), Field("01", "Điện lực Hà Nội"), Field("02", "Hà Nội"))),
    ]
    text = emv.encode(fields)
    assert emv.decode(text).fields == tuple(fields)
    assert emv.crc16(text[:-4]) == text[-4:]  # the CRC covers the UTF-8 bytes


def test_lenient_decoding_keeps_structure_and_crc_checks() -> None:
    long_purpose = (
        Field("00", "01"),
        Field(
            "38",
            (Field("00", "A000000727"), Field("01", (Field("00", "970436"), Field("01", "1")))),
        ),
        Field("62", (Field("08", "x" * 40),)),
    )
    text = emv.encode(long_purpose, strict=False)
    with pytest.raises(PaymentCodeError) as info:
        emv.decode(text)
    assert info.value.field == "tag 62.08"
    assert emv.decode(text, strict=False).get("62.08") == "x" * 40
    assert "08 purpose: " + "x" * 40 in emv.format(text)
    with pytest.raises(PaymentCodeError, match="CRC"):
        emv.decode(text[:-1] + ("0" if text[-1] != "0" else "1"), strict=False)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("", "tag 63"),
        ("6304", "tag 63"),
        ("00020163041234", "tag 63"),  # wrong CRC
        ("0002016304abcd", "tag 63"),  # lower-case CRC
    ],
)
def test_decode_rejects_broken_payloads(payload: str, field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        emv.decode(payload)
    assert info.value.field == field


def _with_crc(body: str) -> str:
    body += "6304"
    return body + emv.crc16(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("0002010", "payload"),  # truncated header
        ("00020126100006", "tag 26"),  # declares more than remains
        ("0002012604000X", "tag 26.00"),  # template content truncated
        ("000201AB020X", "payload"),  # non-digit ID
        ("0002012606009X1A", "tag 26"),  # garbage inside a template
    ],
)
def test_decode_rejects_malformed_tlv_with_valid_crc(body: str, field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        emv.decode(_with_crc(body))
    assert info.value.field.startswith(field)


@given(position=st.integers(min_value=0, max_value=len(NAPAS_DYNAMIC) - 5), data=st.data())
def test_any_single_character_change_is_detected(position: int, data: st.DataObject) -> None:
    original = NAPAS_DYNAMIC[position]
    replacement = data.draw(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E).filter(lambda c: c != original)
    )
    tampered = NAPAS_DYNAMIC[:position] + replacement + NAPAS_DYNAMIC[position + 1 :]
    assert not emv.is_valid(tampered)


# -- property tests: encode, decode, encode is the identity ----------------------------

_ANS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def _ans(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(_ANS, min_size=min_size, max_size=max_size)


def _digits(size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from("0123456789"), min_size=size, max_size=size)


_UNICODE = st.text(
    st.characters(categories=["L", "N", "P", "S"]) | st.just(" "), min_size=1, max_size=10
)


@st.composite
def _subfields(
    draw: st.DrawFn, tags: list[str], value: st.SearchStrategy[str]
) -> tuple[Field, ...]:
    chosen = draw(st.lists(st.sampled_from(tags), unique=True, min_size=1, max_size=3))
    return tuple(Field(tag, draw(value)) for tag in chosen)


@st.composite
def _account(draw: st.DrawFn, tags: tuple[int, int] = (26, 51)) -> Field:
    tag = draw(st.sampled_from([f"{i:02d}" for i in range(tags[0], tags[1] + 1)]))
    if draw(st.booleans()):
        # A VietQR-shaped template: sub-field 01 is itself a template.
        beneficiary = (Field("00", draw(_digits(6))), Field("01", draw(_ans(19))))
        subs: tuple[Field, ...] = (
            Field("00", "A000000727"),
            Field("01", beneficiary),
            Field("02", draw(st.sampled_from(["QRIBFTTA", "QRIBFTTC"]))),
        )
    else:
        guid = draw(_ans(16).filter(lambda g: g != "A000000727"))
        subs = (Field("00", guid), *draw(_subfields([f"{i:02d}" for i in range(1, 10)], _ans(12))))
    return Field(tag, subs)


_PRIMITIVES: dict[str, st.SearchStrategy[str]] = {
    "01": st.sampled_from(["11", "12"]),
    "02": _ans(20),
    "15": _ans(20),
    "52": _digits(4),
    "53": _digits(3),
    "54": st.from_regex(r"[0-9]{1,10}(\.[0-9]{1,2})?", fullmatch=True),
    "55": st.sampled_from(["01", "02", "03"]),
    "58": st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=2, max_size=2),
    "59": _ans(25),
    "60": _ans(15),
    "61": _ans(10),
    "70": _ans(20),
}


@st.composite
def _payload_fields(draw: st.DrawFn) -> tuple[Field, ...]:
    fields = [draw(_account())]
    if draw(st.booleans()):
        fields.append(draw(_account((80, 99))))  # an unreserved template
    for tag in draw(st.lists(st.sampled_from(sorted(_PRIMITIVES)), unique=True, max_size=6)):
        fields.append(Field(tag, draw(_PRIMITIVES[tag])))
    if draw(st.booleans()):
        additional = draw(_subfields([f"{i:02d}" for i in range(1, 12)], _ans(3)))
        if draw(st.booleans()):
            additional += (Field("50", draw(_subfields(["00", "01"], _ans(10)))),)
        fields.append(Field("62", additional))
    if draw(st.booleans()):
        fields.append(Field("64", (Field("00", "VI"), Field("01", draw(_UNICODE)))))
    unique = {f.tag: f for f in fields}
    ordered = draw(st.permutations(list(unique.values())))
    return (Field("00", "01"), *ordered)


def _fits(fields: tuple[Field, ...]) -> bool:
    return all(len(f.text()) <= 99 for f in fields) and len(Payload_text(fields)) <= 512


def Payload_text(fields: tuple[Field, ...]) -> str:  # noqa: N802 - mirrors Payload.text
    return "".join(f"{f.tag}{len(f.text()):02d}{f.text()}" for f in fields) + "63040000"


@settings(max_examples=200)
@given(_payload_fields().filter(_fits))
def test_round_trip_is_the_identity(fields: tuple[Field, ...]) -> None:
    text = emv.encode(fields)
    decoded = emv.decode(text)
    assert decoded.fields == fields
    assert emv.encode(decoded.fields) == text
    assert decoded.text() == text
    assert emv.validate(text) == text
    assert emv.crc16(text[:-4]) == decoded.crc
