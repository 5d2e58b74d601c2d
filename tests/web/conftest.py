"""The portal's fixtures: a deployment with a contract waiting for its customer and an invoice.

The contract's code and link are read from the file outbox, as a customer
would read them from the SMS. Expensive things (the store, the invoice, the
browser) are made once per module or session; each test that signs gets a
contract of its own.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from evservice import Context, Settings
from evservice.clock import ManualClock
from evservice.contracts import create, request_consent
from evservice.invoices import IssuedInvoice, issue
from evservice.web import PortalSettings, create_app

SELLER_TAX_CODE = "0100101114"
START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def contract_draft(reference: str) -> dict[str, Any]:
    return {
        "provider": {
            "name": "Tổng công ty Điện lực TP Hà Nội",
            "tax_code": SELLER_TAX_CODE,
            "address": "69 Đinh Tiên Hoàng, Hoàn Kiếm, Hà Nội",
            "representative": "Nguyễn Văn Đức",
            "representative_title": "Phó Tổng giám đốc",
            "representative_email": "daidien@evnhanoi.example",
            "payment": {"bank_bin": "970436", "account": "0011001234567"},
        },
        "customer": {
            "name": "Trần Thị Ánh",
            "id_number": "001190012345",
            "address": "12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
            "phone": "0912 345 678",
            "email": "anh.tran@example.com",
        },
        "terms": {
            "kind": "electricity",
            "service_address": "12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
            "meter_id": "PD0123456789",
            "households": 1,
            "deposit": "0",
        },
        "start_date": "2026-11-01",
        "reference": reference,
    }


def invoice_draft(reference: str) -> dict[str, Any]:
    return {
        "series": "C26TAA",
        "issue_date": "2026-11-01",
        "reference": reference,
        "seller": {
            "name": "Điện lực Hà Nội",
            "tax_code": SELLER_TAX_CODE,
            "address": "69 Đinh Tiên Hoàng",
        },
        "buyer": {"person_name": "Nguyễn Văn An", "address": "12 Hào Nam, Đống Đa"},
        "lines": [
            {
                "name": "Điện sinh hoạt bậc 1",
                "unit": "kWh",
                "quantity": "50",
                "unit_price": "1984",
                "vat_rate": "8%",
            }
        ],
        "payment": {"bank_bin": "970436", "account": "0011001234567", "account_name": "EVN HANOI"},
    }


@dataclass
class Sent:
    """What the customer's SMS says: the link to the page and the code."""

    link: str
    path: str
    token: str
    code: str
    challenge_id: str
    number: str


def last_message(ctx: Context, kind: str = "sms", after: float = 0.0) -> str:
    folder = ctx.data_dir / "outbox" / kind
    files = sorted(
        (p for p in folder.iterdir() if p.stat().st_mtime_ns >= after),
        key=lambda p: p.stat().st_mtime_ns,
    )
    path = files[-1]
    if kind == "sms":
        return str(json.loads(path.read_text())["text"])
    return path.read_text(errors="replace")


def parse_sms(text: str) -> tuple[str, str]:
    code = re.search(r": (\d{6})\.", text)
    link = re.search(r"(https?://\S+/c/[A-Za-z0-9_-]+)", text)
    assert code is not None, text
    assert link is not None, text
    return link.group(1), code.group(1)


def read_email(ctx: Context) -> tuple[str, str]:
    """The link and code of the last OTP e-mail in the file outbox."""
    import email
    from email import policy

    message = email.message_from_string(last_message(ctx, "email"), policy=policy.default)
    part = message.get_body(("plain",))  # type: ignore[attr-defined]
    assert part is not None
    text = part.get_content()
    code = re.search(r"^\s+(\d{6})\s*$", text, re.MULTILINE)
    link = re.search(r"(https?://\S+/c/[A-Za-z0-9_-]+)", text)
    assert code is not None, text
    assert link is not None, text
    return link.group(1), code.group(1)


def send_contract(ctx: Context, reference: str) -> Sent:
    """A contract created by the library and its code sent by SMS to the file outbox."""
    contract = create(contract_draft(reference), ctx=ctx)
    request = request_consent(contract.number, channel="sms", ctx=ctx)
    link, code = parse_sms(last_message(ctx))
    token = link.rsplit("/", 1)[1]
    return Sent(link, f"/c/{token}", token, code, request.challenge_id, contract.number)


def web_settings(tmp: Path, portal_url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'data' / 'evservice.db'}",
        portal_url=portal_url,
        otp_resend_cooldown_seconds=30,
        otp_max_sends_per_recipient=1000,
        # One deployment serves a module's tests: a lock in one must not cool down the
        # customer's codes for the next (the cool-down itself is tested in tests/otp).
        otp_lock_cooldown_seconds=0,
        _env_file=None,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def web_ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """One deployment per test module, on a manual clock."""
    tmp = tmp_path_factory.mktemp("web")
    return Context(settings=web_settings(tmp, "http://testserver/"), clock=ManualClock(START))


@pytest.fixture(scope="module")
def invoice(web_ctx: Context) -> IssuedInvoice:
    return issue(invoice_draft("web-invoice-1"), ctx=web_ctx)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn serving the portal in a thread on a free loopback port."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Context]]:
    """The real server on loopback, for the live HTTP tests and the browser tests (one per run)."""
    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    ctx = Context(settings=web_settings(tmp, f"http://127.0.0.1:{port}/"), clock=ManualClock(START))
    app = create_app(ctx, PortalSettings())
    with Server(app, port) as server:
        yield server, ctx
