"""HTTP-level tests of the portal through httpx against the ASGI app: every page and error path."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio
import httpx
import pytest
from tests.web.conftest import (
    SELLER_TAX_CODE,
    Sent,
    last_message,
    parse_sms,
    read_email,
    send_contract,
)

from evservice import Context
from evservice.audit import log_public_key_string, publish_checkpoint, verify_bundle
from evservice.clock import ManualClock
from evservice.contracts import get, request_consent
from evservice.invoices import IssuedInvoice
from evservice.otp import get_challenge, link_token
from evservice.verification import VerificationReport, verify
from evservice.web import PortalSettings, create_app

pytestmark = pytest.mark.anyio

RAW_SECRETS = (
    "0912345678",
    "0912 345 678",
    "912345678",
    "anh.tran@example.com",
    "daidien@evnhanoi",
)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', html)
    assert found is not None, html[:500]
    return found.group(1)


async def verified(data: bytes, ctx: Context) -> VerificationReport:
    """``verify`` in a worker thread (pyHanko runs its own event loop)."""
    return await anyio.to_thread.run_sync(lambda: verify(data, ctx=ctx))


def assert_no_raw_contacts(text: str) -> None:
    for secret in RAW_SECRETS:
        assert secret not in text


@pytest.fixture
async def client(web_ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(web_ctx, PortalSettings(lookups_per_minute=1000, confirms_per_window=1000))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def form_token(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200
    return csrf_of(page.text)


# -- every page, the headers ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/hoa-don", "/kiem-tra", "/minh-bach", "/?lang=en"])
async def test_pages_and_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # default-src 'none' forbids every script
    assert "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script" not in response.text
    assert "style=" not in response.text
    assert "<style" not in response.text
    assert 'href="/static/portal.css"' in response.text


async def test_english_switch_is_remembered(client: httpx.AsyncClient) -> None:
    english = await client.get("/hoa-don?lang=en")
    assert "Look up an e-invoice" in english.text
    assert english.cookies.get("evs_lang") == "en"
    again = await client.get("/hoa-don")
    assert "Look up an e-invoice" in again.text
    back = await client.get("/hoa-don?lang=vi")
    assert "Tra cứu hóa đơn điện tử" in back.text


async def test_static_css_and_openapi(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/portal.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "max-age=3600"
    assert (await client.get("/hoa-don")).headers["cache-control"] == "no-store"
    schema = (await client.get("/api/v1/openapi.json")).json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/health",
        "/api/v1/checkpoint",
        "/api/v1/invoices/lookup",
        "/api/v1/verify",
        "/api/v1/contracts/{token}",
        "/api/v1/contracts/{token}/confirm",
        "/api/v1/contracts/{token}/resend",
    } <= paths
    assert not any(not p.startswith("/api/v1/") for p in paths)
    assert (await client.get("/docs")).status_code == 404


# -- contract signing ------------------------------------------------------------------------


async def test_contract_page_shows_the_document_and_its_hash(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    sent = send_contract(web_ctx, "http-page")
    assert sent.link.startswith("http://testserver/c/")
    page = await client.get(sent.path)
    assert page.status_code == 200
    contract = get(sent.number, ctx=web_ctx)
    assert contract.document_sha256 is not None
    assert f'data-sha256="{contract.document_sha256}"' in page.text
    assert sent.number in page.text
    assert "5 / 5" in page.text
    assert "*" in page.text  # the masked phone number
    assert_no_raw_contacts(page.text)
    inline = await client.get(f"{sent.path}/document.pdf")
    assert inline.headers["content-type"] == "application/pdf"
    assert inline.headers["content-disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in inline.headers["content-security-policy"]
    assert inline.headers["x-frame-options"] == "SAMEORIGIN"
    assert hashlib.sha256(inline.content).hexdigest() == contract.document_sha256
    download = await client.get(f"{sent.path}/document.pdf?download=1")
    assert download.headers["content-disposition"].startswith("attachment")
    assert (await client.get(f"{sent.path}/sealed.pdf")).status_code == 404


async def test_sign_then_countersign_then_sealed_pdf(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    sent = send_contract(web_ctx, "http-sign")
    csrf = await form_token(client, sent.path)
    contract = get(sent.number, ctx=web_ctx)
    wrong = "000000" if sent.code != "000000" else "111111"
    bad = await client.post(
        sent.path, data={"csrf": csrf, "code": wrong, "document_sha256": contract.document_sha256}
    )
    assert bad.status_code == 422
    assert "Còn 4 lần thử" in bad.text
    ok = await client.post(
        sent.path,
        data={"csrf": csrf, "code": sent.code, "document_sha256": contract.document_sha256},
        headers={"user-agent": "pytest-portal"},
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == sent.path
    page = await client.get(sent.path)
    assert 'id="confirmed"' in page.text
    assert get(sent.number, ctx=web_ctx).status.value == "consented"

    # The representative's code goes by e-mail with its own link.
    request_consent(sent.number, channel="email", ctx=web_ctx)
    rep_link, rep_code = read_email(web_ctx)
    rep_path = "/c/" + rep_link.rsplit("/", 1)[1]
    csrf = await form_token(client, rep_path)
    done = await client.post(
        rep_path, data={"csrf": csrf, "code": rep_code, "document_sha256": contract.document_sha256}
    )
    assert done.status_code == 303
    sealed_page = await client.get(sent.path)
    assert 'id="sealed"' in sealed_page.text
    sealed = await client.get(f"{sent.path}/sealed.pdf")
    assert sealed.status_code == 200
    assert sealed.headers["content-disposition"].startswith("attachment")
    report = await verified(sealed.content, web_ctx)
    assert report.ok, report.text()
    proof = await client.get(f"{sent.path}/audit-proof.json")
    assert proof.status_code == 200
    result = verify_bundle(proof.content, log_public_key_string(web_ctx.settings))
    assert result.ok, result.summary()
    evidence = get(sent.number, ctx=web_ctx)
    assert evidence.status.value == "sealed"


async def test_five_wrong_codes_lock_the_challenge(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    sent = send_contract(web_ctx, "http-lock")
    csrf = await form_token(client, sent.path)
    sha = get(sent.number, ctx=web_ctx).document_sha256
    wrong = "000000" if sent.code != "000000" else "111111"
    statuses = []
    for _ in range(5):
        r = await client.post(sent.path, data={"csrf": csrf, "code": wrong, "document_sha256": sha})
        statuses.append(r.status_code)
    assert statuses == [422, 422, 422, 422, 423]
    assert 'id="locked"' in r.text
    late = await client.post(
        sent.path, data={"csrf": csrf, "code": sent.code, "document_sha256": sha}
    )
    assert late.status_code == 423
    assert get_challenge(sent.challenge_id, web_ctx).status == "locked"
    assert get(sent.number, ctx=web_ctx).status.value == "sent"


async def test_changed_document_and_malformed_code_use_no_try(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    sent = send_contract(web_ctx, "http-changed")
    csrf = await form_token(client, sent.path)
    other = await client.post(
        sent.path, data={"csrf": csrf, "code": sent.code, "document_sha256": "ab" * 32}
    )
    assert other.status_code == 409
    assert "Văn bản đã thay đổi" in other.text
    sha = get(sent.number, ctx=web_ctx).document_sha256
    malformed = await client.post(
        sent.path, data={"csrf": csrf, "code": "12ab", "document_sha256": sha}
    )
    assert malformed.status_code == 422
    assert "đúng 6 chữ số" in malformed.text
    assert get_challenge(sent.challenge_id, web_ctx).attempts == 0


async def test_csrf_is_required(client: httpx.AsyncClient, web_ctx: Context) -> None:
    sent = send_contract(web_ctx, "http-csrf")
    await client.get(sent.path)
    for data in ({"code": sent.code}, {"code": sent.code, "csrf": "0" * 32}):
        refused = await client.post(sent.path, data=data)
        assert refused.status_code == 403
        assert "Phiên biểu mẫu đã hết hạn" in refused.text
    csrf = await form_token(client, sent.path)
    client.cookies.clear()
    no_cookie = await client.post(sent.path, data={"code": sent.code, "csrf": csrf})
    assert no_cookie.status_code == 403
    assert get_challenge(sent.challenge_id, web_ctx).attempts == 0
    for path in ("/hoa-don", "/kiem-tra", f"{sent.path}/resend"):
        assert (await client.post(path, data={"csrf": csrf})).status_code == 403


async def test_one_uniform_404(
    client: httpx.AsyncClient, web_ctx: Context, invoice: IssuedInvoice
) -> None:
    sent = send_contract(web_ctx, "http-404")
    forged = sent.token[:-2] + ("AA" if sent.token[-2:] != "AA" else "BB")
    unknown_challenge = link_token(
        "00000000-0000-4000-8000-000000000000",
        web_ctx.clock.now() + timedelta(hours=1),
        web_ctx.settings,
    )
    bodies = set()
    for path in (
        "/c/not-a-token",
        f"/c/{forged}",
        f"/c/{unknown_challenge}",
        f"/c/{forged}/document.pdf",
        "/hoa-don/t/AAAA/invoice.pdf",
        "/no-such-page",
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        bodies.add(r.text)
    csrf = await form_token(client, "/hoa-don")
    for code, tax in (
        ("2222-2222-2222", SELLER_TAX_CODE),  # well-formed? check char decides; not an invoice
        (invoice.lookup_code, "0100686209"),  # the right code, another seller
        ("junk", SELLER_TAX_CODE),
        (invoice.lookup_code, "12"),
    ):
        r = await client.post(
            "/hoa-don", data={"csrf": csrf, "lookup_code": code, "seller_tax_code": tax}
        )
        assert r.status_code == 404
        bodies.add(r.text)
    assert len(bodies) == 1  # nothing tells a missing code from a wrong one
    api = await client.post(
        "/api/v1/invoices/lookup",
        json={"lookup_code": invoice.lookup_code, "seller_tax_code": "0100686209"},
    )
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"


async def test_expired_link_and_expired_code_and_resend(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    clock = web_ctx.clock
    assert isinstance(clock, ManualClock)
    start = clock.now()
    sent = send_contract(web_ctx, "http-expiry")
    sha = get(sent.number, ctx=web_ctx).document_sha256
    csrf = await form_token(client, sent.path)
    try:
        too_soon = await client.post(f"{sent.path}/resend", data={"csrf": csrf})
        assert too_soon.status_code == 429
        assert "Quá nhiều yêu cầu" in too_soon.text
        clock.advance(301)
        page = await client.get(sent.path)
        assert 'id="expired"' in page.text
        late = await client.post(
            sent.path, data={"csrf": csrf, "code": sent.code, "document_sha256": sha}
        )
        assert late.status_code == 410
        assert "Mã đã hết hạn" in late.text
        resent = await client.post(f"{sent.path}/resend", data={"csrf": csrf})
        assert resent.status_code == 303
        assert resent.headers["location"] == f"{sent.path}?sent=1"
        shown = await client.get(resent.headers["location"])
        assert "Đã gửi mã mới tới" in shown.text
        assert_no_raw_contacts(shown.text)
        new_link, new_code = parse_sms(last_message(web_ctx))
        assert new_code != sent.code or new_link != sent.link
        again = await client.post(f"{sent.path}/resend", data={"csrf": csrf})
        assert again.status_code == 429  # cooldown
        old = await client.post(
            sent.path, data={"csrf": csrf, "code": sent.code, "document_sha256": sha}
        )
        if sent.code != new_code:
            assert old.status_code == 422
        ok = await client.post(
            sent.path, data={"csrf": csrf, "code": new_code, "document_sha256": sha}
        )
        assert ok.status_code == 303
        clock.advance(web_ctx.settings.portal_link_ttl_seconds)
        gone = await client.get(sent.path)
        assert gone.status_code == 410
        assert "Liên kết đã hết hạn" in gone.text
        assert (await client.get(f"{sent.path}/document.pdf")).status_code == 410
        assert (await client.get(f"/api/v1/contracts/{sent.token}")).json()[
            "error"
        ] == "link_expired"
    finally:
        clock.set(start)


async def test_rate_limits_per_challenge_and_per_ip(
    web_ctx: Context, invoice: IssuedInvoice
) -> None:
    app = create_app(web_ctx, PortalSettings(confirms_per_window=2, lookups_per_minute=2))
    sent = send_contract(web_ctx, "http-rate")
    sha = get(sent.number, ctx=web_ctx).document_sha256
    wrong = "000000" if sent.code != "000000" else "111111"
    seen = []
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        transport = httpx.ASGITransport(app=app, client=(ip, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            csrf = await form_token(c, sent.path)
            r = await c.post(sent.path, data={"csrf": csrf, "code": wrong, "document_sha256": sha})
            seen.append(r.status_code)
    assert seen == [422, 422, 429]  # the third IP hits the challenge's own limit
    assert get_challenge(sent.challenge_id, web_ctx).attempts == 2
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        csrf = await form_token(c, "/hoa-don")
        data = {
            "csrf": csrf,
            "lookup_code": invoice.lookup_code,
            "seller_tax_code": SELLER_TAX_CODE,
        }
        codes = [(await c.post("/hoa-don", data=data)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = await c.post("/hoa-don", data=data)
        assert int(limited.headers["retry-after"]) >= 1
    busy = create_app(web_ctx, PortalSettings(requests_per_minute=3))
    transport = httpx.ASGITransport(app=busy, client=("198.51.100.10", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        codes = [(await c.get("/api/v1/health")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert (await c.get("/static/portal.css")).status_code == 200


# -- invoices ----------------------------------------------------------------------------------


async def test_invoice_lookup_downloads_and_verification(
    client: httpx.AsyncClient, web_ctx: Context, invoice: IssuedInvoice
) -> None:
    csrf = await form_token(client, "/hoa-don")
    page = await client.post(
        "/hoa-don",
        data={
            "csrf": csrf,
            "lookup_code": invoice.lookup_code.lower().replace("-", " "),
            "seller_tax_code": SELLER_TAX_CODE,
        },
    )
    assert page.status_code == 200
    assert invoice.label in page.text
    assert 'data-ok="true"' in page.text
    assert page.text.count("✔") >= 2  # the PDF's and the embedded XML's signature
    assert "000201" in page.text  # the VietQR payload
    assert "Số tài khoản: 0011001234567" in page.text
    token = re.search(r"/hoa-don/t/([A-Za-z0-9_-]+)/invoice.pdf", page.text)
    assert token is not None
    pdf = await client.get(f"/hoa-don/t/{token.group(1)}/invoice.pdf")
    assert pdf.status_code == 200
    assert (await verified(pdf.content, web_ctx)).ok
    assert pdf.content == invoice.pdf_path.read_bytes()  # type: ignore[union-attr]
    xml = await client.get(f"/hoa-don/t/{token.group(1)}/invoice.xml")
    assert xml.headers["content-type"].startswith("application/xml")
    assert (await verified(xml.content, web_ctx)).ok
    proof = await client.get(f"/hoa-don/t/{token.group(1)}/audit-proof.json")
    assert verify_bundle(proof.content, log_public_key_string(web_ctx.settings)).ok
    assert invoice.lookup_code not in str(pdf.url)
    clock = web_ctx.clock
    assert isinstance(clock, ManualClock)
    start = clock.now()
    clock.advance(31 * 60)
    try:
        assert (await client.get(f"/hoa-don/t/{token.group(1)}/invoice.pdf")).status_code == 404
    finally:
        clock.set(start)
    api = await client.post(
        "/api/v1/invoices/lookup",
        json={"lookup_code": invoice.lookup_code, "seller_tax_code": SELLER_TAX_CODE},
    )
    body = api.json()
    assert body["invoice"]["label"] == invoice.label
    assert body["verification"]["ok"] is True
    assert body["vietqr"].startswith("000201")
    assert "pdf" not in body["invoice"]
    assert (await client.get(body["downloads"]["pdf"])).status_code == 200


# -- verify any file -------------------------------------------------------------------------


async def test_verify_upload_reports_and_refuses(
    client: httpx.AsyncClient, web_ctx: Context, invoice: IssuedInvoice
) -> None:
    pdf = invoice.pdf_path.read_bytes()  # type: ignore[union-attr]
    xml = invoice.xml_path.read_bytes()  # type: ignore[union-attr]
    csrf = await form_token(client, "/kiem-tra")
    ok = await client.post(
        "/kiem-tra", data={"csrf": csrf}, files={"file": ("hd.pdf", pdf, "application/pdf")}
    )
    assert ok.status_code == 200
    assert 'data-ok="true"' in ok.text
    assert "HỢP LỆ" in ok.text
    ok_xml = await client.post(
        "/kiem-tra", data={"csrf": csrf}, files={"file": ("hd.xml", xml, "text/xml")}
    )
    assert 'data-ok="true"' in ok_xml.text
    tampered = bytearray(pdf)
    where = pdf.index(b"/Contents") // 2
    tampered[where] ^= 0x01
    bad = await client.post(
        "/kiem-tra",
        data={"csrf": csrf},
        files={"file": ("hd.pdf", bytes(tampered), "application/pdf")},
    )
    assert bad.status_code == 200
    assert 'data-ok="false"' in bad.text
    wrong_type = await client.post(
        "/kiem-tra", data={"csrf": csrf}, files={"file": ("a.txt", b"hello", "text/plain")}
    )
    assert wrong_type.status_code == 415
    mismatch = await client.post(
        "/kiem-tra", data={"csrf": csrf}, files={"file": ("a.xml", pdf, "application/xml")}
    )
    assert mismatch.status_code == 415
    nothing = await client.post("/kiem-tra", data={"csrf": csrf})
    assert nothing.status_code == 422
    before = sorted(p.name for p in web_ctx.data_dir.rglob("*"))
    small = create_app(web_ctx, PortalSettings(max_upload_bytes=1000))
    transport = httpx.ASGITransport(app=small, client=("192.0.2.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        csrf = await form_token(c, "/kiem-tra")
        big = await c.post(
            "/kiem-tra",
            data={"csrf": csrf},
            files={"file": ("b.pdf", b"%PDF-" + b"0" * 2000, "application/pdf")},
        )
        assert big.status_code == 413
        huge = await c.post(
            "/kiem-tra",
            data={"csrf": csrf},
            files={"file": ("b.pdf", b"%PDF-" + b"0" * 100_000, "application/pdf")},
        )
        assert huge.status_code == 413  # refused from Content-Length, before parsing
        api_big = await c.post(
            "/api/v1/verify",
            content=b"%PDF-" + b"0" * 2000,
            headers={"content-type": "application/pdf"},
        )
        assert api_big.status_code == 413
    assert sorted(p.name for p in web_ctx.data_dir.rglob("*")) == before  # nothing kept
    api = await client.post(
        "/api/v1/verify", content=pdf, headers={"content-type": "application/pdf"}
    )
    assert api.json()["ok"] is True
    api_type = await client.post(
        "/api/v1/verify", content=pdf, headers={"content-type": "text/plain"}
    )
    assert api_type.status_code == 415
    api_empty = await client.post(
        "/api/v1/verify", content=b"", headers={"content-type": "application/pdf"}
    )
    assert api_empty.status_code == 422


# -- transparency and the JSON API -------------------------------------------------------------


async def test_transparency_page_and_checkpoint(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    send_contract(web_ctx, "http-transparency")
    checkpoint = publish_checkpoint(web_ctx)
    page = await client.get("/minh-bach")
    assert checkpoint.note.splitlines()[2] in page.text
    key = log_public_key_string(web_ctx.settings)
    assert key in page.text
    assert f"evservice audit verify-bundle audit-proof.json --key &#39;{key}&#39;" in page.text
    note = await client.get("/minh-bach/checkpoint.txt")
    assert note.text == checkpoint.note
    script = await client.get("/minh-bach/evservice_offline.py")
    assert b"def verify_bundle" in script.content
    api = (await client.get("/api/v1/checkpoint")).json()
    assert api["public_key"] == key
    assert api["checkpoint"]["size"] == checkpoint.size


async def test_api_contract_flow_and_errors(client: httpx.AsyncClient, web_ctx: Context) -> None:
    sent = send_contract(web_ctx, "http-api")
    state = (await client.get(f"/api/v1/contracts/{sent.token}")).json()
    assert state["state"] == "pending"
    assert state["tries_left"] == 5
    assert_no_raw_contacts(str(state))
    sha = state["document_sha256"]
    url = f"/api/v1/contracts/{sent.token}/confirm"
    wrong = "000000" if sent.code != "000000" else "111111"
    bad = await client.post(url, json={"code": wrong, "document_sha256": sha})
    assert bad.status_code == 422
    assert bad.json() == {
        "error": "code_mismatch",
        "message": "Mã không đúng. Còn 4 lần thử.",
        "tries_left": 4,
    }
    changed = await client.post(url, json={"code": sent.code, "document_sha256": "0" * 64})
    assert changed.json()["error"] == "changed"
    invalid = await client.post(url, json={"code": 123})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "invalid"
    cooldown = await client.post(f"/api/v1/contracts/{sent.token}/resend")
    assert cooldown.status_code == 429
    assert int(cooldown.headers["retry-after"]) >= 1
    ok = await client.post(url, json={"code": sent.code, "document_sha256": sha})
    assert ok.json() == {"contract": sent.number, "status": "consented"}
    used = await client.post(url, json={"code": sent.code, "document_sha256": sha})
    assert used.status_code in (409, 423)
    assert (await client.get("/api/v1/contracts/bad")).status_code == 404


async def test_no_raw_contact_in_logs(
    client: httpx.AsyncClient, web_ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    sent: Sent = send_contract(web_ctx, "http-logs")
    csrf = await form_token(client, sent.path)
    sha = get(sent.number, ctx=web_ctx).document_sha256
    await client.post(sent.path, data={"csrf": csrf, "code": "999999", "document_sha256": sha})
    await client.post(sent.path, data={"csrf": csrf, "code": sent.code, "document_sha256": sha})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert text
    assert_no_raw_contacts(text)
    assert sent.code not in text
