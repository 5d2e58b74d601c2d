"""Secrets never leave where they belong: the batch and every consent channel at DEBUG logging.

One run of the real parts: the monthly batch on demo data with delivery (e-mail
through aiosmtpd with STARTTLS and AUTH, SMS through the loopback webhook
gateway), a contract signed by SMS and countersigned by e-mail, another signed
with authenticator apps (a wrong code, a replayed code, a recovery code), with
every logger at DEBUG. Then no plaintext phone number, e-mail address, customer
name, OTP code, TOTP secret, recovery code or key material may appear in the
captured logs, the audit tables, the outbox's metadata (listing, tags, masked
columns, errors) or the messages of the refused attempts.
"""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import logging
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.delivery.conftest import (
    WEBHOOK_SECRET,
    Gateway,
    SmtpServer,
    sms_gateway,
    smtp_server,
    tls_files,
)

from evservice import contracts, otp
from evservice._context import Context
from evservice.batch import BatchOptions, parse_period, run_batch, write_demo_csv
from evservice.clock import ManualClock
from evservice.contracts import ContractStatus
from evservice.delivery import RoutingChannel, SmtpChannel, WebhookSmsChannel, list_outbox
from evservice.errors import CodeMismatch, CodeReused, EvServiceError

__all__ = ["sms_gateway", "smtp_server", "tls_files"]  # fixtures, imported for this module

SELLER = {
    "seller_name": "Tổng công ty Điện lực TP Hà Nội",
    "seller_tax_code": "0100101114",
    "seller_address": "69 Đinh Tiên Hoàng, quận Hoàn Kiếm, Hà Nội",
    "payee_bank_bin": "970436",
    "payee_account": "0011001234567",
    "payee_name": "EVN HANOI",
}
CUSTOMER = {
    "name": "Trần Thị Ánh Dương",
    "address": "12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
    "phone": "0913 579 246",
    "email": "anh.duong.tran@example.com",
    "customer_code": "PD0777",
}
PROVIDER = {
    "name": "Tổng công ty Điện lực TP Hà Nội",
    "tax_code": "0100101114",
    "address": "69 Đinh Tiên Hoàng, Hoàn Kiếm, Hà Nội",
    "representative": "Nguyễn Văn Đức Minh",
    "representative_email": "daidien.minh@evnhanoi.example",
    "representative_code": "NV-0777",
    "payment": {"bank_bin": "970436", "account": "0011001234567"},
}


def _draft(reference: str) -> dict[str, object]:
    return {
        "provider": PROVIDER,
        "customer": CUSTOMER,
        "terms": {
            "kind": "electricity",
            "service_address": CUSTOMER["address"],
            "meter_id": "PD0123456789",
        },
        "start_date": "2026-11-01",
        "reference": reference,
    }


def _phone_forms(phone: str) -> set[str]:
    digits = re.sub(r"\D", "", phone)
    national = digits[1:] if digits.startswith("0") else digits.removeprefix("84")
    return {phone, digits, national, f"+84{national}", f"84{national}", f"0{national}"}


class Secrets:
    """Everything that must not leak, and a finder that tells which did."""

    def __init__(self) -> None:
        self.plain: set[str] = set()
        self.codes: set[str] = set()

    def add_person(self, name: str, phone: str | None, email: str | None) -> None:
        self.plain.add(name)
        if phone:
            self.plain |= _phone_forms(phone)
        if email:
            self.plain.add(email)
            local = email.split("@")[0]
            if len(local) >= 6:
                self.plain.add(local)

    def found_in(self, text: str) -> list[str]:
        found = [s for s in self.plain if s in text]
        found += [
            c
            for c in self.codes
            if re.search(rf"(?<![0-9A-Za-z]){re.escape(c)}(?![0-9A-Za-z])", text)
        ]
        return found


def _key_material(ctx: Context) -> set[str]:
    """Every key file's secret part: PEM body lines, hex keys, and the derived field key."""
    out = {otp.field_key(ctx.settings).hex(), otp.server_key(ctx.settings).hex()}
    for path in ctx.settings.keys_dir.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if "PRIVATE KEY" in text:
            body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
            out |= {body[i : i + 40] for i in range(0, len(body) - 40, 40)}
        elif re.fullmatch(r"[0-9a-f]{64,}\s*", text):
            out.add(text.strip())
    return out


def _rows(ctx: Context, table: str, columns: str = "*") -> str:
    with ctx.engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {columns} FROM {table}"))
        return repr([dict(r._mapping) for r in rows])


def _batch(ctx: Context, tmp_path: Path, channel: RoutingChannel, secrets: Secrets) -> None:
    path = write_demo_csv(tmp_path / "readings.csv", customers=6, period=parse_period("2026-10"))
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            secrets.add_person(row["name"], row["phone"], row["email"])
    summary = run_batch(
        path,
        "2026-10",
        ctx=ctx,
        options=BatchOptions(workers=0, deliver=True, channel=channel),
    )
    assert summary.issued == 6
    assert summary.deliveries["sent"] >= 6


def _sms_code(gateway: Gateway) -> str:
    text = gateway.delivered[-1].json()["text"]
    found = re.search(r"(?<![\w-])(\d{6})(?!\w)", text)
    assert found is not None
    return found.group(1)


def _mail_code(server: SmtpServer) -> str:
    raw = server.handler.envelopes[-1].content
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"\n\s+(\d{6})\s*\n", body.get_content())
    assert found is not None
    return found.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


@pytest.fixture
def channel(smtp_server: SmtpServer, sms_gateway: Gateway) -> Iterator[RoutingChannel]:
    """E-mail through the loopback aiosmtpd (STARTTLS, AUTH), SMS through the webhook gateway."""
    routing = RoutingChannel(
        email=SmtpChannel(
            smtp_server.host,
            smtp_server.port,
            mail_from="hopdong@evservice.example",
            username=smtp_server.user,
            password=smtp_server.password,
            ssl_context=smtp_server.tls.client_context(),
            timeout=5.0,
        ),
        sms=WebhookSmsChannel(sms_gateway.webhook_url, secret=WEBHOOK_SECRET),
    )
    with routing:
        yield routing


def test_no_secret_in_logs_audit_outbox_or_errors(
    ctx: Context,
    clock: ManualClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    smtp_server: SmtpServer,
    sms_gateway: Gateway,
    channel: RoutingChannel,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)
    ctx = Context(settings=ctx.settings.model_copy(update=SELLER), clock=clock)
    secrets = Secrets()
    secrets.add_person(CUSTOMER["name"], CUSTOMER["phone"], CUSTOMER["email"])
    secrets.add_person(PROVIDER["representative"], None, PROVIDER["representative_email"])
    errors: list[EvServiceError] = []

    def refused(kind: type[EvServiceError], call: Callable[[], object]) -> None:
        with pytest.raises(kind) as info:
            call()
        errors.append(info.value)

    _batch(ctx, tmp_path, channel, secrets)

    # A contract signed by SMS (one wrong code first), countersigned by e-mail.
    first = contracts.create(_draft("leak-1"), ctx=ctx)
    asked = contracts.request_consent(first.id, channel="sms", delivery=channel, ctx=ctx)
    code = _sms_code(sms_gateway)
    secrets.codes |= {code, _wrong(code)}
    refused(CodeMismatch, lambda: contracts.confirm(asked.challenge_id, _wrong(code), ctx=ctx))
    contracts.confirm(asked.challenge_id, code, ctx=ctx)
    rep = contracts.request_consent(first.id, channel="email", delivery=channel, ctx=ctx)
    mail_code = _mail_code(smtp_server)
    secrets.codes.add(mail_code)
    assert contracts.confirm(rep.challenge_id, mail_code, ctx=ctx).status is ContractStatus.SEALED

    # Another signed with the authenticator apps: wrong, replayed, right, and a recovery code.
    apps = {}
    for holder, kind in (("PD0777", "customer"), ("NV-0777", "representative")):
        new = otp.enrol_totp(holder, kind=kind, ctx=ctx)
        enrol_code = otp.totp_code(new.secret, clock.now())
        recovery = otp.confirm_enrolment(new.enrolment.id, enrol_code, ctx=ctx)
        apps[kind] = (new.secret, enrol_code, recovery)
        secrets.codes |= {enrol_code, *recovery, *(r.replace("-", "") for r in recovery)}
        secrets.plain |= {new.secret, new.secret.lower(), base64.b32decode(new.secret).hex()}
        secrets.plain.add(new.uri)
    second = contracts.create(_draft("leak-2"), ctx=ctx)
    asked = contracts.request_consent(second.id, channel="totp", ctx=ctx)
    secret, enrol_code, _ = apps["customer"]
    refused(CodeReused, lambda: contracts.confirm(asked.challenge_id, enrol_code, ctx=ctx))
    refused(
        CodeMismatch, lambda: contracts.confirm(asked.challenge_id, _wrong(enrol_code), ctx=ctx)
    )
    secrets.codes.add(_wrong(enrol_code))
    clock.advance(30)
    app_code = otp.totp_code(secret, clock.now())
    secrets.codes.add(app_code)
    contracts.confirm(asked.challenge_id, app_code, ctx=ctx)
    rep = contracts.request_consent(second.id, channel="totp", ctx=ctx)
    _, _, recovery = apps["representative"]
    sealed = contracts.confirm(rep.challenge_id, recovery[0], ctx=ctx)
    assert sealed.status is ContractStatus.SEALED
    refused(
        CodeMismatch,
        lambda: otp.confirm_enrolment(
            otp.enrol_totp("PD0778", ctx=ctx).enrolment.id, "000000", ctx=ctx
        ),
    )

    secrets.plain |= _key_material(ctx)
    # aiosmtpd's own log ("mail.log") is the test's mail server, standing in for the provider's.
    logs = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("mail.")
    )
    assert "evservice.otp" in logs  # the capture worked
    assert "sqlalchemy.engine" in logs  # every logger, SQL included
    leaks = {
        (r.name, tuple(secrets.found_in(r.getMessage()))[:2])
        for r in caplog.records
        if not r.name.startswith("mail.") and secrets.found_in(r.getMessage())
    }
    assert leaks == set()
    assert secrets.found_in(logs) == []
    for error in errors:
        assert secrets.found_in(str(error)) == [], error
    # The audit log, and the OTP domain's own tables (contract and invoice rows hold names and
    # contacts by design: their encryption at rest is the privacy package's work).
    for table in (
        "audit_event",
        "audit_queue",
        "otp_challenge",
        "otp_send",
        "otp_totp_enrolment",
        "otp_totp_recovery",
    ):
        assert secrets.found_in(_rows(ctx, table)) == [], table
    metadata = _rows(
        ctx,
        "delivery_outbox",
        "id, kind, to_masked, attachments_json, tags_json, status, channel, provider_id, "
        "last_error",
    )
    assert "***" in metadata
    assert secrets.found_in(metadata) == []
    listing = repr(list_outbox(ctx, limit=500))
    assert secrets.found_in(listing) == []
