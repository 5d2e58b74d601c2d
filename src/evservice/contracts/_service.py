"""The contract service: create, ask for consent by OTP, confirm, countersign, seal.

Signers sign in order: the customer first (a code by SMS or e-mail, or the
code of an enrolled authenticator app: channel ``totp``, nothing sent), then the
provider's representative (a code by e-mail, or the app); then the provider seals the final
PDF (the contract, the evidence page, and as attachments the exact PDF the
customer saw, the contract XML and the evidence as JSON) with a PAdES
signature. Every transition is checked by the lifecycle and appended to the
audit log in the same transaction as the change.

Documents live under ``data_dir/contracts/<year>/<number>/``: ``shown.pdf``
(what the codes are bound to), ``contract.xml``, ``final.pdf`` (sealed) and
``evidence.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from sqlmodel import Session, col, select

from evservice import audit, privacy
from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice._pydantic import parse_model
from evservice.clock import vn_date
from evservice.contracts._destination import destination as _destination
from evservice.contracts._evidence import evidence_of
from evservice.contracts._lifecycle import check_transition
from evservice.contracts._link import portal_link
from evservice.contracts._model import (
    Contract,
    ContractDraft,
    ContractStatus,
    SignerRole,
    format_contract_number,
)
from evservice.contracts._pdf import render_contract_pdf
from evservice.contracts._sealed import open_draft, seal_draft, seal_signer_name, signer_name
from evservice.contracts._tables import ContractCounter, ContractRow, ContractSignerRow
from evservice.contracts._xml import contract_to_xml
from evservice.delivery import Attachment, Channel, channel_from_settings
from evservice.errors import DocumentChanged, LifecycleError, NotFoundError, ValidationError
from evservice.otp import Challenge, VerifiedConsent, open_totp_challenge, send_challenge
from evservice.otp import verify as verify_code
from evservice.store import insert_if_absent, transaction

__all__ = [
    "ClientInfo",
    "ConsentRequest",
    "amend",
    "confirm",
    "create",
    "decline",
    "expire_stale",
    "get",
    "paths",
    "request_consent",
    "seal",
    "signers",
    "void",
]

log = logging.getLogger("evservice.contracts")

_S = ContractStatus
_PURPOSE = {SignerRole.CUSTOMER: "contract.sign", SignerRole.REPRESENTATIVE: "contract.sign"}
_NEXT_STATUS = {SignerRole.CUSTOMER: _S.CONSENTED, SignerRole.REPRESENTATIVE: _S.COUNTERSIGNED}
_ASKING_STATUS = {
    SignerRole.CUSTOMER: (_S.DRAFT, _S.SENT),
    SignerRole.REPRESENTATIVE: (_S.CONSENTED,),
}


@dataclass(frozen=True)
class ClientInfo:
    """Where a confirmation came from; both optional, both on the evidence page."""

    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class ConsentRequest:
    """A code was sent: to whom (masked), by which channel, until when."""

    contract_id: str
    number: str
    role: SignerRole
    challenge_id: str
    channel: str
    destination_masked: str
    expires_at: datetime
    #: The signer's page on the portal (for ``totp``, where nothing carries it); or None.
    link: str | None = None


# -- reading -----------------------------------------------------------------------


def _row(session: Session, key: str, *, lock: bool = False) -> ContractRow:
    query = select(ContractRow).where(
        (col(ContractRow.id) == key) | (col(ContractRow.number) == key.strip().upper())
    )
    if lock:
        query = query.with_for_update()
    row = session.exec(query.execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFoundError(f"no contract {key!r}")
    return row


def _contract(row: ContractRow, ctx: Context) -> Contract:
    return Contract(
        id=row.id,
        number=row.number,
        draft=ContractDraft.model_validate_json(open_draft(privacy.keyring(ctx), row)),
        status=ContractStatus(row.status),
        created_at=row.created_at,
        document_sha256=row.shown_sha256,
        final_sha256=row.final_sha256,
    )


def _signers(session: Session, contract_id: str, *, lock: bool = False) -> list[ContractSignerRow]:
    query = (
        select(ContractSignerRow)
        .where(col(ContractSignerRow.contract_id) == contract_id)
        .order_by(col(ContractSignerRow.position))
    )
    if lock:
        query = query.with_for_update()
    return list(session.exec(query.execution_options(populate_existing=True)))


def get(key: str, *, ctx: Context | None = None) -> Contract:
    """A contract by id or number."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        return _contract(_row(session, key), ctx)


def signers(key: str, *, ctx: Context | None = None) -> list[dict[str, Any]]:
    """The signers in order, with what is known of their signature (masked)."""
    ctx = resolve(ctx)
    keys = privacy.keyring(ctx)
    with transaction(ctx.engine) as session:
        row = _row(session, key)
        return [
            {
                "position": s.position,
                "role": s.role,
                "name": signer_name(keys, s),
                "channel": s.channel,
                "destination": s.destination_masked,
                "challenge_id": s.challenge_id,
                "sent_at": s.sent_at.isoformat() if s.sent_at else None,
                "signed_at": s.signed_at.isoformat() if s.signed_at else None,
            }
            for s in _signers(session, row.id)
        ]


def paths(contract: Contract, ctx: Context | None = None) -> dict[str, Path]:
    """Where the documents of ``contract`` are (or will be) on disk."""
    folder = _folder(contract.number)
    root = resolve(ctx).data_dir
    return {
        name: root / folder / f"{name.replace('_', '.')}"
        for name in ("shown_pdf", "contract_xml", "final_pdf", "evidence_json")
    }


def _folder(number: str) -> PurePosixPath:
    return PurePosixPath("contracts", number[2:6], number)


# -- documents ------------------------------------------------------------------------


def _verify_payload(contract: Contract, xml_sha256: str, ctx: Context) -> str:
    base = ctx.settings.lookup_url.rstrip("/")
    return f"{base}/hop-dong/{contract.number}?sha256={xml_sha256}"


def _pay_payload(contract: Contract, ctx: Context) -> str | None:
    """A VietQR for what is due on signing, to the provider's account (or the settings')."""
    from evservice.payments import vietqr

    amount = contract.draft.amount_due
    if amount <= 0:
        return None
    account = contract.draft.provider.payment
    bank_bin = account.bank_bin if account else ctx.settings.payee_bank_bin
    number = account.account if account else ctx.settings.payee_account
    if not bank_bin or not number:
        raise ValidationError(
            "provider.payment", "an amount is due on signing but no bank account is known"
        )
    return vietqr(
        bank_bin,
        number,
        amount=amount,
        bill_number=contract.number,
        purpose=f"HD {contract.number}",
    )


def _render_shown(contract: Contract, ctx: Context) -> tuple[bytes, bytes]:
    xml = contract_to_xml(contract)
    verify = _verify_payload(contract, hashlib.sha256(xml).hexdigest(), ctx)
    pdf = render_contract_pdf(
        contract, verify_payload=verify, pay_payload=_pay_payload(contract, ctx)
    )
    return xml, pdf


def _store_documents(row: ContractRow, contract: Contract, ctx: Context) -> None:
    xml, pdf = _render_shown(contract, ctx)
    where = paths(contract, ctx)
    write_atomically(where["contract_xml"], xml)
    write_atomically(where["shown_pdf"], pdf)
    row.shown_pdf_path = str(_folder(contract.number) / "shown.pdf")
    row.shown_sha256 = hashlib.sha256(pdf).hexdigest()
    row.xml_sha256 = hashlib.sha256(xml).hexdigest()


# -- creating --------------------------------------------------------------------------


def _next_number(session: Session, year: int) -> str:
    insert_if_absent(session, ContractCounter.__table__, {"year": year, "last_number": 0})  # type: ignore[attr-defined]
    counter = session.exec(
        select(ContractCounter)
        .where(col(ContractCounter.year) == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    counter.last_number += 1
    session.add(counter)
    return format_contract_number(year, counter.last_number)


def _event(
    session: Session, ctx: Context, type_: str, row: ContractRow, actor: str, **data: Any
) -> audit.AuditRecord:
    return audit.record(
        session,
        type=type_,
        subject=row.id,
        actor=actor,
        at=ctx.clock.now(),
        data={"contract": row.number, **data},
    )


def create(draft: ContractDraft | dict[str, Any] | str, *, ctx: Context | None = None) -> Contract:
    """Number the contract, render the document shown and store it (status ``draft``).

    Idempotent on ``draft.reference``: the same reference gives back the same contract.
    """
    ctx = resolve(ctx)
    draft = parse_model(ContractDraft, draft)
    with transaction(ctx.engine) as session:
        if draft.reference is not None:
            existing = session.exec(
                select(ContractRow).where(col(ContractRow.reference) == draft.reference)
            ).first()
            if existing is not None:
                return _contract(existing, ctx)
        now = ctx.clock.now()
        row = ContractRow(
            id=str(uuid.uuid4()),
            number=_next_number(session, vn_date(now).year),
            kind=draft.kind.value,
            status=_S.DRAFT.value,
            reference=draft.reference,
            draft_json=draft.model_dump_json(),
            created_at=now,
            updated_at=now,
        )
        keys = privacy.keyring(ctx)
        conn = session.connection()
        seal_draft(keys, conn, row, draft)
        contract = _contract(row, ctx)
        _store_documents(row, contract, ctx)
        session.add(row)
        session.add(
            ContractSignerRow(
                contract_id=row.id,
                position=1,
                role=SignerRole.CUSTOMER.value,
                name=seal_signer_name(keys, conn, row, 1, draft.customer.name, draft),
            )
        )
        session.add(
            ContractSignerRow(
                contract_id=row.id,
                position=2,
                role=SignerRole.REPRESENTATIVE.value,
                name=seal_signer_name(keys, conn, row, 2, draft.provider.representative, draft),
            )
        )
        session.flush()
        _event(
            session,
            ctx,
            "contract.created",
            row,
            "system",
            kind=row.kind,
            document_sha256=row.shown_sha256,
            xml_sha256=row.xml_sha256,
        )
    log.info("contract %s created (%s)", row.number, row.kind)
    return _contract(row, ctx)


def amend(
    key: str, draft: ContractDraft | dict[str, Any] | str, *, ctx: Context | None = None
) -> Contract:
    """Replace the terms of a contract nobody has signed yet; earlier codes then confirm nothing.

    The number stays; the document shown is rendered again, so its SHA-256
    changes and a code sent for the old document fails with DocumentChanged.
    """
    ctx = resolve(ctx)
    draft = parse_model(ContractDraft, draft)
    with transaction(ctx.engine) as session:
        row = _row(session, key, lock=True)
        check_transition(row.status, _S.DRAFT)
        if draft.reference != row.reference:
            raise ValidationError("reference", "an amendment keeps the contract's reference")
        old_sha = row.shown_sha256
        row.draft_json = draft.model_dump_json()
        seal_draft(privacy.keyring(ctx), session.connection(), row, draft)
        row.status = _S.DRAFT.value
        row.updated_at = ctx.clock.now()
        _store_documents(row, _contract(row, ctx), ctx)
        session.add(row)
        _event(
            session,
            ctx,
            "contract.amended",
            row,
            "operator",
            old_document_sha256=old_sha,
            document_sha256=row.shown_sha256,
        )
    return _contract(row, ctx)


# -- consent -----------------------------------------------------------------------------


def _next_signer(rows: Sequence[ContractSignerRow]) -> ContractSignerRow | None:
    return next((s for s in rows if s.signed_at is None), None)


def request_consent(
    key: str,
    *,
    channel: Literal["sms", "email", "totp"] = "sms",
    delivery: Channel | None = None,
    locale: Literal["vi", "en"] = "vi",
    ctx: Context | None = None,
) -> ConsentRequest:
    """Send a code to the next signer for the document shown; the customer comes first.

    The customer gets it by ``sms`` or ``email`` (an e-mail carries the PDF);
    once the customer has consented, the same call sends the representative's
    code by e-mail. ``delivery`` defaults to what the settings configure. The
    message links to the signer's page on the customer portal (:func:`portal_link`,
    when ``settings.portal_url`` is set). With ``totp`` (customer or
    representative) nothing is sent: the signer types the code of the app
    enrolled under ``customer.customer_code`` / ``provider.representative_code``
    on the page :attr:`ConsentRequest.link` names.
    """
    ctx = resolve(ctx)
    if channel not in ("sms", "email", "totp"):
        raise ValidationError("channel", "must be sms, email or totp")
    with transaction(ctx.engine) as session:
        row = _row(session, key)
        contract = _contract(row, ctx)
        signer = _next_signer(_signers(session, row.id))
    if signer is None or contract.document_sha256 is None:
        raise LifecycleError("contract", contract.status.value, "sent")
    role = SignerRole(signer.role)
    if contract.status not in _ASKING_STATUS[role]:
        raise LifecycleError("contract", contract.status.value, _NEXT_STATUS[role].value)
    destination = _destination(contract, role, channel)
    shown = paths(contract, ctx)["shown_pdf"]
    attachments = (
        [Attachment(f"{contract.number}.pdf", "application/pdf", shown.read_bytes())]
        if channel == "email"
        else []
    )

    def _on_created(session: Session, challenge: Challenge) -> None:
        row = _row(session, contract.id, lock=True)
        if row.status != contract.status.value or row.shown_sha256 != contract.document_sha256:
            raise LifecycleError("contract", row.status, "sent")  # changed meanwhile
        locked = next(s for s in _signers(session, row.id, lock=True) if s.id == signer.id)
        locked.channel = challenge.channel
        locked.destination_masked = challenge.destination_masked
        locked.challenge_id = challenge.id
        locked.sent_at = challenge.created_at
        session.add(locked)
        if role is SignerRole.CUSTOMER:
            row.status = check_transition(row.status, _S.SENT).value
        row.updated_at = ctx.clock.now()
        session.add(row)
        _event(
            session,
            ctx,
            "contract.sent",
            row,
            "system",
            role=role.value,
            challenge=challenge.id,
            channel=challenge.channel,
            destination=challenge.destination_masked,
            document_sha256=challenge.document_sha256,
        )

    if channel == "totp":
        challenge = open_totp_challenge(
            ctx,
            subject=f"contract:{contract.number}",
            document_sha256=contract.document_sha256,
            holder=destination,
            kind=role.value,
            purpose=_PURPOSE[role],
            on_created=_on_created,
        )
    else:
        challenge = _send(
            contract, role, channel, destination, attachments, delivery, locale, ctx, _on_created
        )
    return ConsentRequest(
        contract_id=contract.id,
        number=contract.number,
        role=role,
        challenge_id=challenge.id,
        channel=challenge.channel,
        destination_masked=challenge.destination_masked,
        expires_at=challenge.expires_at,
        link=portal_link(challenge.id, ctx),
    )


def _send(
    contract: Contract,
    role: SignerRole,
    channel: str,
    destination: str,
    attachments: list[Attachment],
    delivery: Channel | None,
    locale: str,
    ctx: Context,
    on_created: Callable[[Session, Challenge], None],
) -> Challenge:
    return send_challenge(
        delivery or channel_from_settings(ctx.settings, clock=ctx.clock),
        subject=f"contract:{contract.number}",
        document_sha256=contract.document_sha256 or "",
        kind=channel,
        destination=destination,
        purpose=_PURPOSE[role],
        document_label=contract.number,
        locale=locale,
        attachments=attachments,
        ctx=ctx,
        on_created=on_created,
        link=lambda challenge: portal_link(challenge.id, ctx),
    )


def confirm(
    challenge_id: str,
    code: str,
    *,
    client: ClientInfo | None = None,
    document_sha256: str | None = None,
    ctx: Context | None = None,
) -> Contract:
    """Accept a signer's code; when the last signer has signed, seal the contract.

    ``document_sha256`` is the hash of the document the signer was shown (the
    portal sends the one it displayed): when it is not the contract's current
    document, :class:`DocumentChanged` is raised and no try is used.
    Raises the ConsentError family of the OTP (wrong, expired, used, locked,
    changed document) and LifecycleError when the contract moved on meanwhile
    (voided, or this challenge is not the signer's latest).
    """
    ctx = resolve(ctx)
    client = client or ClientInfo()
    with transaction(ctx.engine) as session:
        signer = session.exec(
            select(ContractSignerRow).where(col(ContractSignerRow.challenge_id) == challenge_id)
        ).first()
        if signer is None:
            raise NotFoundError(f"no contract waits for challenge {challenge_id!r}")
        row = _row(session, signer.contract_id)
    contract_id, role = row.id, SignerRole(signer.role)
    if document_sha256 is not None and document_sha256.strip().lower() != row.shown_sha256:
        raise DocumentChanged(
            f"contract {row.number} is not the document shown; this code confirms nothing"
        )

    def _on_confirmed(session: Session, consent: VerifiedConsent) -> None:
        row = _row(session, contract_id, lock=True)
        rows = _signers(session, contract_id, lock=True)
        current = _next_signer(rows)
        if current is None or current.challenge_id != consent.challenge_id:
            raise LifecycleError("contract", row.status, _NEXT_STATUS[role].value)
        row.status = check_transition(row.status, _NEXT_STATUS[role]).value
        row.updated_at = consent.confirmed_at
        kind = "contract.consented" if role is SignerRole.CUSTOMER else "contract.countersigned"
        signed = _event(
            session,
            ctx,
            kind,
            row,
            role.value,
            challenge=consent.challenge_id,
            document_sha256=consent.document_sha256,
            **({"method": consent.method} if consent.method else {}),
        )
        current.signed_at = consent.confirmed_at
        current.client_ip = consent.client_ip
        current.user_agent = consent.user_agent
        current.audit_event_ids = signed.id  # queued: sealing resolves it to its index
        session.add_all([row, current])

    verify_code(
        challenge_id,
        code,
        document_sha256=row.shown_sha256 or "",
        client_ip=client.ip,
        user_agent=client.user_agent,
        ctx=ctx,
        on_confirmed=_on_confirmed,
    )
    contract = get(contract_id, ctx=ctx)
    if contract.status is _S.COUNTERSIGNED:
        contract = seal(contract_id, ctx=ctx)
    return contract


# -- sealing -------------------------------------------------------------------------------


def seal(key: str, *, ctx: Context | None = None) -> Contract:
    """Add the evidence page and seal the final PDF with the provider's PAdES signature.

    Idempotent: a sealed contract is returned as it is; a crash before the
    status changed is repaired by calling it again.
    """
    from evservice.signing import load_signer, sign_pdf

    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = _row(session, key)
        rows = _signers(session, row.id)
    contract = _contract(row, ctx)
    if contract.status is _S.SEALED:
        return contract
    check_transition(contract.status, _S.SEALED)
    table, evidence = evidence_of(row, rows, ctx)
    where = paths(contract, ctx)
    shown = where["shown_pdf"].read_bytes()
    if hashlib.sha256(shown).hexdigest() != row.shown_sha256:
        raise LifecycleError("contract", row.status, "sealed (the stored shown.pdf was changed)")
    xml = where["contract_xml"].read_bytes()
    final = render_contract_pdf(
        contract,
        verify_payload=_verify_payload(contract, row.xml_sha256 or "", ctx),
        pay_payload=_pay_payload(contract, ctx),
        evidence=table,
    )
    evidence_json = json.dumps(evidence, ensure_ascii=False, indent=2).encode()
    sealed = sign_pdf(
        final,
        load_signer(ctx.settings),
        signing_time=ctx.clock.now(),
        attachments=[
            ("shown.pdf", "application/pdf", shown, "Source"),
            ("contract.xml", "application/xml", xml, "Source"),
            ("evidence.json", "application/json", evidence_json, "Supplement"),
        ],
        reason=f"Niêm phong hợp đồng {contract.number}",
        location=contract.draft.sign_place,
    )
    write_atomically(where["final_pdf"], sealed)
    write_atomically(where["evidence_json"], evidence_json)
    with transaction(ctx.engine) as session:
        row = _row(session, contract.id, lock=True)
        if row.status == _S.SEALED.value:
            return _contract(row, ctx)
        row.status = check_transition(row.status, _S.SEALED).value
        row.final_pdf_path = str(_folder(contract.number) / "final.pdf")
        row.final_sha256 = hashlib.sha256(sealed).hexdigest()
        row.updated_at = ctx.clock.now()
        session.add(row)
        _event(
            session,
            ctx,
            "contract.sealed",
            row,
            "system",
            document_sha256=row.shown_sha256,
            final_sha256=row.final_sha256,
        )
    log.info("contract %s sealed", contract.number)
    return _contract(row, ctx)


# -- dead ends ----------------------------------------------------------------------------------


def _finish(
    key: str, status: ContractStatus, event: str, actor: str, reason: str, ctx: Context | None
) -> Contract:
    ctx = resolve(ctx)
    reason = " ".join(str(reason).split())
    if not reason or len(reason) > 400:
        raise ValidationError("reason", "give a reason of 1 to 400 characters")
    with transaction(ctx.engine) as session:
        row = _row(session, key, lock=True)
        row.status = check_transition(row.status, status).value
        row.status_reason = reason
        row.updated_at = ctx.clock.now()
        session.add(row)
        _event(session, ctx, event, row, actor, reason=reason)
    return _contract(row, ctx)


def decline(key: str, *, reason: str, ctx: Context | None = None) -> Contract:
    """The customer (or the representative) refuses the contract."""
    return _finish(key, _S.DECLINED, "contract.declined", "customer", reason, ctx)


def void(key: str, *, reason: str, actor: str = "operator", ctx: Context | None = None) -> Contract:
    """The provider withdraws a contract that is not sealed yet."""
    return _finish(key, _S.VOIDED, "contract.voided", actor, reason, ctx)


def expire_stale(
    *, older_than: timedelta = timedelta(days=7), ctx: Context | None = None
) -> list[str]:
    """Mark ``sent`` contracts whose last code went out more than ``older_than`` ago as expired."""
    ctx = resolve(ctx)
    limit = ctx.clock.now() - older_than
    with transaction(ctx.engine) as session:
        stale = session.exec(
            select(ContractRow.id)
            .join(ContractSignerRow, col(ContractSignerRow.contract_id) == col(ContractRow.id))
            .where(col(ContractRow.status) == _S.SENT.value)
            .where(col(ContractSignerRow.position) == 1)
            .where(col(ContractSignerRow.sent_at) < limit)
        ).all()
    expired = []
    for contract_id in stale:
        expired.append(
            _finish(
                contract_id,
                _S.EXPIRED,
                "contract.expired",
                "system",
                f"no consent within {older_than.days} days",
                ctx,
            ).number
        )
    return expired
