"""Rendering pages: Jinja2 templates, the locale, the CSRF cookie and its form token."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from evservice.money import format_vnd
from evservice.web._i18n import LANG_COOKIE, Locale, Translator, pick_locale
from evservice.web._portal import Portal
from evservice.web._security import CSRF_COOKIE, csrf_token, new_csrf_cookie

__all__ = ["client_ip", "locale_of", "portal_of", "render"]


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evservice.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["money"] = _money
    return env


def _money(value: Decimal) -> str:
    return f"{format_vnd(value)} đ"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def client_ip(request: Request) -> str:
    """The client's address (``X-Forwarded-For``'s first hop only when configured)."""
    if portal_of(request).settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded[:64]
    return request.client.host if request.client else "0.0.0.0"  # noqa: S104


def locale_of(request: Request) -> Locale:
    return pick_locale(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The page ``name`` in the request's locale, with a CSRF token for its forms."""
    portal = portal_of(request)
    locale = locale_of(request)
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    fresh = not 20 <= len(cookie) <= 100
    if fresh:
        cookie = new_csrf_cookie()
    values.setdefault("notice", None)
    values.setdefault("notice_kind", None)
    html = (
        _env()
        .get_template(name)
        .render(
            t=Translator(locale),
            locale=locale,
            csrf=csrf_token(portal.csrf_key, cookie),
            **values,
        )
    )
    response = HTMLResponse(html, status_code=status)
    secure = request.url.scheme == "https"
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=secure, path="/"
        )
    if request.query_params.get("lang") in ("vi", "en"):
        response.set_cookie(
            LANG_COOKIE,
            locale,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=secure,
            path="/",
        )
    return response
