"""The bank-transfer webhook mounted in the portal: POST /api/v1/payments/webhook."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from evservice._context import Context
from evservice.clock import ManualClock
from evservice.payments import reference
from evservice.reconcile import SIGNATURE_HEADER, Receivable, open_receivables, sign_webhook
from evservice.web import create_app

from .conftest import START, web_settings

SECRET = "webhook-secret-0123456789"
PAYMENT = reference.make("1", "C26TAA", 1)

pytestmark = pytest.mark.anyio


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    settings = web_settings(tmp_path, "http://testserver/").model_copy(
        update={"payment_webhook_secret": SecretStr(SECRET)}
    )
    context = Context(settings=settings, clock=ManualClock(START))
    open_receivables(
        [
            Receivable(
                invoice_id="inv-1",
                reference=PAYMENT,
                label="1C26TAA-00000001",
                customer_id="PE0000000001",
                issue_date=date(2026, 11, 1),
                due_date=date(2026, 11, 1) + timedelta(days=10),
                amount_due=Decimal(250000),
                before_tax=Decimal(231481),
            )
        ],
        ctx=context,
    )
    return context


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _body(event: str) -> bytes:
    data = {
        "transaction_id": "FT1",
        "amount": "250000",
        "currency": "VND",
        "booked_at": "2026-11-05T09:12:00+07:00",
        "description": f"HD {PAYMENT}",
        "account": "0071001234567",
    }
    return json.dumps({"id": event, "type": "transfer.received", "data": data}).encode()


async def _post(
    client: httpx.AsyncClient, ctx: Context, body: bytes, secret: str
) -> httpx.Response:
    stamp = int(ctx.clock.now().timestamp())
    headers = {
        SIGNATURE_HEADER: sign_webhook(body, secret.encode(), stamp),
        "content-type": "application/json",
    }
    return await client.post("/api/v1/payments/webhook", content=body, headers=headers)


async def test_a_signed_transfer_is_applied_once_through_the_portal(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    first = await _post(client, ctx, _body("evt_1"), SECRET)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied"
    again = await _post(client, ctx, _body("evt_1"), SECRET)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    forged = await _post(client, ctx, _body("evt_2"), "not-the-secret-0123456789")
    assert forged.status_code == 401


async def test_without_a_secret_the_webhook_answers_503(tmp_path: Path) -> None:
    ctx = Context(settings=web_settings(tmp_path, "http://testserver/"), clock=ManualClock(START))
    transport = httpx.ASGITransport(app=create_app(ctx), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await _post(client, ctx, _body("evt_1"), SECRET)
    assert answer.status_code == 503
