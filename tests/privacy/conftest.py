"""A store holding personal data in every sealed table: invoices, a contract, messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evservice import contracts, invoices
from evservice._context import Context
from evservice.delivery import Message, enqueue
from evservice.store import transaction

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME = "Nguyễn Thị Mai"
EMAIL = "mai.nguyen@example.vn"
PHONE = "0912 345 678"
PHONE_E164 = "+84912345678"


def invoice_draft(n: int) -> dict[str, Any]:
    draft: dict[str, Any] = json.loads((EXAMPLES / "invoice_draft.json").read_text())
    draft["issue_date"] = "2026-10-31"
    draft["reference"] = f"PD{n:04d}:2026-10"
    draft["buyer"]["customer_code"] = f"PD{n:04d}"
    return draft


def contract_draft() -> dict[str, Any]:
    draft: dict[str, Any] = json.loads((EXAMPLES / "contract_draft.json").read_text())
    draft["customer"]["name"] = NAME
    draft["customer"]["phone"] = PHONE
    draft["customer"]["email"] = EMAIL
    return draft


def populate(ctx: Context, *, invoices_count: int = 6, messages: int = 20) -> dict[str, Any]:
    """Issue invoices, create a contract and queue messages to the customer."""
    issued = invoices.record_invoices([invoice_draft(i) for i in range(invoices_count)], ctx=ctx)
    contract = contracts.create(contract_draft(), ctx=ctx)
    with transaction(ctx.engine) as session:
        for i in range(messages):
            to = EMAIL if i % 2 else PHONE
            kind = "email" if i % 2 else "sms"
            text = f"Kính gửi {NAME}, hoá đơn số {i}"
            subject = "Hoá đơn" if kind == "email" else ""
            enqueue(session, Message(to=to, kind=kind, subject=subject, text=text), ctx=ctx)
    return {"invoices": [i.row_id for i in issued], "contract": contract.id}


@pytest.fixture
def populated(ctx: Context) -> dict[str, Any]:
    return populate(ctx)
