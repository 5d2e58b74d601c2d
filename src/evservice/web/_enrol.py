"""The authenticator-app enrolment page: ``/totp/<token>`` shows the QR code, takes the first code.

The link comes from :func:`evservice.otp.enrolment_link` (signed with its own
derived key, so a contract link never opens it, and expiring). While the
enrolment is pending the page shows the QR code (our SVG, inline: no script,
no style) and the key to type by hand; the first valid code activates it and
the answer shows the recovery codes, once. After that the same link shows
only that the enrolment is done. Wrong codes count against the enrolment's
five tries and the portal's per-address limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from markupsafe import Markup
from starlette.responses import Response

from evservice import otp
from evservice.errors import CodeMismatch, LifecycleError, NotFoundError, ValidationError
from evservice.web._i18n import Translator
from evservice.web._pages import CsrfFailed
from evservice.web._portal import Gone, LinkExpired, Portal
from evservice.web._render import client_ip, locale_of, portal_of, render
from evservice.web._security import CSRF_COOKIE, csrf_ok

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


@dataclass(frozen=True)
class _Enrolment:
    token: str
    enrolment_id: str
    pending: otp.NewEnrolment | None  # None once confirmed (or revoked): no secret to show


def _open(portal: Portal, token: str) -> _Enrolment:
    try:
        enrolment_id, expires = otp.open_link_token(
            token, portal.ctx.settings, purpose=otp.ENROLMENT_LINK
        )
    except ValidationError as exc:
        raise Gone from exc
    if portal.ctx.clock.now() >= expires:
        raise LinkExpired
    try:
        pending: otp.NewEnrolment | None = otp.pending_enrolment(enrolment_id, portal.ctx)
    except NotFoundError as exc:
        raise Gone from exc
    except LifecycleError:
        pending = None
    return _Enrolment(token, enrolment_id, pending)


def _page(
    request: Request,
    enrolment: _Enrolment,
    *,
    recovery: list[str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    pending = enrolment.pending
    return render(
        request,
        "totp.html.j2",
        status=status,
        e=enrolment,
        qr=Markup(pending.qr_svg()) if pending and recovery is None else None,  # noqa: S704 - our own SVG
        recovery=recovery,
        notice=notice,
        notice_kind="error" if notice else None,
    )


@router.get("/totp/{token}")
def enrol_page(request: Request, token: str) -> Response:
    return _page(request, _open(portal_of(request), token))


@router.post("/totp/{token}")
def enrol_confirm(
    request: Request, token: str, code: FormText = "", csrf: FormText = ""
) -> Response:
    portal = portal_of(request)
    if not csrf_ok(portal.csrf_key, request.cookies.get(CSRF_COOKIE), csrf):
        raise CsrfFailed
    enrolment = _open(portal, token)
    t = Translator(locale_of(request))
    if enrolment.pending is None:
        return _page(request, enrolment, status=409)
    portal.limit(portal.confirms_by_ip, client_ip(request))
    portal.limit(portal.confirms_by_challenge, enrolment.enrolment_id)
    try:
        codes = otp.confirm_enrolment(enrolment.enrolment_id, code, ctx=portal.ctx)
    except ValidationError:
        return _page(request, enrolment, notice=t("totp.code_format"), status=422)
    except CodeMismatch as exc:
        again = _open(portal, token)
        key = "err.locked" if exc.remaining <= 0 else "err.code_mismatch"
        return _page(request, again, notice=t(key, n=exc.remaining), status=422)
    return _page(request, _Enrolment(token, enrolment.enrolment_id, None), recovery=codes)
