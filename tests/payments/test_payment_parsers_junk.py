"""Every parser of payment codes gets junk and answers with PaymentCodeError, never a crash."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evservice.errors import PaymentCodeError
from evservice.payments import EpcTransfer, VietQR, emv

_PARSERS: dict[str, Callable[[str], object]] = {
    "emv.decode": emv.decode,
    "emv.decode(lenient)": lambda text: emv.decode(text, strict=False),
    "emv.validate": emv.validate,
    "emv.format": emv.format,
    "VietQR.from_payload": VietQR.from_payload,
    "EpcTransfer.from_payload": EpcTransfer.from_payload,
}


def _with_crc(body: str) -> str:
    body += "6304"
    return body + emv.crc16(body)


# TLV-looking junk with a correct CRC, so the parsers get past the checksum.
_TLV_JUNK = st.text(st.sampled_from("0123456789ABCDEFXYZ .-"), max_size=120).map(
    lambda body: _with_crc("000201" + body)
)
# Real-shaped payloads with one field's length digits changed, then re-sealed.
_NAPAS = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang6304"
)
_MUTATED = st.tuples(
    st.integers(min_value=0, max_value=len(_NAPAS) - 5), st.sampled_from("0123456789")
).map(lambda pair: _with_crc(_NAPAS[: pair[0]] + pair[1] + _NAPAS[pair[0] + 1 : -4]))
_EPC_JUNK = st.lists(st.text(max_size=40), max_size=14).map(
    lambda lines: "\n".join(["BCD", *lines])
)
_JUNK = (
    st.text(max_size=200)
    | st.binary(max_size=80).map(lambda raw: raw.decode("latin-1"))
    | _TLV_JUNK
    | _MUTATED
    | _EPC_JUNK
)


@pytest.mark.parametrize("name", sorted(_PARSERS))
@settings(max_examples=150)
@given(junk=_JUNK)
def test_parsers_raise_only_payment_code_errors(name: str, junk: str) -> None:
    try:
        _PARSERS[name](junk)
    except PaymentCodeError as exc:
        problem = (exc.field, exc.reason)
    else:
        return  # some mutations are still valid codes
    assert all(problem)  # the error names a field and says why


@given(junk=_JUNK)
def test_is_valid_and_compact_never_raise(junk: str) -> None:
    assert isinstance(emv.is_valid(junk), bool)
    assert isinstance(emv.compact(junk), str)


@pytest.mark.parametrize("name", sorted(_PARSERS))
@pytest.mark.parametrize("value", [None, 42, b"000201", ["000201"]])
def test_parsers_refuse_non_text(name: str, value: object) -> None:
    with pytest.raises(PaymentCodeError):
        _PARSERS[name](value)  # type: ignore[arg-type]
    assert emv.is_valid(value) is False  # type: ignore[arg-type]
