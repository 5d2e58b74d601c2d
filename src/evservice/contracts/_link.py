"""The signed link to a signer's page on the customer portal, carried by the OTP message."""

from __future__ import annotations

from datetime import timedelta

from evservice._context import Context
from evservice.otp import link_token

__all__ = ["portal_link"]


def portal_link(challenge_id: str, ctx: Context) -> str | None:
    """``<portal_url>/c/<token>``, valid for ``portal_link_ttl_seconds``; None without a portal."""
    base = ctx.settings.portal_url
    if not base:
        return None
    expires = ctx.clock.now() + timedelta(seconds=ctx.settings.portal_link_ttl_seconds)
    return f"{base.rstrip('/')}/c/{link_token(challenge_id, expires, ctx.settings)}"
