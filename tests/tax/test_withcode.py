"""Invoices of coded series: queued once for their code, held back, delivered once coded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

import evservice
from evservice import audit
from evservice._context import Context
from evservice.batch import BatchOptions, parse_period, run_batch, write_demo_csv
from evservice.config import Settings
from evservice.delivery import list_outbox
from evservice.errors import ValidationError
from evservice.invoices import list_invoices
from evservice.tax import (
    MemoryGateway,
    Response,
    build_summary,
    deliver_coded,
    invoice_code,
    list_messages,
    queue_coded,
    request_code,
    send_pending,
)

from .conftest import BATCH_PERIOD, REPORT_PERIOD, Month

CUSTOMERS = 12


def _code(index: int) -> str:
    return f"00{index:032X}"


def _coded_ctx(ctx: Context) -> Context:
    settings = ctx.settings.model_copy(update={"tax_coded_series": "1C26TEV"})
    return Context(settings=settings, clock=ctx.clock)


def _answer_all(ctx: Context, gateway: MemoryGateway) -> dict[str, str]:
    """A 202 with a code for every message 200 sent; invoice id -> code."""
    codes = {}
    for index, message in enumerate(list_messages(ctx, limit=10_000)):
        if message.type == "200":
            codes[message.subject_id] = _code(index)
            gateway.answers.append(
                Response(
                    id=f"R{index}", message_id=message.id, type="202", accepted=True,
                    code=_code(index),
                )
            )  # fmt: skip
    return codes


def _events(ctx: Context, subjects: list[str], kind: str) -> dict[str, list[audit.SubjectEvent]]:
    with ctx.engine.connect() as conn:
        return audit.events_of_subjects(conn, subjects, [kind])


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "coded.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip


def test_the_setting_lists_c_series_only() -> None:
    settings = Settings(tax_coded_series=" 1c26taa, 2C26TBB ", _env_file=None)  # type: ignore[call-arg]
    assert settings.coded_series == {"1C26TAA", "2C26TBB"}
    assert settings.is_coded("1", "C26TAA")
    assert not settings.is_coded("1", "C26TBB")
    assert Settings(_env_file=None).coded_series == frozenset()  # type: ignore[call-arg]
    for bad in ("1K26TAA", "C26TAA", "1C26TA", "7C26TAA"):
        with pytest.raises(ValueError, match="C series"):
            Settings(tax_coded_series=bad, _env_file=None)  # type: ignore[call-arg]


def test_an_uncoded_series_is_refused(month: Month) -> None:
    with pytest.raises(ValidationError, match="not of a coded series"):
        request_code(month.replaced.row_id, ctx=month.ctx)
    assert queue_coded(month.ctx) == []


def test_the_sweep_queues_each_signed_invoice_once(month: Month) -> None:
    ctx = _coded_ctx(month.ctx)
    invoices = list_invoices(ctx=ctx, limit=10_000)
    first = queue_coded(ctx)
    assert len(first) == len(invoices) == 32  # the batch, a replacement, an adjustment
    assert queue_coded(ctx) == []
    by_invoice = {m.subject_id: m.id for m in list_messages(ctx, limit=10_000)}
    assert len(by_invoice) == 32
    assert request_code(month.adjustment.label, ctx=ctx) == by_invoice[month.adjustment.row_id]
    assert all(invoice_code(i.row_id, ctx=ctx) is None for i in invoices)


def test_coded_invoices_wait_then_are_delivered_once_with_the_code(
    tctx: Context, tmp_path: Path
) -> None:
    ctx = _coded_ctx(tctx)
    source = write_demo_csv(
        tmp_path / "input.csv", customers=CUSTOMERS, period=parse_period(BATCH_PERIOD)
    )
    batch = run_batch(source, BATCH_PERIOD, ctx=ctx, options=BatchOptions(workers=0, deliver=True))
    assert batch.issued == CUSTOMERS
    assert batch.deliveries["waiting_for_code"] == CUSTOMERS
    assert list_outbox(ctx, limit=1000) == []  # nothing went to a customer without its code
    ids = [i.row_id for i in list_invoices(ctx=ctx, limit=1000)]
    assert not any(_events(ctx, ids, "invoice.delivered").values())

    assert len(queue_coded(ctx)) == CUSTOMERS
    gateway = MemoryGateway()
    assert send_pending(ctx, gateway).submitted == CUSTOMERS
    assert deliver_coded(ctx).invoices == 0  # no code yet: still waiting
    codes = _answer_all(ctx, gateway)
    assert send_pending(ctx, gateway).answers == CUSTOMERS

    done = deliver_coded(ctx)
    assert done.invoices == CUSTOMERS
    assert done.sms == CUSTOMERS  # every demo customer has a phone
    assert done.emails + done.undeliverable > 0
    assert deliver_coded(ctx).invoices == 0  # once
    outbox = list_outbox(ctx, limit=1000)
    assert len(outbox) == done.emails + done.sms
    assert len({entry.id for entry in outbox}) == len(outbox)

    delivered = _events(ctx, ids, "tax.invoice.delivered")
    assert all(len(delivered[i]) == 1 for i in ids)
    some = ids[0]
    coded_dir = ctx.data_dir / "tax" / "coded"
    xml = (coded_dir / f"{some}.xml").read_bytes()
    assert etree.fromstring(xml).findtext("MCCQT") == codes[some]
    pdf = (coded_dir / f"{some}.pdf").read_bytes()
    assert f"Mã của cơ quan thuế (MCCQT): {codes[some]}" in _text(pdf, tmp_path)
    report = evservice.verify(pdf, ctx=ctx)
    assert all(s.ok for s in report.signatures)  # the seller signed the coded PDF again
    embedded = report.embedded_xml
    assert embedded is not None
    assert embedded.same_as_signed
    assert all(s.ok for s in embedded.signatures)  # the seller's XML signature still holds
    # These 202s give only the code, no authority-signed invoice (test_authority has
    # those): the code put in by us is outside every signature, and the verifier says so.
    assert embedded.content is not None
    assert embedded.content.uncovered == ("HDon/MCCQT",)
    assert codes[some].encode() in xml


def test_a_rerun_of_the_batch_after_the_code_does_not_deliver_twice(
    tctx: Context, tmp_path: Path
) -> None:
    ctx = _coded_ctx(tctx)
    source = write_demo_csv(tmp_path / "input.csv", customers=3, period=parse_period(BATCH_PERIOD))
    options = BatchOptions(workers=0, deliver=True)
    run_batch(source, BATCH_PERIOD, ctx=ctx, options=options)
    queue_coded(ctx)
    gateway = MemoryGateway()
    send_pending(ctx, gateway)
    _answer_all(ctx, gateway)
    send_pending(ctx, gateway)
    first = deliver_coded(ctx)
    again = run_batch(source, BATCH_PERIOD, ctx=ctx, options=options)
    assert again.issued == 0
    assert queue_coded(ctx) == []
    assert deliver_coded(ctx).invoices == 0
    assert len(list_outbox(ctx, limit=1000)) == first.emails + first.sms


def test_the_summary_table_leaves_coded_series_out(month: Month) -> None:
    build = build_summary(REPORT_PERIOD, ctx=_coded_ctx(month.ctx))
    assert build.created == build.tables == ()  # every invoice of the month is coded
    build = build_summary(REPORT_PERIOD, ctx=month.ctx)
    assert sum(t.invoices for t in build.tables) == 32
