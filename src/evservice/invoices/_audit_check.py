"""Does every invoice row still say what its audit events say?

The ``invoice.issued`` event carries the total payable, the issue date and the
SHA-256 of the draft exactly as issued; ``invoice.signed`` carries the SHA-256
of the signed XML and PDF. Someone who edits an invoice's amount or draft in
its table (and not in the log, which they cannot rewrite unnoticed) is caught
here. :func:`audit_check` is a domain check for
:func:`evservice.audit.verify_log` (``evservice audit verify`` runs it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from evservice import audit
from evservice._context import Context, resolve
from evservice.errors import StoreError
from evservice.invoices._identifiers import format_number
from evservice.invoices._issued import stored_draft
from evservice.invoices._tables import InvoiceRow

__all__ = ["audit_check"]

_INVOICES = InvoiceRow.__table__  # type: ignore[attr-defined]
_CHUNK = 1000
_TYPES = ("invoice.issued", "invoice.signed")


def _problem(detail: str) -> audit.LogProblem:
    return audit.LogProblem("domain", None, detail)


def _compare(
    row: Any, events: list[audit.SubjectEvent], ctx: Context, conn: Connection
) -> Iterator[audit.LogProblem]:
    label = f"{row.template}{row.series}-{format_number(int(row.number))}"
    name = f"invoice {label} ({row.id})"
    issued = [e for e in events if e.type == "invoice.issued"]
    if not issued:
        yield _problem(f"{name} has no invoice.issued event in the log or its queue")
        return
    data = issued[0].data
    try:
        draft = hashlib.sha256(stored_draft(row, ctx, conn).encode()).hexdigest()
    except StoreError:
        draft = "does not decrypt"  # a sealed draft that was edited fails its tag
    if data.get("total_payable") != int(row.total_payable):
        yield _problem(
            f"{name}: total_payable {row.total_payable} in its row differs from "
            f"{data.get('total_payable')} in its invoice.issued event: the row was edited"
        )
    if data.get("draft_sha256") != draft:
        yield _problem(
            f"{name}: its stored draft no longer hashes to the draft_sha256 of its "
            "invoice.issued event: the draft was edited"
        )
    if data.get("issue_date") != row.issue_date.isoformat():
        yield _problem(f"{name}: issue_date in its row differs from its invoice.issued event")
    if data.get("invoice") != label:
        yield _problem(f"{name}: its number or series differs from its invoice.issued event")
    signed = [e for e in events if e.type == "invoice.signed"]
    if row.xml_sha256 is not None and signed:
        last = signed[-1].data
        for field in ("xml_sha256", "pdf_sha256"):
            if last.get(field) != getattr(row, field):
                yield _problem(f"{name}: {field} in its row differs from its invoice.signed event")
    elif row.xml_sha256 is not None:
        yield _problem(f"{name} has stored documents but no invoice.signed event")


def audit_check(conn: Connection, ctx: Context | None = None) -> Iterator[audit.LogProblem]:
    """Compare every invoice row with its events, a chunk of rows at a time.

    ``ctx`` names the KEK that opens the sealed drafts (default: the process's
    context); pass ``functools.partial(audit_check, ctx=ctx)`` as a domain check.
    """
    ctx = resolve(ctx)
    columns = [
        _INVOICES.c[name]
        for name in (
            "id", "template", "series", "number", "issue_date", "total_payable",
            "draft_json", "xml_sha256", "pdf_sha256",
        )
    ]  # fmt: skip
    last: str | None = None
    while True:
        query = sa.select(*columns).order_by(_INVOICES.c.id).limit(_CHUNK)
        if last is not None:
            query = query.where(_INVOICES.c.id > last)
        rows = conn.execute(query).all()
        if not rows:
            return
        last = rows[-1].id
        events = audit.events_of_subjects(conn, [r.id for r in rows], _TYPES)
        for row in rows:
            yield from _compare(row, events[row.id], ctx, conn)
