"""What the customer portal needs of a contract: find it by challenge, send the code again.

The portal knows a signer only by the challenge id in its signed link; it
never sees the phone number or e-mail address, which stay in the contract's
draft and go straight to the channel here.
"""

from __future__ import annotations

from typing import Literal

from sqlmodel import Session, col, select

from evservice._context import Context, resolve
from evservice.contracts._destination import destination as _destination
from evservice.contracts._link import portal_link
from evservice.contracts._model import Contract, SignerRole
from evservice.contracts._service import _contract, _row, paths
from evservice.contracts._tables import ContractSignerRow
from evservice.delivery import Attachment, Channel, channel_from_settings
from evservice.errors import NotFoundError
from evservice.otp import Challenge, get_challenge, resend_challenge
from evservice.store import transaction

__all__ = ["for_challenge", "resend_consent"]


def _signer(session: Session, challenge_id: str) -> ContractSignerRow:
    signer = session.exec(
        select(ContractSignerRow).where(col(ContractSignerRow.challenge_id) == challenge_id)
    ).first()
    if signer is None:
        raise NotFoundError(f"no contract waits for challenge {challenge_id!r}")
    return signer


def for_challenge(challenge_id: str, *, ctx: Context | None = None) -> tuple[Contract, SignerRole]:
    """The contract a challenge was sent for, and the role of its signer."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        signer = _signer(session, challenge_id)
        return _contract(_row(session, signer.contract_id), ctx), SignerRole(signer.role)


def resend_consent(
    challenge_id: str,
    *,
    delivery: Channel | None = None,
    locale: Literal["vi", "en"] = "vi",
    ctx: Context | None = None,
) -> Challenge:
    """Send the signer a fresh code for the same challenge (after its cooldown, within caps).

    The code goes to the destination the challenge was made for (taken from
    the contract, never from the caller), with a fresh portal link; wrong
    tries are not reset. Raises RateLimited (with ``retry_after``) during the
    cooldown or past the caps, ChallengeLocked or ChallengeUsed for a dead one.
    """
    ctx = resolve(ctx)
    current = get_challenge(challenge_id, ctx)
    with transaction(ctx.engine) as session:
        signer = _signer(session, current.id)
        contract = _contract(_row(session, signer.contract_id), ctx)
    destination = _destination(contract, SignerRole(signer.role), current.channel)
    attachments = (
        [
            Attachment(
                f"{contract.number}.pdf",
                "application/pdf",
                paths(contract, ctx)["shown_pdf"].read_bytes(),
            )
        ]
        if current.channel == "email"
        else []
    )
    return resend_challenge(
        current.id,
        delivery or channel_from_settings(ctx.settings, clock=ctx.clock),
        destination=destination,
        document_label=contract.number,
        locale=locale,
        attachments=attachments,
        ctx=ctx,
        link=lambda challenge: portal_link(challenge.id, ctx),
    )
