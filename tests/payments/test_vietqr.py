"""VietQR: the NAPAS examples byte for byte, errors naming the field, the invoice helper, banks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.config import Settings
from evservice.errors import ConfigurationError, PaymentCodeError
from evservice.invoices import PaymentAccount
from evservice.payments import (
    PayeeAccount,
    VietQR,
    bank_directory,
    emv,
    find_bank,
    invoice_reference,
    make_vietqr,
    payment_lines,
    vietqr,
    vietqr_for_invoice,
)

# The two NAPAS examples quoted in the issue (NAPAS VietQR specification): a dynamic
# code with amount 180000, bill number NPS6869 and purpose "thanh toan don hang", and
# the static code to the same account.
NAPAS_DYNAMIC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
NAPAS_STATIC = (
    "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
)


def test_reproduces_the_napas_dynamic_example() -> None:
    payload = vietqr(
        "970403",
        "0011012345678",
        amount=180000,
        bill_number="NPS6869",
        purpose="thanh toan don hang",
    )
    assert payload == NAPAS_DYNAMIC


def test_reproduces_the_napas_static_example() -> None:
    assert vietqr("970403", "0011012345678") == NAPAS_STATIC


def test_purpose_is_folded_to_ascii() -> None:
    payload = vietqr(
        "970403",
        "0011012345678",
        amount=Decimal("180000"),
        bill_number="NPS6869",
        purpose="  Thanh toán   đơn hàng ",
    )
    assert emv.decode(payload).get("62.08") == "Thanh toan don hang"


def test_reads_the_napas_examples_back() -> None:
    code = VietQR.from_payload(NAPAS_DYNAMIC)
    assert code == VietQR(
        bank_bin="970403",
        account="0011012345678",
        amount=Decimal(180000),
        bill_number="NPS6869",
        purpose="thanh toan don hang",
        dynamic=True,
    )
    assert code.payload() == NAPAS_DYNAMIC
    static = VietQR.from_payload(NAPAS_STATIC)
    assert not static.dynamic
    assert static.amount is None
    assert static.service == "QRIBFTTA"
    assert static.bank is not None
    assert static.bank.short_name == "Sacombank"


def test_card_service_code() -> None:
    payload = vietqr("970436", "9704366614951234", amount=50000, card=True)
    assert emv.decode(payload).get("38.02") == "QRIBFTTC"
    assert VietQR.from_payload(payload).card


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"bank_bin": "97040"}, "bin", "6-digit"),
        ({"bank_bin": "97040A"}, "bin", "6-digit"),
        ({"bank_bin": "9704033"}, "bin", "6-digit"),
        ({"account": "0" * 20}, "account", "at most 19"),
        ({"account": ""}, "account", "required"),
        ({"account": "0011-0123"}, "account", "letters and digits"),
        ({"account": "12345", "card": True}, "account", "8 to 19 digits"),
        ({"amount": -1}, "amount", "negative"),
        ({"amount": "-180000"}, "amount", "negative"),
        ({"amount": 0}, "amount", "greater than zero"),
        ({"amount": "180000.5"}, "amount", "whole dong"),
        ({"amount": Decimal("0.01")}, "amount", "whole dong"),
        ({"amount": 180000.0}, "amount", "float"),
        ({"amount": "abc"}, "amount", "not a number"),
        ({"amount": "NaN"}, "amount", "finite"),
        ({"amount": 10**13}, "amount", "too large"),
        ({"amount": "1e100"}, "amount", "too large"),
        ({"purpose": "Thanh toán hóa đơn tiền điện tháng 11"}, "purpose", "never cut"),
        ({"purpose": "电费"}, "purpose", "nothing left"),
        ({"bill_number": "HĐ-1"}, "bill_number", "ASCII"),
        ({"bill_number": "B" * 26}, "bill_number", "at most 25"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str, words: str) -> None:
    args: dict[str, object] = {"bank_bin": "970436", "account": "0011012345678", **kwargs}
    with pytest.raises(PaymentCodeError) as info:
        make_vietqr(**args)  # type: ignore[arg-type]
    assert info.value.field == field
    assert words in info.value.reason


def test_purpose_of_exactly_25_folded_characters_fits() -> None:
    # The limit counts characters after folding; diacritics do not count extra.
    purpose = "Tiền điện tháng 11 năm 26"
    assert len(purpose) == 25
    assert make_vietqr("970436", "1", amount=1, purpose=purpose).purpose == (
        "Tien dien thang 11 nam 26"
    )


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(PaymentCodeError) as info:
        VietQR(bank_bin="970436", account="1", purpose="đơn hàng")
    assert info.value.field == "purpose"


@pytest.mark.parametrize(
    ("payload_fields", "field"),
    [
        ("PAYNOW", "tag 38"),
        ("CURRENCY", "tag 53"),
        ("COUNTRY", "tag 58"),
        ("AMOUNT", "tag 54"),
        ("SERVICE", "tag 38.02"),
    ],
)
def test_from_payload_refuses_what_is_not_a_vietqr(payload_fields: str, field: str) -> None:
    decoded = emv.decode(NAPAS_DYNAMIC)
    fields = list(decoded.fields)
    index = {f.tag: i for i, f in enumerate(fields)}
    account = fields[index["38"]]
    assert isinstance(account.value, tuple)
    if payload_fields == "PAYNOW":
        fields[index["38"]] = emv.Field("38", (emv.Field("00", "SG.PAYNOW"),))
    elif payload_fields == "CURRENCY":
        fields[index["53"]] = emv.Field("53", "702")
    elif payload_fields == "COUNTRY":
        fields[index["58"]] = emv.Field("58", "SG")
    elif payload_fields == "AMOUNT":
        fields[index["54"]] = emv.Field("54", "180000.50")
    else:
        fields[index["38"]] = emv.Field("38", (*account.value[:2], emv.Field("02", "QRPUSH")))
    with pytest.raises(PaymentCodeError) as info:
        VietQR.from_payload(emv.encode(fields))
    assert info.value.field == field


_ACCOUNT = st.text(st.sampled_from("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"), min_size=1, max_size=19)
_PURPOSE = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789 ăâđêôơưáàảãạ-"), min_size=1, max_size=25
).filter(lambda s: s.strip() != "")


@given(
    bank_bin=st.text(st.sampled_from("0123456789"), min_size=6, max_size=6),
    account=_ACCOUNT,
    amount=st.none() | st.integers(min_value=1, max_value=10**13 - 1),
    purpose=st.none() | _PURPOSE,
    bill=st.none() | st.text(st.sampled_from("ABC123-/"), min_size=1, max_size=25),
    card=st.booleans(),
)
def test_vietqr_round_trip(
    bank_bin: str,
    account: str,
    amount: int | None,
    purpose: str | None,
    bill: str | None,
    card: bool,
) -> None:
    if card:
        account = "97" + "".join(c for c in account if c.isdigit()).ljust(14, "0")[:17]
    code = make_vietqr(
        bank_bin, account, amount=amount, purpose=purpose, bill_number=bill, card=card
    )
    payload = code.payload()
    assert emv.is_valid(payload)
    assert VietQR.from_payload(payload) == code
    assert VietQR.from_payload(payload).payload() == payload


# -- on the invoice ----------------------------------------------------------------


def test_vietqr_for_invoice_identifies_the_invoice() -> None:
    account = PaymentAccount(bank_bin="970436", account="0071001234567", account_name="EVN HANOI")
    code = vietqr_for_invoice(account, Decimal("1234567"), series="C26TAA", number=123)
    decoded = emv.decode(code.payload())
    assert decoded.get("01") == "12"
    assert decoded.get("54") == "1234567"
    assert decoded.get("62.01") == "C26TAA00000123"
    assert decoded.get("62.08") == "HD 1C26TAA0000012375"
    assert decoded.get("38.01.00") == "970436"
    assert decoded.get("38.01.01") == "0071001234567"
    assert payment_lines(code, account.account_name) == [
        "Ngân hàng: Vietcombank (970436)",
        "Số tài khoản: 0071001234567",
        "Chủ tài khoản: EVN HANOI",
        "Số tiền: 1.234.567 đ",
        "Nội dung: HD 1C26TAA0000012375",
        "Mã thanh toán: 1C26TAA-00000123-75",
    ]


def test_vietqr_for_invoice_with_a_lookup_code() -> None:
    payee = PayeeAccount("970415", "1234567890")
    code = vietqr_for_invoice(payee, 250000, lookup_code="K7Q2-MX9P-44TD")
    assert (code.bill_number, code.purpose) == ("K7Q2-MX9P-44TD", "HD K7Q2-MX9P-44TD")
    both = vietqr_for_invoice(payee, 250000, series="C26TAA", number=9, lookup_code="K7Q2")
    assert emv.decode(both.payload()).get("62.05") == "K7Q2"
    assert VietQR.from_payload(both.payload()).reference == "K7Q2"
    long_code = "A" * 24
    assert invoice_reference(lookup_code=long_code) == (long_code, long_code)
    assert payment_lines(make_vietqr("999999", "1"))[0] == "Ngân hàng: BIN 999999"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"series": "C26TAA"}, "number"),
        ({"number": 1}, "series"),
        ({"series": "C26-TA", "number": 1}, "series"),
        ({"series": "C26TAA", "number": 0}, "number"),
        ({"series": "C26TAA", "number": 100_000_000}, "number"),
        ({}, "lookup_code"),
        ({"lookup_code": "mã tra cứu"}, "lookup_code"),
        ({"series": "C26TAA", "number": 1, "purpose": "x" * 26}, "purpose"),
    ],
)
def test_vietqr_for_invoice_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        vietqr_for_invoice(PayeeAccount("970436", "1"), 1000, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("total", "field"), [(0, "amount"), (Decimal("-5"), "amount"), ("10.5", "amount")]
)
def test_vietqr_for_invoice_refuses_totals_that_cannot_be_paid(total: object, field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        vietqr_for_invoice(PayeeAccount("970436", "1"), total, series="C26TAA", number=1)  # type: ignore[arg-type]
    assert info.value.field == field


def test_payee_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        payee_bank_bin="970436",
        payee_account="0071001234567",
        payee_name="TONG CONG TY DIEN LUC",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert PayeeAccount.from_settings(settings) == PayeeAccount(
        "970436", "0071001234567", "TONG CONG TY DIEN LUC"
    )
    with pytest.raises(ConfigurationError, match="payee_bank_bin"):
        PayeeAccount.from_settings(Settings(data_dir=tmp_path, _env_file=None))  # type: ignore[call-arg]


# -- the bank directory -----------------------------------------------------------------


def test_bank_directory_has_the_common_banks() -> None:
    # The BINs listed in REFERENCES.md.
    expected = {
        "970436": "Vietcombank",
        "970415": "VietinBank",
        "970418": "BIDV",
        "970405": "Agribank",
        "970407": "Techcombank",
        "970422": "MBBank",
        "970416": "ACB",
        "970432": "VPBank",
        "970403": "Sacombank",
        "970423": "TPBank",
    }
    for bank_bin, short_name in expected.items():
        bank = find_bank(bank_bin)
        assert bank is not None
        assert (bank.bin, bank.short_name) == (bank_bin, short_name)
    assert find_bank(" 970436 ") is not None
    assert find_bank("123456") is None
    directory = bank_directory()
    assert len(directory) >= 40
    assert all(len(b) == 6 and b.isdigit() and bank.name for b, bank in directory.items())
    assert len({bank.code for bank in directory.values()}) == len(directory)
