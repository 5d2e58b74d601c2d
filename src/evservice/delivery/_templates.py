"""Message templates in Vietnamese and English: OTP codes and invoice notices.

Texts live in ``templates/*.j2`` (Jinja2; HTML autoescaped). SMS texts are
folded to ASCII (:func:`evservice.vn.fold_ascii`) and must fit one GSM-7 SMS
of 160 septets; labels are limited so that the longest allowed one still fits,
and a text that would not fit raises :class:`ValidationError` naming the
field that made it too long, never a silent second SMS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Literal

import jinja2

from evservice import vn
from evservice.delivery._message import Attachment, Message
from evservice.errors import ValidationError
from evservice.money import format_vnd

__all__ = [
    "MAX_LABEL",
    "OTP_PURPOSES",
    "SMS_MAX_SEPTETS",
    "Locale",
    "invoice_email",
    "invoice_sms",
    "otp_email",
    "otp_sms",
    "sms_text",
]

Locale = Literal["vi", "en"]

SMS_MAX_SEPTETS = 160
#: Longest document or invoice label (``HD2026-000123``, ``C26TAA-00000123``).
MAX_LABEL = 32

#: What the customer consents to, by challenge purpose: (Vietnamese, English).
OTP_PURPOSES: dict[str, tuple[str, str]] = {
    "contract.sign": ("ký hợp đồng", "to sign contract"),
    "contract.amend": ("ký phụ lục hợp đồng", "to sign amendment"),
    "contract.terminate": ("chấm dứt hợp đồng", "to terminate contract"),
    "document.confirm": ("xác nhận tài liệu", "to confirm document"),
}

_SUBJECTS = {
    ("otp", "vi"): "Mã OTP {action} {label}",
    ("otp", "en"): "One-time code {action} {label}",
    ("invoice", "vi"): "Hóa đơn điện tử {label}",
    ("invoice", "en"): "E-invoice {label}",
}
_LABEL = re.compile(rf"^[\w./-]{{1,{MAX_LABEL}}}$")
_CODE = re.compile(r"^[0-9]{4,10}$")


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("evservice.delivery", "templates"),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(name: str, **values: Any) -> str:
    return _env().get_template(name).render(**values)


def _locale(locale: str) -> Locale:
    if locale not in ("vi", "en"):
        raise ValidationError("locale", "must be 'vi' or 'en'")
    return "vi" if locale == "vi" else "en"


def _label(value: str, field: str) -> str:
    if not isinstance(value, str) or not _LABEL.fullmatch(value):
        raise ValidationError(
            field, f"must be 1-{MAX_LABEL} letters, digits, '.', '/', '-' or '_' (no spaces)"
        )
    return value


def _action(purpose: str, locale: Locale) -> str:
    try:
        vi_text, en_text = OTP_PURPOSES[purpose]
    except KeyError:
        raise ValidationError(
            "purpose", f"must be one of {', '.join(sorted(OTP_PURPOSES))}"
        ) from None
    return vi_text if locale == "vi" else en_text


def _minutes(ttl_seconds: int) -> int:
    if not isinstance(ttl_seconds, int) or ttl_seconds < 60:
        raise ValidationError("ttl_seconds", "must be a whole number of seconds, at least 60")
    return ttl_seconds // 60


def _whole_dong(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValidationError("amount", "must be a Decimal")
    if amount != amount.to_integral_value() or amount < 0:
        raise ValidationError("amount", "must be a whole, non-negative number of dong")
    return amount


def _amount_text(amount: Decimal, locale: Locale) -> str:
    text = format_vnd(_whole_dong(amount))
    return text if locale == "vi" else text.replace(".", ",")


def _date_text(value: date, locale: Locale) -> str:
    if not isinstance(value, date):
        raise ValidationError("due_date", "must be a date")
    return value.strftime("%d/%m/%Y") if locale == "vi" else value.isoformat()


def sms_text(text: str, *, field: str = "text") -> str:
    """``text`` folded to ASCII on one line; raise naming ``field`` if over 160 septets."""
    folded = " ".join(vn.fold_ascii(text).split())
    if vn.gsm7_length(folded) > SMS_MAX_SEPTETS:
        raise ValidationError(
            field, f"makes the SMS longer than {SMS_MAX_SEPTETS} GSM-7 characters"
        )
    return folded


def _link(link: str | None) -> str | None:
    if link is None:
        return None
    if not isinstance(link, str) or not re.fullmatch(r"https?://[!-~]{1,200}", link):
        raise ValidationError("link", "must be an http(s) URL of printable ASCII, at most 200")
    return link


def _check_code(code: str) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise ValidationError("code", "must be 4-10 digits")
    return code


def otp_sms(
    *,
    to: str,
    code: str,
    document_label: str,
    purpose: str = "contract.sign",
    ttl_seconds: int = 300,
    locale: str = "vi",
    link: str | None = None,
) -> Message:
    """The OTP SMS, e.g. ``Ma OTP ky hop dong HD2026-000123: 123456. Het han sau 5 phut. ...``.

    ``link`` (the signed page of the challenge on the customer portal) is added
    when the text still fits one SMS with it, and left out otherwise. The
    message is marked ``sensitive``: it carries the code.
    """
    loc = _locale(locale)
    values = {
        "action": _action(purpose, loc),
        "label": _label(document_label, "document_label"),
        "code": _check_code(code),
        "minutes": _minutes(ttl_seconds),
        "link": _link(link),
    }
    name = f"otp_sms.{loc}.txt.j2"
    try:
        text = sms_text(_render(name, **values), field="link")
    except ValidationError:
        if not link:
            raise
        text = sms_text(_render(name, **{**values, "link": None}), field="document_label")
    return Message(
        to=to, text=text, kind="sms", tags={"template": "otp", "purpose": purpose}, sensitive=True
    )


def otp_email(
    *,
    to: str,
    code: str,
    document_label: str,
    document_sha256: str,
    purpose: str = "contract.sign",
    ttl_seconds: int = 300,
    locale: str = "vi",
    attachments: Sequence[Attachment | tuple[str, str, bytes]] = (),
    link: str | None = None,
) -> Message:
    """The OTP e-mail (text and HTML), with the document (e.g. the contract PDF) attached.

    The body names the document's SHA-256 so the customer can see which exact
    document the code confirms, and ``link`` (the challenge's signed page on
    the customer portal) when given. The code is not in the subject.
    """
    loc = _locale(locale)
    action = _action(purpose, loc)
    label = _label(document_label, "document_label")
    subject = _SUBJECTS[("otp", loc)].format(action=action, label=label)
    values = {
        "action": action,
        "label": label,
        "code": _check_code(code),
        "minutes": _minutes(ttl_seconds),
        "document_sha256": document_sha256,
        "attached": bool(attachments),
        "subject": subject,
        "link": _link(link),
    }
    return Message(
        to=to,
        kind="email",
        subject=subject,
        text=_render(f"otp_email.{loc}.txt.j2", **values),
        html=_render(f"otp_email.{loc}.html.j2", **values),
        attachments=tuple(a if isinstance(a, Attachment) else Attachment(*a) for a in attachments),
        tags={"template": "otp", "purpose": purpose},
        sensitive=True,
    )


def invoice_email(
    *,
    to: str,
    customer_name: str,
    seller_name: str,
    invoice_label: str,
    amount: Decimal,
    due_date: date,
    lookup_code: str,
    lookup_url: str,
    pdf: bytes | None = None,
    xml: bytes | None = None,
    locale: str = "vi",
) -> Message:
    """The invoice notice e-mail with the PDF and the signed XML attached."""
    loc = _locale(locale)
    label = _label(invoice_label, "invoice_label")
    subject = _SUBJECTS[("invoice", loc)].format(label=label)
    attachments: list[Attachment] = []
    if pdf is not None:
        attachments.append(Attachment(f"{label.replace('/', '-')}.pdf", "application/pdf", pdf))
    if xml is not None:
        attachments.append(Attachment(f"{label.replace('/', '-')}.xml", "application/xml", xml))
    values = {
        "customer_name": customer_name,
        "seller_name": seller_name,
        "invoice_label": label,
        "amount": _amount_text(amount, loc),
        "due_date": _date_text(due_date, loc),
        "lookup_code": _label(lookup_code, "lookup_code"),
        "lookup_url": lookup_url,
        "attached": bool(attachments),
        "subject": subject,
    }
    return Message(
        to=to,
        kind="email",
        subject=subject,
        text=_render(f"invoice_email.{loc}.txt.j2", **values),
        html=_render(f"invoice_email.{loc}.html.j2", **values),
        attachments=tuple(attachments),
        tags={"template": "invoice", "invoice": label},
    )


def invoice_sms(
    *,
    to: str,
    invoice_label: str,
    amount: Decimal,
    due_date: date,
    lookup_code: str,
    lookup_url: str | None = None,
    brand: str | None = None,
    locale: str = "vi",
) -> Message:
    """The invoice notice SMS: amount, due date and lookup code (and the URL when it fits)."""
    loc = _locale(locale)
    if brand is not None and (not brand.strip() or len(brand) > 11):
        raise ValidationError("brand", "must be 1-11 characters (an SMS sender name)")
    label = _label(invoice_label, "invoice_label")
    values = {
        "brand": brand,
        "invoice_label": label,
        "amount": _amount_text(amount, loc),
        "due_date": _date_text(due_date, loc),
        "lookup_code": _label(lookup_code, "lookup_code"),
        "lookup_url": lookup_url,
    }
    name = f"invoice_sms.{loc}.txt.j2"
    try:
        text = sms_text(_render(name, **values), field="lookup_url")
    except ValidationError:
        if not lookup_url:
            raise
        text = sms_text(_render(name, **{**values, "lookup_url": None}), field="invoice_label")
    return Message(
        to=to,
        text=text,
        kind="sms",
        tags={"template": "invoice", "invoice": label},
    )
