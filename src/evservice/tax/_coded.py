"""Invoices with the authority's code: the code (``MCCQT``) put into the invoice's XML.

An invoice of a series whose letter is ``C`` is sent to the authority first
(message 200, the signed ``HDon``) and comes back with its code in message 202.
The code goes into ``HDon/MCCQT[@Id]``, between ``DLHDon`` and ``DSCKS``
(outside what the seller signed, so the seller's signature stays valid); the
coded XML is written beside the other tax files. Until then the invoice is
"waiting for code" (:func:`invoice_code` gives ``None``).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

from lxml import etree
from sqlmodel import Session

from evservice._context import Context, resolve
from evservice._files import write_atomically
from evservice.errors import DocumentError, ValidationError
from evservice.store import transaction
from evservice.tax._tables import TaxInvoiceCodeRow

__all__ = ["CODE", "insert_code", "invoice_code", "record_code"]

#: What an MCCQT may look like here: up to 34 upper-case letters and digits.
CODE = re.compile(r"^[0-9A-Z]{1,34}$")


def insert_code(xml: bytes, code: str) -> bytes:
    """The invoice XML with ``<MCCQT Id="MCCQT">code</MCCQT>`` after ``DLHDon``."""
    if not CODE.match(code):
        raise ValidationError("code", "must be 1 to 34 upper-case letters and digits")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"the invoice XML is not well-formed: {exc}") from exc
    content = root.find("DLHDon")
    if root.tag != "HDon" or content is None:
        raise DocumentError("the invoice XML has no HDon/DLHDon")
    if root.find("MCCQT") is not None:
        raise DocumentError("the invoice XML already carries a code")
    element = etree.Element("MCCQT", Id="MCCQT")
    element.text = code
    content.addnext(element)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def record_code(
    session: Session, ctx: Context, invoice_id: str, code: str, xml: bytes, at: datetime
) -> str | None:
    """Store the code and write the coded XML once; the coded file's SHA-256, or None if known."""
    row = session.get(TaxInvoiceCodeRow, invoice_id, with_for_update=True)
    if row is None or row.code is not None:
        return None
    coded = insert_code(xml, code)
    relative = Path("tax") / "coded" / f"{invoice_id}.xml"
    path = ctx.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, coded)
    row.code, row.coded_xml_path, row.received_at = code, relative.as_posix(), at
    session.add(row)
    return hashlib.sha256(coded).hexdigest()


def invoice_code(invoice_id: str, *, ctx: Context | None = None) -> str | None:
    """The authority's code of the invoice, or None while it waits for one (or was never sent)."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = session.get(TaxInvoiceCodeRow, str(invoice_id))
        return None if row is None else row.code
