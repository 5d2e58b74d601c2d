"""What the pages and the JSON API share: state of one portal and the operations behind them.

:class:`Portal` holds the context, the portal settings, the rate limiters and
the derived keys; its methods call the library only through public names
(contracts, otp, invoices, verification, audit) and return plain values the
HTML pages and the API render alike. Every "not there" (a bad link, an
unknown or mistyped code, another seller's tax code) becomes the same
:class:`Gone`, so no answer tells whether a code exists.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from evservice import audit, contracts, invoices, otp, vn
from evservice._context import Context
from evservice.contracts import Contract, ContractStatus, SignerRole
from evservice.errors import (
    ChallengeExpired,
    ChallengeLocked,
    ChallengeUsed,
    CodeMismatch,
    CodeNotDelivered,
    CodeReused,
    DocumentChanged,
    LifecycleError,
    NotFoundError,
    RateLimited,
    ValidationError,
)
from evservice.invoices import IssuedInvoice
from evservice.otp import Challenge
from evservice.verification import VerificationReport, verify
from evservice.web._security import RateLimiter, open_download_token, sign_download_token
from evservice.web._settings import PortalSettings

__all__ = ["ContractView", "Gone", "LinkExpired", "Portal", "Throttled", "consent_problem"]

#: How long the download links on an invoice page work.
DOWNLOAD_TTL = timedelta(minutes=30)


class Gone(Exception):
    """Answer 404, always with the same words."""


class LinkExpired(Exception):
    """A genuine contract link whose time is up (410)."""


class Throttled(Exception):
    """A rate limit says no; ``retry_after`` seconds to wait (429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ContractView:
    """A signer's page: the challenge, the contract, the bytes shown and their hash."""

    token: str
    link_expires_at: datetime
    challenge: Challenge
    contract: Contract
    role: SignerRole
    shown_pdf: Path
    shown_sha256: str
    final_pdf: Path | None
    state: str  # pending, confirmed, locked, expired, changed

    def to_dict(self, now: datetime) -> dict[str, Any]:
        c = self.challenge
        return {
            "contract": self.contract.number,
            "status": self.contract.status.value,
            "role": self.role.value,
            "state": self.state,
            "document_sha256": self.shown_sha256,
            "channel": c.channel,
            "destination": c.destination_masked,
            "tries_left": c.remaining_attempts,
            "max_tries": c.max_attempts,
            "expires_at": c.expires_at.isoformat(),
            "resend_after_seconds": max(0, int((c.resend_after - now).total_seconds() + 0.999)),
            "sends_left": max(0, c.max_sends - c.send_count),
            "link_expires_at": self.link_expires_at.isoformat(),
            "sealed": self.final_pdf is not None,
        }


class Portal:
    """One portal: context, settings, limits, keys and caches."""

    def __init__(self, ctx: Context, settings: PortalSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.requests = RateLimiter(settings.requests_per_minute, 60)
        self.lookups = RateLimiter(settings.lookups_per_minute, 60)
        self.uploads = RateLimiter(settings.uploads_per_minute, 60)
        window = settings.confirm_window_seconds
        self.confirms_by_ip = RateLimiter(settings.confirms_per_window, window)
        self.confirms_by_challenge = RateLimiter(settings.confirms_per_window, window)
        self.csrf_key = otp.derive_key(ctx.settings, "portal-csrf")
        self.download_key = otp.derive_key(ctx.settings, "portal-download")
        self._reports: dict[str, tuple[float, VerificationReport]] = {}
        self._reports_lock = threading.Lock()

    # -- limits -----------------------------------------------------------------------

    @staticmethod
    def limit(limiter: RateLimiter, key: str) -> None:
        wait = limiter.hit(key)
        if wait:
            raise Throttled(wait)

    # -- contracts --------------------------------------------------------------------

    def contract_view(self, token: str) -> ContractView:
        try:
            challenge_id, link_expires = otp.open_link_token(token, self.ctx.settings)
        except ValidationError as exc:
            raise Gone from exc
        now = self.ctx.clock.now()
        if now >= link_expires:
            raise LinkExpired
        try:
            challenge = otp.get_challenge(challenge_id, self.ctx)
            contract, role = contracts.for_challenge(challenge_id, ctx=self.ctx)
        except (NotFoundError, ValidationError) as exc:
            raise Gone from exc
        where = contracts.paths(contract, self.ctx)
        shown = where["shown_pdf"]
        try:
            digest = hashlib.sha256(shown.read_bytes()).hexdigest()
        except OSError as exc:
            raise Gone from exc
        state = challenge.state_at(now)
        if state == "pending" and challenge.document_sha256 != digest:
            state = "changed"
        final = where["final_pdf"] if contract.status is ContractStatus.SEALED else None
        return ContractView(
            token=token,
            link_expires_at=link_expires,
            challenge=challenge,
            contract=contract,
            role=role,
            shown_pdf=shown,
            shown_sha256=digest,
            final_pdf=final if final is not None and final.exists() else None,
            state=state,
        )

    def confirm(
        self, view: ContractView, code: str, document_sha256: str, ip: str, agent: str | None
    ) -> Contract:
        """Check the code for the document the page showed (rate limits first)."""
        self.limit(self.confirms_by_ip, ip)
        self.limit(self.confirms_by_challenge, view.challenge.id)
        return contracts.confirm(
            view.challenge.id,
            code,
            client=contracts.ClientInfo(ip=ip, user_agent=agent),
            document_sha256=document_sha256,
            ctx=self.ctx,
        )

    def resend(self, view: ContractView, ip: str, locale: str) -> Challenge:
        self.limit(self.confirms_by_ip, ip)
        return contracts.resend_consent(
            view.challenge.id, locale="en" if locale == "en" else "vi", ctx=self.ctx
        )

    # -- invoices ---------------------------------------------------------------------

    def lookup(self, code: str, seller_tax_code: str, ip: str) -> IssuedInvoice:
        """The invoice with this lookup code *and* seller; anything else is :class:`Gone`."""
        self.limit(self.lookups, ip)
        if not invoices.lookup.is_valid(code) or not vn.mst.is_valid(seller_tax_code):
            raise Gone
        try:
            issued = invoices.get(invoices.lookup.validate(code), ctx=self.ctx)
        except (NotFoundError, ValidationError) as exc:
            raise Gone from exc
        if issued.invoice.draft.seller.tax_code != vn.mst.validate(seller_tax_code):
            raise Gone
        return issued

    def download_token(self, document_id: str) -> str:
        return sign_download_token(
            self.download_key, document_id, self.ctx.clock.now() + DOWNLOAD_TTL
        )

    def invoice_by_token(self, token: str) -> IssuedInvoice:
        invoice_id = open_download_token(self.download_key, token, self.ctx.clock.now())
        if invoice_id is None:
            raise Gone
        try:
            return invoices.get(invoice_id, ctx=self.ctx)
        except (NotFoundError, ValidationError) as exc:
            raise Gone from exc

    def stored_report(self, issued: IssuedInvoice) -> VerificationReport | None:
        """The verification of the stored PDF (immutable bytes: reused for a while)."""
        if issued.pdf_path is None or issued.pdf_sha256 is None:
            return None
        key = issued.pdf_sha256
        now = time.monotonic()
        with self._reports_lock:
            cached = self._reports.get(key)
        if cached is not None and now - cached[0] < self.settings.verification_cache_seconds:
            return cached[1]
        report = verify(issued.pdf_path, ctx=self.ctx, name=f"{issued.label}.pdf")
        with self._reports_lock:
            if len(self._reports) >= 4096:
                self._reports.clear()
            self._reports[key] = (now, report)
        return report

    # -- verify any file ----------------------------------------------------------------

    def verify_upload(self, data: bytes, name: str, ip: str) -> VerificationReport:
        self.limit(self.uploads, ip)
        return verify(data, ctx=self.ctx, name=name)

    # -- transparency -------------------------------------------------------------------

    def checkpoint(self) -> audit.SignedCheckpoint | None:
        return audit.latest_checkpoint(self.ctx)

    def public_key(self) -> str:
        return audit.log_public_key_string(self.ctx.settings)

    def proof(self, subject: str, ip: str) -> bytes:
        """The offline bundle of ``subject``.

        Proved into the latest checkpoint when that covers the whole log, else
        into a checkpoint published now (so a bundle always holds every event).
        """
        self.limit(self.lookups, ip)
        audit.sequence_pending(self.ctx)  # events still queued belong in the bundle too
        latest = audit.latest_checkpoint(self.ctx)
        current = latest if latest is not None and latest.size == audit.log_size(self.ctx) else None
        try:
            return audit.prove_subject(subject, self.ctx, checkpoint=current)
        except NotFoundError as exc:
            raise Gone from exc


def consent_problem(exc: Exception) -> tuple[str, int, dict[str, object]]:
    """An error of confirming or resending as (words key, HTTP status, values for the words)."""
    if isinstance(exc, Throttled):
        return "err.rate", 429, {"s": math.ceil(exc.retry_after)}
    if isinstance(exc, CodeMismatch):
        if exc.remaining <= 0:
            return "err.locked", 423, {}
        return "err.code_mismatch", 422, {"n": exc.remaining}
    if isinstance(exc, RateLimited):
        return "err.rate", 429, {"s": math.ceil(exc.retry_after or 60)}
    for kind, key, status in (
        (ChallengeLocked, "err.locked", 423),
        (ChallengeUsed, "err.used", 409),
        (CodeReused, "err.reused", 409),
        (ChallengeExpired, "err.expired", 410),
        (DocumentChanged, "err.changed", 409),
        (LifecycleError, "err.lifecycle", 409),
        (CodeNotDelivered, "err.not_delivered", 502),
    ):
        if isinstance(exc, kind):
            return key, status, {}
    if isinstance(exc, ValidationError) and exc.field == "code":
        return "err.code_format", 422, {}
    raise exc
