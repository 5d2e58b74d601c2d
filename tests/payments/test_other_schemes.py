"""PayNow, PromptPay and EPC QR against their published examples, and their errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import PaymentCodeError
from evservice.payments import EpcTransfer, Field, emv, epc_qr, paynow, promptpay, promptpay_bill

# -- PayNow -------------------------------------------------------------------------

# SGQR label with a PayNow UEN account, from the README of lee-ratinan/emv-qr (an EMV QR
# decoder for Singapore, Thailand and Indonesia), section "EmvMerchantDecoder - Example".
SGQR_PAYNOW_UEN = (
    "00020101021126490009SG.PAYNOW010120210202012345X030110408202112315182"
    "0007SG.SGQR0113202012345X123020701.00010306828671040201050312306040000"
    "0708201912315204000053037025802SG5911RATINAN LEE6009SINGAPORE6106828761"
    "62140110987654321X630429FD"
)


def test_paynow_reproduces_the_published_sgqr_example() -> None:
    decoded = emv.decode(SGQR_PAYNOW_UEN)
    assert decoded.get("26.00") == "SG.PAYNOW"
    assert decoded.get("26.02") == "202012345X"
    sgqr = decoded.field("51")
    assert sgqr is not None
    payload = paynow(
        "uen",
        "202012345x",
        expiry=date(2021, 12, 31),
        merchant_name="RATINAN LEE",
        merchant_city="SINGAPORE",
        postal_code="828761",
        bill_number="987654321X",
        extra_templates=[sgqr],
    )
    assert payload == SGQR_PAYNOW_UEN


def test_paynow_mobile_with_amount() -> None:
    payload = paynow("mobile", "9123 4567", amount="25.5", bill_number="INV-1")
    decoded = emv.decode(payload)
    assert decoded.get("01") == "12"
    assert decoded.get("26.01") == "0"
    assert decoded.get("26.02") == "+6591234567"
    assert decoded.get("26.03") == "0"  # not editable once the amount is set
    assert decoded.get("54") == "25.50"
    assert decoded.get("53") == "702"
    assert decoded.get("62.01") == "INV-1"
    assert [f.tag for f in decoded.fields] == sorted(f.tag for f in decoded.fields)
    assert emv.decode(paynow("mobile", "+6591234567", amount=1, editable=True)).get("26.03") == "1"


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("mobile", "12345678"), {}, "proxy_value"),
        (("mobile", "+6691234567"), {}, "proxy_value"),
        (("uen", "1234"), {}, "proxy_value"),
        (("nric", "S1234567A"), {}, "proxy_type"),
        (("uen", "201403121W"), {"amount": "-1"}, "amount"),
        (("uen", "201403121W"), {"amount": "1.005"}, "amount"),
        (("uen", "201403121W"), {"merchant_name": "N" * 26}, "merchant_name"),
        (("uen", "201403121W"), {"merchant_city": "Singapura ©"}, "merchant_city"),
        (("uen", "201403121W"), {"extra_templates": [Field("52", "0000")]}, "tag 52"),
        (("uen", "201403121W"), {"extra_templates": [Field("26", (Field("00", "X"),))]}, "tag 26"),
    ],
)
def test_paynow_errors(args: tuple[str, str], kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        paynow(*args, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# -- PromptPay ----------------------------------------------------------------------

# From the test suite of dtinth/promptpay-qr (index.test.js), the most used PromptPay
# payload library. Its field order (58 before 53) differs from ours, so these are
# checked field by field and through our decoder/encoder round trip.
DTINTH = {
    "0801234567": "00020101021129370016A000000677010111011300668012345675802TH530376463046197",
    "+66-89-123-4567": "00020101021129370016A000000677010111011300668912345675802TH5303764630429C1",
    "1111111111111": "00020101021129370016A000000677010111021311111111111115802TH530376463047B5A",
    "0123456789012": "00020101021129370016A000000677010111021301234567890125802TH530376463040CBD",
}
# From the tests of ThaiQR/ThaiQR-Go (test/thaiqr_test.go): canonical order, byte for byte.
THAIQR_GO_MOBILE = (
    "00020101021229370016A0000006770101110113006691234567853037645406100.005802TH6304D803"
)
THAIQR_GO_BILL = (
    "00020101021230710016A00000067701011201150112345678912330212REF1234567890312REF987654321"
    "53037645406200.005802TH5906THAIQR6304F528"
)


@pytest.mark.parametrize(("target", "published"), sorted(DTINTH.items()))
def test_promptpay_matches_dtinth_examples(target: str, published: str) -> None:
    assert emv.encode(emv.decode(published).fields) == published
    ours = emv.decode(promptpay(target))
    assert set(ours.fields) == set(emv.decode(published).fields)


def test_promptpay_amount_example_of_dtinth() -> None:
    published = "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469"
    assert emv.is_valid(published)
    assert emv.decode(published).get("54") == "4.22"


def test_promptpay_reproduces_thaiqr_go_examples() -> None:
    assert promptpay("0912345678", amount="100.00") == THAIQR_GO_MOBILE
    assert promptpay("091-234-5678", amount=100) == THAIQR_GO_MOBILE
    bill = promptpay_bill(
        "011234567891233", "REF123456789", "REF987654321", amount="200", merchant_name="THAIQR"
    )
    assert bill == THAIQR_GO_BILL


def test_promptpay_kinds() -> None:
    assert emv.decode(promptpay("123456789012345")).get("29.03") == "123456789012345"
    assert emv.decode(promptpay("1111111111111", kind="tax_id")).get("29.02") == "1111111111111"
    assert emv.decode(promptpay_bill("011234567891233", "ref1")).get("30.02") == "REF1"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: promptpay("08012345"), "target"),
        (lambda: promptpay("phone"), "target"),
        (lambda: promptpay("0801234567", kind="tax_id"), "target"),
        (lambda: promptpay("0801234567", kind="ewallet"), "target"),
        (lambda: promptpay("0801234567", kind="passport"), "kind"),  # type: ignore[arg-type]
        (lambda: promptpay("0801234567", amount="4.225"), "amount"),
        (lambda: promptpay_bill("12345", "REF1"), "biller_id"),
        (lambda: promptpay_bill("011234567891233", "ref 1 with spaces too long!"), "reference1"),
        (lambda: promptpay_bill("011234567891233", "R1", "ไทย"), "reference2"),
    ],
)
def test_promptpay_errors(call: object, field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field


# -- EPC QR (EPC069-12) -------------------------------------------------------------

# The example of EPC069-12 ("Quick Response Code: Guidelines to Enable Data Capture for
# the Initiation of a SEPA Credit Transfer"), as also shown in Wikipedia's "EPC QR code":
# version 001, BIC BPOTBEB1, Red Cross, BE72000000001616, EUR1, purpose CHAR, no
# structured reference, text "Urgency fund", information "Sample EPC QR code".
EPC_EXAMPLE = (
    "BCD\n001\n1\nSCT\nBPOTBEB1\nRed Cross\nBE72000000001616\nEUR1\nCHAR\n\n"
    "Urgency fund\nSample EPC QR code"
)


def test_epc_reproduces_the_guidelines_example() -> None:
    payload = epc_qr(
        "Red Cross",
        "BE72 0000 0000 1616",
        amount=1,
        bic="BPOTBEB1",
        purpose="CHAR",
        text="Urgency fund",
        information="Sample EPC QR code",
        version="001",
    )
    assert payload == EPC_EXAMPLE
    transfer = EpcTransfer.from_payload(EPC_EXAMPLE)
    assert transfer.amount == Decimal(1)
    assert transfer.payload() == EPC_EXAMPLE
    assert EpcTransfer.from_payload(EPC_EXAMPLE.replace("\n", "\r\n") + "\r\n") == transfer


def test_epc_version_002_minimal_and_structured_reference() -> None:
    assert epc_qr("Red Cross", "BE72000000001616") == (
        "BCD\n002\n1\nSCT\n\nRed Cross\nBE72000000001616"
    )
    payload = epc_qr(
        "Wikimedia Foerdergesellschaft",
        "DE33100205000001194700",
        amount="123.45",
        bic="BFSWDE33BER",
        reference="RF18 5390 0754 7034",
    )
    assert payload.split("\n")[7:] == ["EUR123.45", "", "RF18539007547034"]
    assert epc_qr("Ä Müller", "BE72000000001616", amount="12.30").endswith("\nEUR12.3")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"iban": "BE72000000001617"}, "iban"),
        ({"bic": "BPOT"}, "bic"),
        ({"version": "001"}, "bic"),
        ({"version": "003"}, "version"),
        ({"name": ""}, "name"),
        ({"name": "N" * 71}, "name"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1000000000"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"purpose": "CHARITY"}, "purpose"),
        ({"reference": "RF00 1234"}, "reference"),
        ({"reference": "RF18539007547034", "text": "and text"}, "text"),
        ({"text": "t" * 141}, "text"),
        ({"information": "line\nbreak"}, "information"),
        ({"text": "é" * 140, "information": "é" * 70, "name": "é" * 70}, "payload"),
    ],
)
def test_epc_errors(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"name": "Red Cross", "iban": "BE72000000001616", **kwargs}
    with pytest.raises(PaymentCodeError) as info:
        epc_qr(**args)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("XYZ\n002\n1\nSCT\n\nName\nBE72000000001616", "service_tag"),
        ("BCD\n002\n9\nSCT\n\nName\nBE72000000001616", "charset"),
        ("BCD\n002\n1\nSDD\n\nName\nBE72000000001616", "identification"),
        ("BCD\n002\n1\nSCT\n\nName\nBE72000000001616\nUSD5", "amount"),
        ("BCD\n002\n1\nSCT\n\nName", "payload"),
        ("BCD\n002\n1\nSCT\n\nName\nBE72000000001616" + "\nx" * 6, "payload"),
    ],
)
def test_epc_parse_errors(payload: str, field: str) -> None:
    with pytest.raises(PaymentCodeError) as info:
        EpcTransfer.from_payload(payload)
    assert info.value.field == field


@given(
    # Latin letters take at most 2 bytes in UTF-8, so every draw fits the 331-byte limit.
    name=st.text(
        st.characters(categories=["L", "N"], max_codepoint=0x24F) | st.just(" "),
        min_size=1,
        max_size=70,
    )
    .map(str.strip)
    .filter(bool),
    cents=st.none() | st.integers(min_value=1, max_value=99_999_999_999),
    text=st.none() | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=140),
)
def test_epc_round_trip(name: str, cents: int | None, text: str | None) -> None:
    amount = None if cents is None else Decimal(cents).scaleb(-2)
    payload = epc_qr(name, "BE72000000001616", amount=amount, text=text)
    assert len(payload.encode("utf-8")) <= 331
    transfer = EpcTransfer.from_payload(payload)
    assert transfer.payload() == payload
    assert transfer.amount == amount
