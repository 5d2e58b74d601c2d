"""Proactive care: batch invoices a customer will be surprised by, found before they call.

Each invoice of a batch is compared with the same customer's meter or plan in the
three billing months before it (``batch_history``, written with every batch
invoice):

* ``spike``: the amount payable is at least twice the average of those periods;
* ``zero``: the meter read 0 kWh while every one of those periods read more;
* ``rollover``: the meter register wrapped past 99..9 (reported so that the
  reading gets a second look; it is priced correctly either way).

Periods missing from the history are left out of the average; with none there
is nothing to compare with and no spike or zero is flagged. The history of a
whole chunk of invoices is read in one query. :func:`notice_messages` makes the
SMS and e-mail a flagged customer may be sent ("hóa đơn tăng bất thường").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session

from evservice.batch._input import BatchPeriod
from evservice.batch._tables import BatchHistory
from evservice.delivery import Message, sms_text
from evservice.money import ZERO, format_vnd, round_dong

__all__ = [
    "HISTORY_PERIODS",
    "Anomaly",
    "AnomalyKind",
    "BilledItem",
    "find_anomalies",
    "notice_messages",
    "previous_periods",
]

#: How many billing months before the current one the checks look at.
HISTORY_PERIODS = 3
#: A spike is an amount at least this many times the average.
SPIKE_FACTOR = 2

AnomalyKind = Literal["spike", "zero", "rollover"]
_HISTORY: sa.Table = BatchHistory.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BilledItem:
    """What the checks need to know of one batch invoice."""

    customer_id: str
    item_key: str
    invoice_id: str
    invoice: str  # label, 1C26TEV-00000123
    payable: Decimal
    kwh: Decimal | None  # None for subscriptions
    rolled_over: bool = False


@dataclass(frozen=True)
class Anomaly:
    """One flagged invoice: what looks wrong, and the figures that say so."""

    kind: AnomalyKind
    customer_id: str
    item_key: str
    invoice: str
    invoice_id: str
    payable: Decimal
    average: Decimal | None  # average payable of the previous periods found
    kwh: Decimal | None
    previous_periods: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (amounts as strings)."""
        return {
            "kind": self.kind,
            "customer_id": self.customer_id,
            "item": self.item_key,
            "invoice": self.invoice,
            "payable": str(self.payable),
            "average": None if self.average is None else str(self.average),
            "kwh": None if self.kwh is None else str(self.kwh),
            "previous_periods": self.previous_periods,
        }


def previous_periods(period: BatchPeriod, count: int = HISTORY_PERIODS) -> list[str]:
    """The ``count`` billing months before ``period``, newest first (``2026-10``, ...)."""
    months = period.year * 12 + period.month - 1
    return [
        f"{(m // 12):04d}-{(m % 12) + 1:02d}" for m in range(months - 1, months - 1 - count, -1)
    ]


def find_anomalies(
    session: Session, period: BatchPeriod, items: Sequence[BilledItem]
) -> list[Anomaly]:
    """Flag the ``items`` of ``period`` against their history, in one query for all of them."""
    if not items:
        return []
    window = previous_periods(period)
    customers = sorted({item.customer_id for item in items})
    query = sa.select(
        _HISTORY.c.customer_id, _HISTORY.c.item_key, _HISTORY.c.kwh, _HISTORY.c.payable
    ).where(_HISTORY.c.customer_id.in_(customers), _HISTORY.c.period.in_(window))
    history: dict[tuple[str, str], list[tuple[int | None, int]]] = {}
    for customer_id, item_key, kwh, payable in session.execute(query):
        history.setdefault((customer_id, item_key), []).append((kwh, payable))
    found: list[Anomaly] = []
    for item in items:
        found.extend(_check(item, history.get((item.customer_id, item.item_key), [])))
    return found


def _check(item: BilledItem, past: Sequence[tuple[int | None, int]]) -> Iterable[Anomaly]:
    count = len(past)
    total = sum((Decimal(payable) for _, payable in past), ZERO)
    average = round_dong(total / count) if count else None

    def anomaly(kind: AnomalyKind) -> Anomaly:
        return Anomaly(
            kind=kind,
            customer_id=item.customer_id,
            item_key=item.item_key,
            invoice=item.invoice,
            invoice_id=item.invoice_id,
            payable=item.payable,
            average=average,
            kwh=item.kwh,
            previous_periods=count,
        )

    # Compared exactly: payable >= 2 x (total / count)  <=>  payable x count >= 2 x total.
    if count and total > 0 and item.payable * count >= SPIKE_FACTOR * total:
        yield anomaly("spike")
    if (
        count
        and item.kwh is not None
        and item.kwh == 0
        and all(kwh is not None and kwh > 0 for kwh, _ in past)
    ):
        yield anomaly("zero")
    if item.rolled_over:
        yield anomaly("rollover")


def notice_messages(
    anomaly: Anomaly,
    *,
    period: BatchPeriod,
    lookup_code: str,
    seller_name: str,
    phone: str | None,
    email: str | None,
) -> list[tuple[str, Message]]:
    """The SMS and e-mail telling the customer about a spike or a zero reading.

    Returns ``(kind, message)`` pairs (``anomaly-sms``, ``anomaly-email``) for the
    contacts given (none without either); message ids derive from the invoice, so
    queueing twice is caught by the outbox too. Roll-overs are the operator's
    business: no message. Raises :class:`ValidationError` if a contact cannot
    take a message.
    """
    if anomaly.kind == "rollover":
        return []
    amount = format_vnd(anomaly.payable)
    if anomaly.kind == "spike":
        average = format_vnd(anomaly.average or ZERO)
        sms = (
            f"Hoa don {anomaly.invoice} ky {period} tang bat thuong: {amount} VND, "
            f"trung binh {anomaly.previous_periods} ky truoc {average} VND. "
            f"Tra cuu: {lookup_code}"
        )
        subject = f"Hóa đơn tăng bất thường {anomaly.invoice}"
        body = (
            f"Kính gửi Quý khách,\n\n"
            f"Hóa đơn {anomaly.invoice} kỳ {period} có số tiền {amount} đồng, cao hơn nhiều "
            f"so với trung bình {anomaly.previous_periods} kỳ trước ({average} đồng).\n"
            f"Quý khách vui lòng kiểm tra thiết bị sử dụng hoặc liên hệ {seller_name} "
            f"nếu cần hỗ trợ. Mã tra cứu hóa đơn: {lookup_code}.\n"
        )
    else:
        sms = (
            f"Dien nang ky {period} (hoa don {anomaly.invoice}) bang 0 kWh. Neu khong dung, "
            f"vui long bao dien luc. Tra cuu: {lookup_code}"
        )
        subject = f"Điện năng tiêu thụ bằng 0 - hóa đơn {anomaly.invoice}"
        body = (
            f"Kính gửi Quý khách,\n\n"
            f"Chỉ số công tơ kỳ {period} cho thấy điện năng tiêu thụ bằng 0 kWh (hóa đơn "
            f"{anomaly.invoice}), trong khi các kỳ trước đều có tiêu thụ.\n"
            f"Nếu điều này không đúng, vui lòng liên hệ {seller_name} để kiểm tra công tơ. "
            f"Mã tra cứu hóa đơn: {lookup_code}.\n"
        )
    base = anomaly.invoice_id.replace("-", "")
    tags = {"template": "anomaly", "kind": anomaly.kind, "invoice": anomaly.invoice}
    messages: list[tuple[str, Message]] = []
    if phone:
        text = sms_text(sms, field="invoice")
        messages.append(
            ("anomaly-sms", Message(to=phone, text=text, kind="sms", tags=tags, id=f"{base}-as"))
        )
    if email:
        message = Message(
            to=email, text=body, kind="email", subject=subject, tags=tags, id=f"{base}-ae"
        )
        messages.append(("anomaly-email", message))
    return messages
