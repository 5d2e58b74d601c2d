"""An invoice row edited behind the log's back is caught by ``audit verify`` (issue 19.8).

The ``invoice.issued`` event carries the total and the SHA-256 of the draft,
``invoice.signed`` the hashes of the documents; each edit of the row is named
as a ``domain`` problem. Both back ends.
"""

from __future__ import annotations

import functools

import pytest
import sqlalchemy as sa

from evservice import audit
from evservice._context import Context
from evservice.audit._log import queue_many
from evservice.invoices import audit_check, get, issue, record_invoice

from .test_issue import make_draft


@pytest.fixture
def issued(ctx: Context) -> list[str]:
    ids = [issue(make_draft(f"PA0100000{i}-2026-10"), ctx=ctx).row_id for i in range(1, 4)]
    audit.publish_checkpoint(ctx)
    return ids


def _verify(ctx: Context) -> audit.LogVerification:
    return audit.verify_log(ctx, domain_checks=[functools.partial(audit_check, ctx=ctx)])


def _edit(ctx: Context, statement: str, **params: object) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_intact_invoices_agree_with_their_events(ctx: Context, issued: list[str]) -> None:
    result = _verify(ctx)
    assert result.ok, result.summary()


def test_an_edited_amount_is_caught(ctx: Context, issued: list[str]) -> None:
    _edit(ctx, "update invoice set total_payable = total_payable - 1 where id = :i", i=issued[1])
    result = _verify(ctx)
    assert [p.kind for p in result.problems] == ["domain"]
    assert "1C26TAA-00000002" in result.summary()
    assert "total_payable" in result.summary()
    assert "the row was edited" in result.summary()


def _stored_draft(ctx: Context, invoice_id: str) -> str:
    with ctx.engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("select draft_json from invoice where id = :i"), {"i": invoice_id}
            ).scalar_one()
        )


def test_an_edited_draft_is_caught(ctx: Context, issued: list[str]) -> None:
    """The draft is sealed: one character of its ciphertext changed fails its tag."""
    sealed = _stored_draft(ctx, issued[0])
    assert sealed.startswith("ev1:")
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    _edit(ctx, "update invoice set draft_json = :d where id = :i", d=flipped, i=issued[0])
    result = _verify(ctx)
    assert [p.kind for p in result.problems] == ["domain"]
    assert "the draft was edited" in result.summary()


def test_a_draft_replaced_by_edited_plaintext_is_caught(ctx: Context, issued: list[str]) -> None:
    edited = get(issued[0], ctx=ctx).invoice.draft.model_dump_json().replace("2998", "2999")
    _edit(ctx, "update invoice set draft_json = :d where id = :i", d=edited, i=issued[0])
    result = _verify(ctx)
    assert [p.kind for p in result.problems] == ["domain"]
    assert "the draft was edited" in result.summary()


def test_edited_document_hashes_are_caught(ctx: Context, issued: list[str]) -> None:
    _edit(ctx, "update invoice set pdf_sha256 = :h where id = :i", h="0" * 64, i=issued[2])
    result = _verify(ctx)
    assert [p.kind for p in result.problems] == ["domain"]
    assert "pdf_sha256 in its row differs from its invoice.signed event" in result.summary()


def test_an_invoice_whose_event_was_lost_is_caught(
    ctx: Context, issued: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued event dropped before integration (or an invoice row inserted by hand)."""
    # SQLite appends in place; queue this one on both back ends, as PostgreSQL does.
    monkeypatch.setattr(audit, "record_many", queue_many)
    pending = record_invoice(make_draft("PA01000009-2026-10"), ctx=ctx)
    monkeypatch.undo()
    assert _verify(ctx).ok  # still queued: not missing
    _edit(ctx, "delete from audit_queue")
    result = _verify(ctx)
    assert [p.kind for p in result.problems] == ["domain"]
    assert f"({pending.row_id}) has no invoice.issued event" in result.summary()
