"""``create_app(ctx, settings)``: the customer portal as an ASGI application.

FastAPI (on Starlette) gives the JSON API its OpenAPI schema and checks
bodies with pydantic, which the library already uses; the pages are Jinja2
templates rendered on the server. More routes can be mounted on the returned
app (``app.include_router(...)`` or ``app.mount(...)``): they get the same
security headers, body limit and per-IP rate limit, which are ASGI
middleware around the whole app.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from evservice import audit
from evservice._context import Context, resolve
from evservice.web import _api, _enrol, _pages
from evservice.web._i18n import Translator
from evservice.web._portal import Gone, LinkExpired, Portal, Throttled
from evservice.web._render import client_ip, locale_of, render
from evservice.web._security import ASGIApp, Receive, Scope, SecurityHeaders, Send
from evservice.web._settings import PortalSettings

__all__ = ["create_app"]

log = logging.getLogger("evservice.web")

#: Largest body of a POST that is not a file upload.
FORM_LIMIT = 64 * 1024
_UPLOAD_PATHS = ("/kiem-tra", "/api/v1/verify")


class Guard:
    """Per-IP request limit and body-size limit, before any routing or parsing.

    A POST must say its ``Content-Length`` (411 otherwise) and stay under the
    limit of its path (413): the upload pages allow ``max_upload_bytes`` plus
    room for the form, everything else 64 KiB.
    """

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, name, retry = problem
        api = scope["path"].startswith("/api/")
        body = (
            JSONResponse({"error": name, "message": name.replace("_", " ")}, status)
            if api
            else Response(f"{status} {name.replace('_', ' ')}\n", status, media_type="text/plain")
        )
        if retry:
            body.headers["retry-after"] = str(retry)
        await body(scope, receive, send)

    def _problem(self, scope: Scope) -> tuple[int, str, int] | None:
        client = scope.get("client")
        ip = client[0] if client else "0.0.0.0"  # noqa: S104
        if self.portal.settings.trust_forwarded_for:
            for name, value in scope.get("headers", []):
                if name == b"x-forwarded-for":
                    ip = value.decode("latin-1").split(",")[0].strip()[:64] or ip
        wait = self.portal.requests.hit(ip)
        if wait:
            return 429, "rate_limited", math.ceil(wait)
        if scope["method"] != "POST":
            return None
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                length = value
        if length is None:
            return 411, "length_required", 0
        try:
            size = int(length)
        except ValueError:
            return 400, "bad_content_length", 0
        upload = scope["path"] in _UPLOAD_PATHS
        limit = self.portal.settings.max_upload_bytes + FORM_LIMIT if upload else FORM_LIMIT
        if size > limit:
            return 413, "too_large", 0
        return None


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, key: str, status: int, **values: Any) -> Response:
    t = Translator(locale_of(request))
    if _wants_json(request):
        return _api.api_error(key.removeprefix("err."), status, t(key, **values))
    return render(request, "error.html.j2", status=status, message=t(key, **values))


def create_app(ctx: Context | None = None, settings: PortalSettings | None = None) -> FastAPI:
    """The portal for ``ctx`` (default: the environment's) with ``settings``.

    Pages in Vietnamese (``?lang=en`` for English) under ``/``, the JSON API
    under ``/api/v1``. The app keeps its :class:`Portal` in ``app.state.portal``.
    """
    context = resolve(ctx)
    portal = Portal(context, settings or PortalSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The server's own audit sequencer: the events of consents and codes confirmed
        # here are integrated while it runs (others may run too; one integrates at a time).
        with audit.Sequencer(context):
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="evservice customer portal",
        version="1",
        docs_url=None,  # Swagger UI needs inline script, which the CSP forbids
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.portal = portal
    app.mount(
        "/static",
        StaticFiles(packages=[("evservice.web", "static")]),
        name="static",
    )
    app.include_router(_api.router)
    app.include_router(_pages.router)
    app.include_router(_enrol.router)

    @app.exception_handler(Gone)
    def _gone(request: Request, exc: Gone) -> Response:
        return _error_page(request, "err.not_found", 404)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_page(request, "err.not_found", 404)
        if _wants_json(request):
            return _api.api_error("http", exc.status_code, str(exc.detail))
        return Response(f"{exc.status_code}\n", exc.status_code, media_type="text/plain")

    @app.exception_handler(LinkExpired)
    def _expired(request: Request, exc: LinkExpired) -> Response:
        return _error_page(request, "err.link_expired", 410)

    @app.exception_handler(Throttled)
    def _throttled(request: Request, exc: Throttled) -> Response:
        seconds = math.ceil(exc.retry_after)
        response = _error_page(request, "err.rate", 429, s=seconds)
        response.headers["retry-after"] = str(seconds)
        return response

    @app.exception_handler(_pages.CsrfFailed)
    def _csrf(request: Request, exc: _pages.CsrfFailed) -> Response:
        log.warning("form without a valid CSRF token from %s", client_ip(request))
        return _error_page(request, "err.csrf", 403)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
        return _api.api_error("invalid", 422, f"invalid fields: {', '.join(fields) or 'body'}")

    app.add_middleware(Guard, portal=portal)
    app.add_middleware(SecurityHeaders)
    return app
