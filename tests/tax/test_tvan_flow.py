"""Invoices sent for a code through the HTTP T-VAN, end to end: 999, then 202 or 204."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evservice import audit
from evservice._context import Context
from evservice.cli import main
from evservice.tax import HttpGateway, invoice_code, list_messages, request_code, send_pending

from .authority import Authority
from .conftest import SELLER_SETTINGS, Month
from .test_withcode import _coded_ctx
from .tvan import REASON, RECEIPT_REASON, serve


def _answers(ctx: Context, subject: str) -> list[tuple[str, bool]]:
    with ctx.engine.connect() as conn:
        events = audit.events_of_subjects(conn, [subject], ["tax.message.answered"])[subject]
    return [(e.data["response_type"], e.data["accepted"]) for e in events]  # type: ignore[misc]


def test_a_refused_invoice_gets_a_receipt_then_a_204_with_the_reason(
    month: Month, authority: Authority
) -> None:
    ctx = _coded_ctx(month.ctx)
    invoice = month.adjusted
    request_code(invoice.row_id, ctx=ctx)
    with serve("reject", authority=authority.signer()) as tvan:
        gateway = HttpGateway(tvan.url)
        report = send_pending(ctx, gateway)
        gateway.close()
    assert (report.submitted, report.answers) == (1, 2)
    (message,) = list_messages(ctx, status="rejected")
    assert message.reasons == (REASON,)
    assert invoice_code(invoice.row_id, ctx=ctx) is None
    assert tvan.codes == {}
    assert _answers(ctx, invoice.row_id) == [("999", True), ("204", False)]


def test_a_receipt_alone_leaves_the_invoice_waiting_and_a_refused_receipt_rejects(
    month: Month, authority: Authority
) -> None:
    ctx = _coded_ctx(month.ctx)
    request_code(month.adjusted.row_id, ctx=ctx)
    with serve(authority=authority.signer()) as tvan:
        tvan.answers_kept = 1  # only the 999 comes back for now
        gateway = HttpGateway(tvan.url)
        send_pending(ctx, gateway)
        (waiting,) = list_messages(ctx)
        assert waiting.status == "sent"  # the receipt is not the result
        tvan.answers_kept = None
        send_pending(ctx, gateway)
        gateway.close()
    assert [m.status for m in list_messages(ctx)] == ["accepted"]
    assert invoice_code(month.adjusted.row_id, ctx=ctx) is not None

    request_code(month.replaced.row_id, ctx=_coded_ctx(month.ctx))
    with serve("unreadable", authority=authority.signer()) as tvan:
        gateway = HttpGateway(tvan.url)
        send_pending(ctx, gateway)
        gateway.close()
    (refused,) = list_messages(ctx, status="rejected")
    assert refused.reasons == (RECEIPT_REASON,)
    assert invoice_code(month.replaced.row_id, ctx=ctx) is None


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_tax_send_through_the_tvan_codes_and_delivers(
    month: Month,
    authority: Authority,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """``evservice tax send`` with EVSERVICE_TAX_GATEWAY=tvan: 32 invoices coded and delivered."""
    settings = month.ctx.settings
    monkeypatch.chdir(tmp_path)
    for name, value in SELLER_SETTINGS.items():
        monkeypatch.setenv(f"EVSERVICE_{name.upper()}", value)
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("EVSERVICE_TAX_CODED_SERIES", "1C26TEV")
    with serve(authority=authority.signer()) as tvan:
        monkeypatch.setenv("EVSERVICE_TAX_GATEWAY", "tvan")
        monkeypatch.setenv("EVSERVICE_TAX_TVAN_URL", tvan.url)
        code, out, err = _run(capsys, "tax", "send", "--json")
        assert code == 0, err
        report = json.loads(out)
        again = _run(capsys, "tax", "send", "--json")
    assert report["queued_for_code"] == report["submitted"] == 32
    assert report["answers"] == 64  # a 999 and a 202 each
    assert report["coded_delivered"]["invoices"] == 32
    assert again[0] == 0
    assert json.loads(again[1])["coded_delivered"]["invoices"] == 0
    assert set(tvan.posts.values()) == {1}
    assert len(tvan.codes) == 32
    code, out, _ = _run(capsys, "tax", "status", "--status", "accepted", "--json")
    assert len(json.loads(out)) == 32
