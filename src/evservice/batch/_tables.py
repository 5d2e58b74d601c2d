"""Tables of the monthly batch (Alembic branch ``batch``).

They hold what the batch must remember between runs and periods, each row
written in the transaction that numbers its invoice (or queues its message),
so a killed batch never leaves them out of step with the invoices.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from evservice.store import UTCDateTime

__all__ = ["BatchCredit", "BatchHistory", "BatchNotice"]


class BatchHistory(SQLModel, table=True):
    """What one batch invoice billed for a customer's meter or plan in one period.

    The anomaly checks compare a period with the three before it from here.
    ``kwh`` is empty for subscriptions; amounts are whole dong.
    """

    __tablename__ = "batch_history"
    customer_id: str = Field(primary_key=True, max_length=50)
    item_key: str = Field(primary_key=True, max_length=60)
    period: str = Field(primary_key=True, max_length=7)
    invoice_id: str = Field(max_length=36, unique=True)
    kwh: int | None = Field(default=None, sa_type=sa.BigInteger)
    amount: int = Field(sa_type=sa.BigInteger)
    payable: int = Field(sa_type=sa.BigInteger)
    rolled_over: bool = False
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class BatchCredit(SQLModel, table=True):
    """Credit (before VAT, whole dong) carried forward on a customer's plan.

    Changed only inside the transaction that issues the invoice spending it, so
    a rerun, which finds the invoice already issued, never spends it twice.
    """

    __tablename__ = "batch_credit"
    customer_id: str = Field(primary_key=True, max_length=50)
    plan_code: str = Field(primary_key=True, max_length=50)
    balance: int = Field(sa_type=sa.BigInteger)
    period: str = Field(max_length=7)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class BatchNotice(SQLModel, table=True):
    """A message the batch queued in the outbox for an invoice: one per invoice and kind.

    ``kind``: ``invoice-email``, ``invoice-sms``, ``anomaly-email``, ``anomaly-sms``.
    """

    __tablename__ = "batch_notice"
    invoice_id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(primary_key=True, max_length=16)
    message_id: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
