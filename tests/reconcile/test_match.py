"""Matching transfers to receivables on both back ends: every bucket, credit, replacement."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import sequence_pending, verify_log
from evservice.batch import BatchCredit
from evservice.errors import NotFoundError, ValidationError
from evservice.payments import reference
from evservice.reconcile import apply_reviewed, open_receivables, reconcile

from .conftest import SERIES, memo_for, receivable, transfer


def _receivable_row(ctx: Context, invoice_id: str) -> sa.Row:
    with ctx.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT paid, status, replaced_by FROM reconcile_receivable WHERE invoice_id = :i"
            ),
            {"i": invoice_id},
        ).one()


def _audit_types(ctx: Context) -> list[str]:
    sequence_pending(ctx)  # the events are queued; the sequencer gives them their order
    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT type FROM audit_event ORDER BY idx")).scalars())


def test_reference_partial_full_over_and_duplicate(ctx: Context) -> None:
    open_receivables([receivable(n) for n in range(1, 6)], ctx=ctx)
    report = reconcile(
        [
            transfer("T1", 250_000, memo_for(1)),  # exact
            transfer("T2", 100_000, memo_for(2)),  # partial
            transfer("T3", 300_000, memo_for(3)),  # over by 50,000
            transfer("T1", 250_000, memo_for(1)),  # the same bank transaction again
        ],
        ctx=ctx,
    )
    by_ref = {o.bank_ref: o for o in report.outcomes}
    assert [o.status for o in report.outcomes] == ["applied", "applied", "applied", "duplicate"]
    assert by_ref["T2"].reason == "reference, partly paid"
    assert by_ref["T3"].reason == "reference, overpaid"
    assert by_ref["T3"].credit == Decimal(50_000)
    assert _receivable_row(ctx, "inv-00000001").status == "paid"
    assert tuple(_receivable_row(ctx, "inv-00000002")) == (100_000, "partly_paid", None)
    assert tuple(_receivable_row(ctx, "inv-00000003")) == (250_000, "paid", None)
    # Importing the whole statement again applies nothing.
    again = reconcile(
        [transfer("T1", 250_000, memo_for(1)), transfer("T2", 100_000, memo_for(2))], ctx=ctx
    )
    assert again.counts["duplicate"] == 2
    assert again.applied == 0
    assert _receivable_row(ctx, "inv-00000002").paid == 100_000
    # The rest of the partial payment completes the bill.
    reconcile([transfer("T4", 150_000, memo_for(2))], ctx=ctx)
    assert _receivable_row(ctx, "inv-00000002").status == "paid"
    assert _audit_types(ctx).count("payment.applied") == 4
    assert _audit_types(ctx).count("payment.credited") == 1
    assert verify_log(ctx=ctx).ok


def test_held_credit_is_spent_on_the_next_bill(ctx: Context) -> None:
    open_receivables([receivable(1, customer="PE1")], ctx=ctx)
    reconcile([transfer("T1", 300_000, memo_for(1))], ctx=ctx)
    open_receivables([receivable(2, 200_000, customer="PE1")], ctx=ctx)
    assert tuple(_receivable_row(ctx, "inv-00000002"))[:2] == (50_000, "partly_paid")
    assert "payment.credit_spent" in _audit_types(ctx)


def test_plan_overpayment_goes_to_the_batch_credit_ledger(ctx: Context) -> None:
    open_receivables([receivable(1, 270_000, customer="NET1", plan="FIBER100")], ctx=ctx)
    reconcile([transfer("T1", 378_000, memo_for(1))], ctx=ctx)  # 108,000 over, VAT 8%
    table = BatchCredit.__table__  # type: ignore[attr-defined]
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.customer_id, table.c.plan_code, table.c.balance)
        ).all()
    assert [tuple(r) for r in rows] == [("NET1", "FIBER100", 100_000)]
    # A second overpayment adds to the balance.
    open_receivables([receivable(2, 270_000, customer="NET1", plan="FIBER100")], ctx=ctx)
    reconcile([transfer("T2", 324_000, memo_for(2))], ctx=ctx)
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.select(table.c.balance)).scalar_one() == 150_000


def test_without_a_valid_reference_a_match_is_only_proposed(ctx: Context) -> None:
    open_receivables([receivable(1, customer="PE0100123456"), receivable(2)], ctx=ctx)
    good = reference.make("1", SERIES, 1)
    typo = good[:10] + ("1" if good[10] != "1" else "2") + good[11:]
    report = reconcile(
        [
            transfer("T1", 250_000, f"HD {typo} PE0100123456"),  # mistyped, customer named
            transfer("T2", 250_000, "tien dien thang 11", hint="PE0000000002"),  # no reference
            transfer("T3", 999_000, "tien dien PE0100123456"),  # amount does not match
            transfer("T4", 250_000, f"HD {reference.make('1', SERIES, 77)}"),  # unknown invoice
        ],
        ctx=ctx,
    )
    got = [(o.status, o.reason, o.invoice_id) for o in report.outcomes]
    assert got == [
        ("needs_review", "mistyped reference; amount and customer match", "inv-00000001"),
        ("needs_review", "no reference; amount and customer match", "inv-00000002"),
        ("unmatched", "no reference", None),
        ("unmatched", "unknown reference", None),
    ]
    assert _receivable_row(ctx, "inv-00000001").paid == 0
    assert "payment.applied" not in _audit_types(ctx)
    # The operator agrees: now it is applied, once.
    outcome = apply_reviewed(report.outcomes[0].key, ctx=ctx, actor="operator:lan")
    assert outcome.status == "applied"
    assert outcome.invoice_id == "inv-00000001"
    assert _receivable_row(ctx, "inv-00000001").status == "paid"
    with pytest.raises(ValidationError):
        apply_reviewed(report.outcomes[0].key, ctx=ctx)
    with pytest.raises(NotFoundError):
        apply_reviewed("0" * 40, ctx=ctx)
    with pytest.raises(ValidationError):
        apply_reviewed(report.outcomes[2].key, ctx=ctx)


def test_payments_for_a_replaced_invoice_move_to_the_replacement(ctx: Context) -> None:
    open_receivables([receivable(1, customer="PE1")], ctx=ctx)
    reconcile([transfer("T1", 100_000, memo_for(1))], ctx=ctx)
    open_receivables([receivable(2, 260_000, customer="PE1", replaces="inv-00000001")], ctx=ctx)
    assert tuple(_receivable_row(ctx, "inv-00000001"))[1:] == ("replaced", "inv-00000002")
    assert tuple(_receivable_row(ctx, "inv-00000002"))[:2] == (100_000, "partly_paid")
    # A late transfer with the old reference lands on the replacement.
    report = reconcile([transfer("T2", 160_000, memo_for(1))], ctx=ctx)
    assert report.outcomes[0].invoice_id == "inv-00000002"
    assert report.outcomes[0].reason == "reference of a replaced invoice"
    assert _receivable_row(ctx, "inv-00000002").status == "paid"
    assert "payment.moved" in _audit_types(ctx)


def test_a_dry_run_decides_and_writes_nothing(ctx: Context) -> None:
    open_receivables([receivable(1), receivable(2)], ctx=ctx)
    txs = [transfer("T1", 250_000, memo_for(1)), transfer("T1", 250_000, memo_for(1))]
    preview = reconcile(txs, ctx=ctx, dry_run=True, chunk_size=1)
    assert [o.status for o in preview.outcomes] == ["applied", "duplicate"]
    assert _receivable_row(ctx, "inv-00000001").paid == 0
    assert "payment.applied" not in _audit_types(ctx)
    assert reconcile(txs, ctx=ctx).counts == {"applied": 1, "duplicate": 1}
