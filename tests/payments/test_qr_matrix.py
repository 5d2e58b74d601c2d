"""The invoice's QR matrix (``evservice.payments._draw.qr_matrix``), the fast path of the
signed-invoice pipeline: it must be segno's symbol, module for module."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evservice.errors import PaymentCodeError
from evservice.payments import PayeeAccount, make_qr, vietqr_for_invoice
from evservice.payments._draw import qr_matrix

_QR_TEXT = st.text(
    alphabet=st.sampled_from(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:abcdefghijklmnopqrstuvwxyz#&()[]ăâđêôơưÀÁẠẢÃ"
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(payload=_QR_TEXT, level=st.sampled_from("LMQH"), mask=st.integers(0, 7))
def test_the_fast_qr_matrix_is_segnos(payload: str, level: str, mask: int) -> None:
    expected = tuple(bytes(row) for row in make_qr(payload, error=level, mask=mask).matrix)
    assert qr_matrix(payload, error=level, mask=mask) == expected


def test_the_fast_qr_matrix_of_real_vietqr_payloads() -> None:
    payee = PayeeAccount("970436", "0071001234567", "TONG CONG TY DIEN LUC HA NOI")
    for number in (1, 42, 99_999_999):
        payload = vietqr_for_invoice(payee, 1_234_567 + number, series="C26TAA", number=number)
        text = payload.payload()
        assert qr_matrix(text) == tuple(bytes(r) for r in make_qr(text).matrix)
    with pytest.raises(PaymentCodeError) as info:
        qr_matrix("0" * 8000)
    assert info.value.field == "payload"
