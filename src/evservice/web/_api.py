"""The JSON API under ``/api/v1`` (OpenAPI schema at ``/api/v1/openapi.json``).

The same operations as the pages, for apps and integrators. JSON bodies only
(a cross-site form cannot send ``application/json`` without a CORS preflight,
which the portal never grants), so the API needs no CSRF token. Errors are
``{"error": <name>, "message": <text>}`` with the HTTP status of the pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from evservice import invoices
from evservice.errors import CodeNotDelivered, ConsentError, LifecycleError, ValidationError
from evservice.web._i18n import Translator
from evservice.web._portal import Throttled, consent_problem
from evservice.web._render import client_ip, locale_of, portal_of
from evservice.web._upload import check_bytes

__all__ = ["api_error", "router"]

router = APIRouter(prefix="/api/v1", tags=["portal"])


class LookupRequest(BaseModel):
    lookup_code: str = Field(max_length=40, examples=["7KQ4-MZ2X-9HTQ"])
    seller_tax_code: str = Field(max_length=20, examples=["0100101114"])


class ConfirmRequest(BaseModel):
    code: str = Field(max_length=20, examples=["123456"])
    document_sha256: str = Field(max_length=80, description="SHA-256 of the document shown")


def api_error(name: str, status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {}
    if "retry_after" in extra:
        headers["retry-after"] = str(extra["retry_after"])
    return JSONResponse({"error": name, "message": message, **extra}, status, headers=headers)


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: answers without touching the store (the benchmark's baseline)."""
    return {"status": "ok"}


@router.get("/checkpoint")
def checkpoint(request: Request) -> dict[str, Any]:
    """The latest signed checkpoint of the audit log and the log's verifier key."""
    portal = portal_of(request)
    latest = portal.checkpoint()
    return {
        "public_key": portal.public_key(),
        "checkpoint": None
        if latest is None
        else {
            "origin": latest.origin,
            "size": latest.size,
            "root_hash": latest.root_hash.hex(),
            "note": latest.note,
        },
    }


@router.post("/invoices/lookup")
def lookup(request: Request, body: LookupRequest) -> dict[str, Any]:
    """An invoice by lookup code and seller's tax code: summary, verification, VietQR, links."""
    portal = portal_of(request)
    issued = portal.lookup(body.lookup_code, body.seller_tax_code, client_ip(request))
    summary = issued.summary()
    for private in ("xml", "pdf", "reference"):
        summary.pop(private, None)
    code = invoices.payment_code(issued.invoice, portal.ctx)
    report = portal.stored_report(issued)
    links = None
    if issued.has_documents:
        token = portal.download_token(str(issued.invoice.id))
        base = f"/hoa-don/t/{token}"
        links = {
            "pdf": f"{base}/invoice.pdf",
            "xml": f"{base}/invoice.xml",
            "audit_proof": f"{base}/audit-proof.json",
        }
    return {
        "invoice": summary,
        "verification": None if report is None else report.to_dict(),
        "vietqr": None if code is None else code.payload(),
        "downloads": links,
    }


@router.post(
    "/verify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "application/xml": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def verify(request: Request) -> Response:
    """Verify the PDF or XML sent as the body; the report of ``evservice verify --json``."""
    portal = portal_of(request)
    limit = portal.settings.max_upload_bytes
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            return api_error("too_large", 413, f"at most {limit} bytes")
    if not data:
        return api_error("no_file", 422, "send the PDF or XML as the request body")
    problem = check_bytes(bytes(data), request.headers.get("content-type"))
    if problem is not None:
        return api_error("file_type", 415, "send application/pdf or application/xml")
    try:
        report = await run_in_threadpool(
            portal.verify_upload, bytes(data), "upload", client_ip(request)
        )
    except Throttled as exc:
        return _throttled(exc)
    return JSONResponse(report.to_dict())


def _throttled(exc: Throttled) -> JSONResponse:
    return api_error("rate_limited", 429, "too many requests", retry_after=int(exc.retry_after) + 1)


@router.get("/contracts/{token}")
def contract(request: Request, token: str) -> dict[str, Any]:
    """The state of the signer's challenge and contract behind a signed link."""
    portal = portal_of(request)
    return portal.contract_view(token).to_dict(portal.ctx.clock.now())


def _consent_error(request: Request, exc: Exception) -> JSONResponse:
    key, status, values = consent_problem(exc)
    extra: dict[str, Any] = {}
    if key == "err.code_mismatch":
        extra["tries_left"] = values["n"]
    if key == "err.rate":
        extra["retry_after"] = values["s"]
    text = Translator(locale_of(request))(key, **values)
    return api_error(key.removeprefix("err."), status, text, **extra)


@router.post("/contracts/{token}/confirm")
def confirm(request: Request, token: str, body: ConfirmRequest) -> Response:
    """Confirm with the code, for the document whose SHA-256 the client was shown."""
    portal = portal_of(request)
    view = portal.contract_view(token)
    try:
        done = portal.confirm(
            view,
            body.code,
            body.document_sha256,
            client_ip(request),
            request.headers.get("user-agent"),
        )
    except (ConsentError, LifecycleError, ValidationError, Throttled) as exc:
        return _consent_error(request, exc)
    return JSONResponse({"contract": done.number, "status": done.status.value})


@router.post("/contracts/{token}/resend")
def resend(request: Request, token: str) -> Response:
    """Send the signer a new code (after the cooldown, within the caps)."""
    portal = portal_of(request)
    view = portal.contract_view(token)
    try:
        challenge = portal.resend(view, client_ip(request), locale_of(request))
    except (ConsentError, CodeNotDelivered, ValidationError, Throttled) as exc:
        return _consent_error(request, exc)
    return JSONResponse(
        {
            "destination": challenge.destination_masked,
            "expires_at": challenge.expires_at.isoformat(),
            "sends_left": max(0, challenge.max_sends - challenge.send_count),
        }
    )


@router.post(
    "/payments/webhook",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def payment_webhook(request: Request) -> Response:
    """A bank's or aggregator's transfer notification, signed with ``X-Evservice-Signature``.

    :func:`evservice.reconcile.handle_webhook` checks the HMAC, the timestamp window
    and the event id, then matches and applies the transfer; its status and JSON
    body are the answer. Without ``EVSERVICE_PAYMENT_WEBHOOK_SECRET`` it answers 503.
    """
    from evservice.errors import ConfigurationError
    from evservice.reconcile import handle_webhook

    body = await request.body()
    ctx = portal_of(request).ctx
    try:
        result = await run_in_threadpool(handle_webhook, body, dict(request.headers), ctx=ctx)
    except ConfigurationError:
        return api_error("not_configured", 503, "transfer notifications are not configured")
    return Response(result.json_bytes(), result.status, media_type="application/json")
