"""The portal with authenticator apps: the enrolment page (QR, first code, recovery codes) and
signing a contract with the app's code or a recovery code, through httpx on the ASGI app."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from PIL import Image
from tests.otp.test_totp_qr import _rasterise_svg, _scan
from tests.web.conftest import contract_draft

from evservice import Context, contracts, otp
from evservice.clock import ManualClock
from evservice.web import PortalSettings, create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(web_ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(web_ctx, PortalSettings(lookups_per_minute=1000, confirms_per_window=1000))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', page)
    assert found is not None, page[:500]
    return found.group(1)


def _path(link: str | None) -> str:
    assert link is not None
    return "/" + link.split("/", 3)[3]


def _clock(ctx: Context) -> ManualClock:
    assert isinstance(ctx.clock, ManualClock)
    return ctx.clock


async def test_enrolment_page_shows_a_scannable_code_then_recovery_codes(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    new = otp.enrol_totp("PD0900", ctx=web_ctx)
    path = _path(otp.enrolment_link(new.enrolment.id, web_ctx))
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    svg = re.search(r"<svg .*?</svg>", page.text, re.S)
    assert svg is not None
    image: Image.Image = _rasterise_svg(svg.group(0))
    assert _scan(image) == [new.uri]
    assert new.secret_groups in page.text

    csrf = _csrf(page.text)
    right = otp.totp_code(new.secret, web_ctx.clock.now())
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    refused = await client.post(path, data={"code": wrong, "csrf": csrf})
    assert refused.status_code == 422
    assert "Còn 4 lần thử" in refused.text
    assert wrong not in refused.text
    forged = await client.post(path, data={"code": right, "csrf": "0" * 32})
    assert forged.status_code == 403
    done = await client.post(path, data={"code": right, "csrf": csrf})
    assert done.status_code == 200
    codes = re.findall(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>", done.text)
    assert len(codes) == 10
    assert new.secret_groups not in done.text
    assert "<svg" not in done.text

    again = await client.get(path)
    assert again.status_code == 200
    assert new.secret_groups not in again.text
    assert "<svg" not in again.text
    assert not set(codes) & set(re.findall(r"[a-z2-9]{5}-[a-z2-9]{5}", again.text))
    assert otp.get_enrolment("PD0900", ctx=web_ctx).recovery_codes_left == 10


async def test_enrolment_links_are_their_own(client: httpx.AsyncClient, web_ctx: Context) -> None:
    new = otp.enrol_totp("PD0901", ctx=web_ctx)
    contract_token = otp.link_token(
        new.enrolment.id, web_ctx.clock.now() + timedelta(hours=1), web_ctx.settings
    )
    assert (await client.get(f"/totp/{contract_token}")).status_code == 404
    assert (await client.get(f"/c/{contract_token}")).status_code == 404
    stale = otp.link_token(
        new.enrolment.id,
        web_ctx.clock.now() - timedelta(seconds=1),
        web_ctx.settings,
        purpose=otp.ENROLMENT_LINK,
    )
    assert (await client.get(f"/totp/{stale}")).status_code == 410


async def _sign(client: httpx.AsyncClient, path: str, code: str) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200
    digest = re.search(r'data-sha256="([0-9a-f]{64})"', page.text)
    assert digest is not None
    return await client.post(
        path, data={"code": code, "document_sha256": digest.group(1), "csrf": _csrf(page.text)}
    )


async def test_signing_with_the_app_and_a_recovery_code(
    client: httpx.AsyncClient, web_ctx: Context
) -> None:
    clock = _clock(web_ctx)
    customer = otp.enrol_totp("PD0902", ctx=web_ctx)
    otp.confirm_enrolment(
        customer.enrolment.id, otp.totp_code(customer.secret, clock.now()), ctx=web_ctx
    )
    rep = otp.enrol_totp("NV-0902", kind="representative", ctx=web_ctx)
    recovery = otp.confirm_enrolment(
        rep.enrolment.id, otp.totp_code(rep.secret, clock.now()), ctx=web_ctx
    )
    draft = contract_draft("web-totp-1")
    draft["customer"]["customer_code"] = "PD0902"
    draft["provider"]["representative_code"] = "NV-0902"
    contract = contracts.create(draft, ctx=web_ctx)
    asked = contracts.request_consent(contract.id, channel="totp", ctx=web_ctx)
    path = _path(asked.link)

    page = await client.get(path)
    assert 'id="totp-note"' in page.text
    assert 'id="resend-form"' not in page.text
    reused = await _sign(client, path, otp.totp_code(customer.secret, clock.now()))
    assert reused.status_code == 409
    assert "không tính" in reused.text  # no try was counted
    clock.advance(30)
    signed = await _sign(client, path, otp.totp_code(customer.secret, clock.now()))
    assert signed.status_code == 303
    assert contracts.get(contract.id, ctx=web_ctx).status.value == "consented"

    countersign = contracts.request_consent(contract.id, channel="totp", ctx=web_ctx)
    done = await _sign(client, _path(countersign.link), recovery[0].upper())
    assert done.status_code == 303
    sealed = await client.get(_path(countersign.link))
    assert 'id="sealed"' in sealed.text
    assert html.escape(recovery[0]) not in sealed.text
