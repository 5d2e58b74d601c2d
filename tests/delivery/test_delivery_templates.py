"""Message templates: Vietnamese and English, SMS within 160 GSM-7 characters."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from evservice import vn
from evservice.delivery import (
    MAX_LABEL,
    OTP_PURPOSES,
    SMS_MAX_SEPTETS,
    invoice_email,
    invoice_sms,
    otp_email,
    otp_sms,
    sms_text,
)
from evservice.errors import ValidationError
from evservice.money import MAX_AMOUNT

PHONE = "0912345678"
LONGEST_LABEL = "HD2026-" + "9" * (MAX_LABEL - 7)


def test_vietnamese_otp_sms_is_the_issue_example() -> None:
    message = otp_sms(to=PHONE, code="123456", document_label="HD2026-000123")
    assert message.text == (
        "Ma OTP ky hop dong HD2026-000123: 123456. Het han sau 5 phut. Khong chia se ma nay."
    )
    assert message.kind == "sms"
    assert message.sensitive is True


def test_english_otp_sms() -> None:
    message = otp_sms(to=PHONE, code="123456", document_label="HD2026-000123", locale="en")
    assert message.text == (
        "OTP to sign contract HD2026-000123: 123456. Expires in 5 min. Do not share this code."
    )


@pytest.mark.parametrize(
    ("purpose", "locale", "ttl"),
    list(itertools.product(sorted(OTP_PURPOSES), ["vi", "en"], [300, 600, 3540])),
)
def test_longest_label_fits_one_sms(purpose: str, locale: str, ttl: int) -> None:
    message = otp_sms(
        to=PHONE,
        code="999999",
        document_label=LONGEST_LABEL,
        purpose=purpose,
        ttl_seconds=ttl,
        locale=locale,
    )
    assert message.text.isascii()
    assert vn.is_gsm7(message.text)
    assert vn.gsm7_length(message.text) <= SMS_MAX_SEPTETS
    assert LONGEST_LABEL in message.text


def test_label_longer_than_allowed_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        otp_sms(to=PHONE, code="123456", document_label=LONGEST_LABEL + "0")
    assert info.value.field == "document_label"


@pytest.mark.parametrize("label", ["", "HD 2026", "HD2026\n", "<b>x</b>"])
def test_bad_labels(label: str) -> None:
    with pytest.raises(ValidationError) as info:
        otp_sms(to=PHONE, code="123456", document_label=label)
    assert info.value.field == "document_label"


def test_unknown_purpose_and_locale() -> None:
    with pytest.raises(ValidationError) as info:
        otp_sms(to=PHONE, code="123456", document_label="HD1", purpose="pay")
    assert info.value.field == "purpose"
    with pytest.raises(ValidationError) as info:
        otp_sms(to=PHONE, code="123456", document_label="HD1", locale="fr")
    assert info.value.field == "locale"


def test_sms_text_folds_and_counts_extension_characters_twice() -> None:
    assert sms_text("Tiền điện   tháng\n11") == "Tien dien thang 11"
    assert sms_text("{" * 80) == "{" * 80  # 160 septets exactly
    with pytest.raises(ValidationError) as info:
        sms_text("{" * 80 + "a", field="note")
    assert info.value.field == "note"


def test_otp_email_has_text_html_hash_and_attachment() -> None:
    digest = "c0ffee" * 10 + "abcd"
    message = otp_email(
        to="an@example.com",
        code="654321",
        document_label="HD2026-000123",
        document_sha256=digest,
        attachments=[("HD2026-000123.pdf", "application/pdf", b"%PDF")],
    )
    assert message.subject == "Mã OTP ký hợp đồng HD2026-000123"
    assert "654321" not in message.subject
    assert "654321" in message.text
    assert digest in message.text
    assert "đính kèm" in message.text
    assert message.html is not None
    assert "<strong>654321</strong>" in message.html
    assert message.attachments[0].filename == "HD2026-000123.pdf"
    assert message.sensitive is True
    english = otp_email(
        to="an@example.com",
        code="654321",
        document_label="HD2026-000123",
        document_sha256=digest,
        locale="en",
    )
    assert english.subject == "One-time code to sign contract HD2026-000123"
    assert "attached" not in english.text


def test_invoice_email_escapes_html_and_attaches_pdf_and_xml() -> None:
    message = invoice_email(
        to="an@example.com",
        customer_name="Nguyễn <Văn> & Co",
        seller_name="EVN HCMC",
        invoice_label="C26TAA-00000123",
        amount=Decimal("1234567"),
        due_date=date(2026, 12, 15),
        lookup_code="AB12CD34EF",
        lookup_url="https://tracuu.evservice.example/?q=AB12CD34EF",
        pdf=b"%PDF-1.7",
        xml=b"<HDon/>",
    )
    assert message.subject == "Hóa đơn điện tử C26TAA-00000123"
    assert "1.234.567 đồng" in message.text
    assert "15/12/2026" in message.text
    assert "Nguyễn <Văn> & Co" in message.text
    assert message.html is not None
    assert "Nguyễn &lt;Văn&gt; &amp; Co" in message.html
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("C26TAA-00000123.pdf", "application/pdf"),
        ("C26TAA-00000123.xml", "application/xml"),
    ]
    assert message.sensitive is False
    english = invoice_email(
        to="an@example.com",
        customer_name="An",
        seller_name="EVN HCMC",
        invoice_label="C26TAA-00000123",
        amount=Decimal("1234567"),
        due_date=date(2026, 12, 15),
        lookup_code="AB12CD34EF",
        lookup_url="https://tracuu.evservice.example/",
        locale="en",
    )
    assert "1,234,567 VND" in english.text
    assert "2026-12-15" in english.text
    assert english.attachments == ()


def test_invoice_sms_vietnamese() -> None:
    message = invoice_sms(
        to=PHONE,
        invoice_label="C26TAA-00000123",
        amount=Decimal("250000"),
        due_date=date(2026, 12, 15),
        lookup_code="AB12CD34EF",
        lookup_url="https://tracuu.evservice.example/",
        brand="EVNHCMC",
    )
    assert message.text == (
        "EVNHCMC: Hoa don C26TAA-00000123: 250.000 d, han thanh toan 15/12/2026. "
        "Ma tra cuu AB12CD34EF. Xem tai https://tracuu.evservice.example/"
    )


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_invoice_sms_worst_case_fits_and_drops_the_url_first(locale: str) -> None:
    long_url = "https://tracuu.evservice.example/" + "x" * 60
    message = invoice_sms(
        to=PHONE,
        invoice_label="C" * MAX_LABEL,
        amount=MAX_AMOUNT - 1,
        due_date=date(2026, 12, 31),
        lookup_code="L" * MAX_LABEL,
        lookup_url=long_url,
        brand="B" * 11,
        locale=locale,
    )
    assert vn.gsm7_length(message.text) <= SMS_MAX_SEPTETS
    assert "x" * 60 not in message.text
    assert "L" * MAX_LABEL in message.text


@pytest.mark.parametrize("amount", [Decimal("1.5"), Decimal("-1"), Decimal("NaN"), 100])
def test_invoice_amount_must_be_whole_dong(amount: object) -> None:
    with pytest.raises(ValidationError) as info:
        invoice_sms(
            to=PHONE,
            invoice_label="C26TAA-1",
            amount=amount,  # type: ignore[arg-type]
            due_date=date(2026, 12, 31),
            lookup_code="AB",
        )
    assert info.value.field == "amount"
