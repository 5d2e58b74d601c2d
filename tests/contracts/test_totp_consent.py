"""Contracts signed with authenticator apps: the customer consents, the representative signs."""

from __future__ import annotations

import json

import pytest

import evservice
from evservice import audit, contracts, otp
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.contracts import ContractDraft, ContractStatus, SignerRole
from evservice.delivery import MemoryChannel
from evservice.errors import CodeMismatch, CodeReused, NotFoundError, ValidationError


def _with_codes(draft: ContractDraft) -> ContractDraft:
    return draft.model_copy(
        update={
            "customer": draft.customer.model_copy(update={"customer_code": "PD0123"}),
            "provider": draft.provider.model_copy(update={"representative_code": "NV-0007"}),
        }
    )


def _enrol(ctx: Context, holder: str, kind: str) -> tuple[str, list[str]]:
    new = otp.enrol_totp(holder, kind=kind, ctx=ctx)
    codes = otp.confirm_enrolment(
        new.enrolment.id, otp.totp_code(new.secret, ctx.clock.now()), ctx=ctx
    )
    return new.secret, codes


def test_both_signers_with_their_apps(
    ctx: Context, clock: ManualClock, electricity_draft: ContractDraft
) -> None:
    customer_secret, _ = _enrol(ctx, "PD0123", "customer")
    _, rep_recovery = _enrol(ctx, "NV-0007", "representative")
    contract = contracts.create(_with_codes(electricity_draft), ctx=ctx)
    channel = MemoryChannel()

    asked = contracts.request_consent(contract.id, channel="totp", delivery=channel, ctx=ctx)
    assert channel.sent == []  # nothing is sent for the app
    assert asked.role is SignerRole.CUSTOMER
    assert asked.channel == "totp"
    assert asked.destination_masked.startswith("authenticator app ")
    assert asked.link is not None
    assert asked.link.startswith("http://127.0.0.1:8000/c/")
    with pytest.raises(CodeReused):  # the enrolment's own code was used
        contracts.confirm(asked.challenge_id, otp.totp_code(customer_secret, clock.now()), ctx=ctx)
    clock.advance(30)
    consented = contracts.confirm(
        asked.challenge_id, otp.totp_code(customer_secret, clock.now()), ctx=ctx
    )
    assert consented.status is ContractStatus.CONSENTED

    rep = contracts.request_consent(contract.id, channel="totp", ctx=ctx)
    assert rep.role is SignerRole.REPRESENTATIVE
    with pytest.raises(CodeMismatch):  # the customer's app is not the representative's
        contracts.confirm(rep.challenge_id, otp.totp_code(customer_secret, clock.now()), ctx=ctx)
    sealed = contracts.confirm(rep.challenge_id, rep_recovery[0], ctx=ctx)
    assert sealed.status is ContractStatus.SEALED

    report = evservice.verify(contracts.paths(sealed, ctx)["final_pdf"], ctx=ctx)
    assert report.ok, report.text()
    evidence = json.loads(contracts.paths(sealed, ctx)["evidence_json"].read_text())
    assert [s["channel"] for s in evidence["signers"]] == ["totp", "totp"]
    bundle = audit.prove_subject(contract.id, ctx)
    events = audit.verify_bundle(bundle, audit.log_public_key_string(ctx.settings)).events
    signed = {e.type: e.data for e in events if e.type.startswith("contract.c")}
    assert signed["contract.consented"]["method"] == "totp"
    assert signed["contract.countersigned"]["method"] == "recovery"
    assert rep_recovery[0] not in bundle.decode()
    assert rep_recovery[0].replace("-", "") not in bundle.decode()


def test_the_app_channel_needs_an_enrolled_holder(
    ctx: Context, electricity_draft: ContractDraft
) -> None:
    plain = contracts.create(electricity_draft, ctx=ctx)
    with pytest.raises(ValidationError) as err:
        contracts.request_consent(plain.id, channel="totp", ctx=ctx)
    assert err.value.field == "customer.customer_code"
    coded = contracts.create(
        _with_codes(electricity_draft).model_copy(update={"reference": "elec-2"}), ctx=ctx
    )
    with pytest.raises(NotFoundError):  # no app enrolled under PD0123
        contracts.request_consent(coded.id, channel="totp", ctx=ctx)
    assert contracts.get(coded.id, ctx=ctx).status is ContractStatus.DRAFT


def test_the_representative_may_mix_channels(
    ctx: Context, clock: ManualClock, electricity_draft: ContractDraft
) -> None:
    secret, _ = _enrol(ctx, "NV-0007", "representative")
    contract = contracts.create(_with_codes(electricity_draft), ctx=ctx)
    channel = MemoryChannel()
    contracts.request_consent(contract.id, channel="sms", delivery=channel, ctx=ctx)
    code = next(
        w
        for w in channel.sent[-1].text.split()
        if w.rstrip(".").isdigit() and len(w.rstrip(".")) == 6
    )
    first = contracts.signers(contract.id, ctx=ctx)[0]["challenge_id"]
    contracts.confirm(first, code.rstrip("."), ctx=ctx)
    with pytest.raises(ValidationError):
        contracts.request_consent(contract.id, channel="sms", ctx=ctx)
    rep = contracts.request_consent(contract.id, channel="totp", ctx=ctx)
    clock.advance(30)
    sealed = contracts.confirm(rep.challenge_id, otp.totp_code(secret, clock.now()), ctx=ctx)
    assert sealed.status is ContractStatus.SEALED
