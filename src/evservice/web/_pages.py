"""The HTML pages: contract signing, invoice lookup, verify a file, transparency.

Plain forms and links, no script: every action is a POST with a CSRF token
followed by a redirect or a page, so the portal works in any browser. Errors
a person can fix are shown on the same page with the reason; everything that
is "not there" is the one 404 page.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from evservice import invoices, payments
from evservice.clock import VN_TZ
from evservice.errors import CodeNotDelivered, ConsentError, LifecycleError, ValidationError
from evservice.web._i18n import Translator
from evservice.web._portal import ContractView, Gone, Throttled, consent_problem
from evservice.web._render import client_ip, locale_of, portal_of, render
from evservice.web._security import CSRF_COOKIE, PDF_CSP, csrf_ok
from evservice.web._upload import read_upload

__all__ = ["CsrfFailed", "router"]

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


class CsrfFailed(Exception):
    """A form came without the token of this browser's CSRF cookie (403)."""


def _check_csrf(request: Request, token: str) -> None:
    if not csrf_ok(portal_of(request).csrf_key, request.cookies.get(CSRF_COOKIE), token):
        raise CsrfFailed


def _groups(digest: str) -> str:
    return " ".join(digest[i : i + 8] for i in range(0, len(digest), 8))


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html.j2")


# -- contracts ---------------------------------------------------------------------------


def _contract_page(
    request: Request,
    view: ContractView,
    notice: str | None = None,
    kind: str = "info",
    status: int = 200,
) -> Response:
    now = portal_of(request).ctx.clock.now()
    challenge = view.challenge
    wait = max(0, math.ceil((challenge.resend_after - now).total_seconds()))
    return render(
        request,
        "contract.html.j2",
        status=status,
        v=view,
        hash_groups=_groups(view.shown_sha256),
        expires_text=challenge.expires_at.astimezone(VN_TZ).strftime("%H:%M:%S %d/%m/%Y (GMT+7)"),
        resend_wait=wait,
        sends_left=max(0, challenge.max_sends - challenge.send_count),
        notice=notice,
        notice_kind=kind,
    )


@router.get("/c/{token}")
def contract_page(request: Request, token: str) -> Response:
    portal = portal_of(request)
    view = portal.contract_view(token)
    t = Translator(locale_of(request))
    if request.query_params.get("sent") == "1":
        return _contract_page(
            request, view, t("contract.sent", to=view.challenge.destination_masked), "ok"
        )
    return _contract_page(request, view)


@router.post("/c/{token}")
def contract_confirm(
    request: Request,
    token: str,
    code: FormText = "",
    document_sha256: FormText = "",
    csrf: FormText = "",
) -> Response:
    _check_csrf(request, csrf)
    portal = portal_of(request)
    view = portal.contract_view(token)
    try:
        portal.confirm(
            view, code, document_sha256, client_ip(request), request.headers.get("user-agent")
        )
    except (ConsentError, LifecycleError, ValidationError, Throttled) as exc:
        key, status, values = consent_problem(exc)
        text = Translator(locale_of(request))(key, **values)
        return _contract_page(request, portal.contract_view(token), text, "error", status)
    return RedirectResponse(f"/c/{token}", status_code=303)


@router.post("/c/{token}/resend")
def contract_resend(request: Request, token: str, csrf: FormText = "") -> Response:
    _check_csrf(request, csrf)
    portal = portal_of(request)
    view = portal.contract_view(token)
    try:
        portal.resend(view, client_ip(request), locale_of(request))
    except (ConsentError, CodeNotDelivered, ValidationError, Throttled) as exc:
        key, status, values = consent_problem(exc)
        text = Translator(locale_of(request))(key, **values)
        return _contract_page(request, portal.contract_view(token), text, "error", status)
    return RedirectResponse(f"/c/{token}?sent=1", status_code=303)


def _pdf(data: bytes, filename: str, *, inline: bool) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "content-disposition": f'{disposition}; filename="{filename}"',
            "content-security-policy": PDF_CSP,
        },
    )


@router.get("/c/{token}/document.pdf")
def contract_document(request: Request, token: str) -> Response:
    view = portal_of(request).contract_view(token)
    inline = request.query_params.get("download") != "1"
    return _pdf(view.shown_pdf.read_bytes(), f"{view.contract.number}.pdf", inline=inline)


@router.get("/c/{token}/sealed.pdf")
def contract_sealed(request: Request, token: str) -> Response:
    view = portal_of(request).contract_view(token)
    if view.final_pdf is None:
        raise Gone
    return _pdf(view.final_pdf.read_bytes(), f"{view.contract.number}-sealed.pdf", inline=False)


@router.get("/c/{token}/audit-proof.json")
def contract_proof(request: Request, token: str) -> Response:
    portal = portal_of(request)
    view = portal.contract_view(token)
    return _download(
        portal.proof(view.contract.id, client_ip(request)),
        "application/json",
        f"{view.contract.number}.audit-proof.json",
    )


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


# -- invoices ----------------------------------------------------------------------------


@router.get("/hoa-don")
def invoice_form(request: Request) -> Response:
    return render(request, "invoice_lookup.html.j2")


@router.post("/hoa-don")
def invoice_lookup(
    request: Request,
    lookup_code: FormText = "",
    seller_tax_code: FormText = "",
    csrf: FormText = "",
) -> Response:
    _check_csrf(request, csrf)
    portal = portal_of(request)
    issued = portal.lookup(lookup_code, seller_tax_code, client_ip(request))
    invoice = issued.invoice
    code = invoices.payment_code(invoice, portal.ctx)
    payee = invoice.draft.payment
    name = payee.account_name if payee is not None else portal.ctx.settings.payee_name
    buyer = invoice.draft.buyer
    return render(
        request,
        "invoice.html.j2",
        issued=issued,
        buyer=buyer.person_name or buyer.name or "-",
        line_amount=lambda line: line.line_amount(),
        token=portal.download_token(str(invoice.id)) if issued.has_documents else None,
        report=portal.stored_report(issued),
        qr=code.payload() if code is not None else None,
        pay_lines=payments.payment_lines(code, name) if code is not None else [],
    )


@router.get("/hoa-don/t/{token}/invoice.pdf")
def invoice_pdf(request: Request, token: str) -> Response:
    issued = portal_of(request).invoice_by_token(token)
    if issued.pdf_path is None:
        raise Gone
    return _download(issued.pdf_path.read_bytes(), "application/pdf", f"{issued.label}.pdf")


@router.get("/hoa-don/t/{token}/invoice.xml")
def invoice_xml(request: Request, token: str) -> Response:
    issued = portal_of(request).invoice_by_token(token)
    if issued.xml_path is None:
        raise Gone
    return _download(issued.xml_path.read_bytes(), "application/xml", f"{issued.label}.xml")


@router.get("/hoa-don/t/{token}/audit-proof.json")
def invoice_proof(request: Request, token: str) -> Response:
    portal = portal_of(request)
    issued = portal.invoice_by_token(token)
    return _download(
        portal.proof(str(issued.invoice.id), client_ip(request)),
        "application/json",
        f"{issued.label}.audit-proof.json",
    )


# -- verify any file ---------------------------------------------------------------------


def _max_mb(request: Request) -> str:
    return f"{portal_of(request).settings.max_upload_bytes / 1024 / 1024:g}"


@router.get("/kiem-tra")
def verify_form(request: Request) -> Response:
    return render(request, "verify.html.j2", max_mb=_max_mb(request), report=None)


@router.post("/kiem-tra")
async def verify_upload(
    request: Request, file: Annotated[UploadFile | None, File()] = None, csrf: FormText = ""
) -> Response:
    _check_csrf(request, csrf)
    portal = portal_of(request)
    t = Translator(locale_of(request))
    upload = await read_upload(file, portal.settings.max_upload_bytes)
    if upload.problem is not None:
        key, status = upload.problem
        return render(
            request,
            "verify.html.j2",
            status=status,
            max_mb=_max_mb(request),
            report=None,
            notice=t(key, mb=_max_mb(request)),
            notice_kind="error",
        )
    report = await run_in_threadpool(
        portal.verify_upload, upload.data, upload.name, client_ip(request)
    )
    return render(request, "verify.html.j2", max_mb=_max_mb(request), report=report)


# -- transparency ------------------------------------------------------------------------

OFFLINE_SCRIPT = "evservice_offline.py"


def _commands(key: str) -> tuple[str, str]:
    return (
        f"evservice audit verify-bundle audit-proof.json --key '{key}'",
        f"python3 {OFFLINE_SCRIPT} audit-proof.json '{key}'",
    )


@router.get("/minh-bach")
def transparency(request: Request) -> Response:
    portal = portal_of(request)
    key = portal.public_key()
    command, standalone = _commands(key)
    return render(
        request,
        "transparency.html.j2",
        checkpoint=portal.checkpoint(),
        public_key=key,
        command=command,
        standalone=standalone,
        offline_script=OFFLINE_SCRIPT,
    )


@router.get("/minh-bach/checkpoint.txt")
def checkpoint_text(request: Request) -> Response:
    checkpoint = portal_of(request).checkpoint()
    if checkpoint is None:
        raise Gone
    return Response(checkpoint.note, media_type="text/plain; charset=utf-8")


@router.get(f"/minh-bach/{OFFLINE_SCRIPT}")
def offline_script() -> Response:
    """The standalone bundle verifier (stdlib and ``cryptography`` only), to copy and run."""
    source = resources.files("evservice.audit").joinpath("_offline.py").read_bytes()
    return _download(source, "text/x-python; charset=utf-8", OFFLINE_SCRIPT)
