"""The whole consent flow on both back ends: create, codes, order, seal, evidence, audit."""

from __future__ import annotations

import logging
import re
import subprocess

import pytest

import evservice
from evservice import audit, contracts
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.contracts import ClientInfo, ContractDraft, ContractStatus
from evservice.delivery import MemoryChannel, Message
from evservice.errors import (
    ChallengeUsed,
    CodeMismatch,
    DocumentChanged,
    LifecycleError,
    NotFoundError,
    ValidationError,
)

CLIENT = ClientInfo(ip="203.0.113.7", user_agent="Mozilla/5.0 (Android 14) Zalo")


def _code(message: Message) -> str:
    # Six digits standing alone (not the tail of the contract number HD2026-000001).
    match = re.search(r"(?<![\w-])(\d{6})(?!\w)", message.text)
    assert match is not None
    return match.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_full_flow_seals_a_verifiable_contract(
    ctx: Context, clock: ManualClock, electricity_draft: ContractDraft
) -> None:
    channel = MemoryChannel()
    contract = contracts.create(electricity_draft, ctx=ctx)
    assert contract.number == "HD2026-000001"
    assert contract.status is ContractStatus.DRAFT
    assert contracts.create(electricity_draft, ctx=ctx).id == contract.id  # same reference

    # Signers sign in order: until the customer confirms, every code goes to the customer.
    first = contracts.request_consent(contract.id, channel="sms", delivery=channel, ctx=ctx)
    assert first.role is contracts.SignerRole.CUSTOMER
    clock.advance(61)  # past the resend cooldown
    asked = contracts.request_consent(contract.id, channel="sms", delivery=channel, ctx=ctx)
    assert asked.role is contracts.SignerRole.CUSTOMER
    with pytest.raises(NotFoundError):  # only the newest code counts
        contracts.confirm(first.challenge_id, _code(channel.sent[0]), ctx=ctx)
    assert asked.destination_masked == "+84 *** *** 678"
    sms = channel.sent[-1]
    assert sms.kind == "sms"
    assert "HD2026-000001" in sms.text
    assert len(sms.text) <= 160
    assert contracts.get(contract.id, ctx=ctx).status is ContractStatus.SENT

    clock.advance(30)
    with pytest.raises(CodeMismatch):
        contracts.confirm(asked.challenge_id, _wrong(_code(sms)), client=CLIENT, ctx=ctx)
    consented = contracts.confirm(asked.challenge_id, _code(sms), client=CLIENT, ctx=ctx)
    assert consented.status is ContractStatus.CONSENTED
    with pytest.raises(ChallengeUsed):
        contracts.confirm(asked.challenge_id, _code(sms), client=CLIENT, ctx=ctx)

    # Now the representative, by e-mail only.
    with pytest.raises(ValidationError) as err:
        contracts.request_consent(contract.id, channel="sms", delivery=channel, ctx=ctx)
    assert err.value.field == "channel"
    rep = contracts.request_consent(contract.id, channel="email", delivery=channel, ctx=ctx)
    mail = channel.sent[-1]
    assert mail.kind == "email"
    assert [a.filename for a in mail.attachments] == ["HD2026-000001.pdf"]
    clock.advance(60)
    sealed = contracts.confirm(rep.challenge_id, _code(mail), ctx=ctx)
    assert sealed.status is ContractStatus.SEALED
    assert sealed.final_sha256 is not None

    final = contracts.paths(sealed, ctx)["final_pdf"]
    report = evservice.verify(final, ctx=ctx)
    assert report.ok, report.text()
    assert report.embedded_xml is not None
    assert report.embedded_xml.document == "contract"
    text = subprocess.run(
        ["pdftotext", str(final), "-"], capture_output=True, check=True, text=True
    ).stdout
    assert "TRANG CHỨNG CỨ GIAO KẾT ĐIỆN TỬ" in text
    assert "+84 *** *** 678" in text
    assert "203.0.113.7" in text
    assert asked.challenge_id in text
    assert "0912345678" not in text.replace(" ", "")  # only the masked destination

    # Every step is in the audit log, with no raw contact details.
    problems = audit.verify_log(ctx)
    assert problems.ok
    bundle = audit.prove_subject(contract.id, ctx)
    result = audit.verify_bundle(bundle, audit.log_public_key_string(ctx.settings))
    assert result.ok
    types = [e.type for e in result.events]
    assert types == [
        "contract.created",
        "contract.sent",
        "contract.sent",
        "contract.consented",
        "contract.sent",
        "contract.countersigned",
        "contract.sealed",
    ]
    # The challenge's own story is under its id: sent, a wrong try, confirmed.
    otp_bundle = audit.prove_subject(asked.challenge_id, ctx)
    otp_events = audit.verify_bundle(otp_bundle, audit.log_public_key_string(ctx.settings))
    assert [e.type for e in otp_events.events] == ["otp.sent", "otp.failed", "otp.confirmed"]
    assert b"0912345678" not in otp_bundle
    assert b"0912345678" not in bundle
    assert b"anh.tran@example.com" not in bundle


def test_a_changed_document_makes_the_code_worthless(
    ctx: Context, electricity_draft: ContractDraft
) -> None:
    channel = MemoryChannel()
    contract = contracts.create(electricity_draft, ctx=ctx)
    asked = contracts.request_consent(contract.id, channel="sms", delivery=channel, ctx=ctx)
    code = _code(channel.sent[-1])
    changed = electricity_draft.model_copy(
        update={"terms": electricity_draft.terms.model_copy(update={"households": 3})}
    )
    amended = contracts.amend(contract.id, changed, ctx=ctx)
    assert amended.document_sha256 != contract.document_sha256
    assert amended.status is ContractStatus.DRAFT
    with pytest.raises(DocumentChanged):
        contracts.confirm(asked.challenge_id, code, ctx=ctx)


def test_decline_void_and_illegal_moves(ctx: Context, electricity_draft: ContractDraft) -> None:
    channel = MemoryChannel()
    first = contracts.create(electricity_draft, ctx=ctx)
    contracts.request_consent(first.id, channel="email", delivery=channel, ctx=ctx)
    declined = contracts.decline(first.number, reason="Khách hàng không đồng ý", ctx=ctx)
    assert declined.status is ContractStatus.DECLINED
    with pytest.raises(LifecycleError):
        contracts.request_consent(first.id, channel="sms", delivery=channel, ctx=ctx)
    with pytest.raises(LifecycleError):
        contracts.void(first.id, reason="too late", ctx=ctx)

    second = contracts.create(electricity_draft.model_copy(update={"reference": "elec-2"}), ctx=ctx)
    asked = contracts.request_consent(second.id, channel="sms", delivery=channel, ctx=ctx)
    contracts.void(second.id, reason="Sai địa chỉ lắp đặt", ctx=ctx)
    with pytest.raises(LifecycleError):  # the code no longer signs anything
        contracts.confirm(asked.challenge_id, _code(channel.sent[-1]), ctx=ctx)
    with pytest.raises(ValidationError) as err:
        contracts.decline(second.id, reason="  ", ctx=ctx)
    assert err.value.field == "reason"


def test_internet_contract_carries_a_payment_code(
    sqlite_ctx: Context, internet_draft: ContractDraft
) -> None:
    contract = contracts.create(internet_draft, ctx=sqlite_ctx)
    with pytest.raises(ValidationError) as err:
        contracts.request_consent(
            contract.id, channel="sms", delivery=MemoryChannel(), ctx=sqlite_ctx
        )
    assert err.value.field == "channel"  # no phone number: the e-mail it is
    assert contracts.paths(contract, sqlite_ctx)["shown_pdf"].exists()


def test_logs_hold_no_code_and_no_contact(
    sqlite_ctx: Context, electricity_draft: ContractDraft, caplog: pytest.LogCaptureFixture
) -> None:
    channel = MemoryChannel()
    caplog.set_level(logging.DEBUG)
    contract = contracts.create(electricity_draft, ctx=sqlite_ctx)
    asked = contracts.request_consent(contract.id, channel="sms", delivery=channel, ctx=sqlite_ctx)
    code = _code(channel.sent[-1])
    contracts.confirm(asked.challenge_id, code, client=CLIENT, ctx=sqlite_ctx)
    logged = caplog.text
    assert code not in logged
    assert "912345678" not in logged
    assert "anh.tran@example.com" not in logged
