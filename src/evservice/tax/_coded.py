"""Invoices with the authority's code: the coded XML (``HDon`` with ``MCCQT``) kept as the record.

An invoice of a coded series is sent to the authority first (message 200, the
signed ``HDon``) and comes back in message 202: the same ``HDon`` with
``MCCQT[@Id]`` between ``DLHDon`` and ``DSCKS`` and the authority's signature
in ``DSCKS/CQT`` (over ``HDon/MCCQT`` and its own ``SigningTime``, as the
format's ``DSCKS`` says). That returned XML is the document of record,
written as received once :func:`check_returned` finds it is the invoice we
sent (``DLHDon`` and the seller's signature unchanged), carrying the code the
answer gives, with an intact authority signature that covers the code. A 202
that gives only the code (no ``HDon``) gets the code put into our own XML
(:func:`insert_code`), marked as not signed by the authority. Until then the
invoice is "waiting for code" (:func:`invoice_code` gives ``None``).
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
from evservice.errors import DocumentError, SigningError, ValidationError
from evservice.signing import canonical_subset, check_signature, find_signatures, parse_xml
from evservice.store import transaction
from evservice.tax._tables import TaxInvoiceCodeRow

__all__ = ["CODE", "check_returned", "insert_code", "invoice_code", "record_code"]

#: What an MCCQT may look like here: up to 34 upper-case letters and digits.
CODE = re.compile(r"^[0-9A-Z]{1,34}$")
_C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"


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


def _c14n(element: etree._Element | None) -> bytes:
    return b"" if element is None else canonical_subset(element, _C14N, keep_comments=False)


def check_returned(sent: bytes, returned: bytes, code: str) -> None:
    """Raise :class:`DocumentError` unless ``returned`` is ``sent``, coded, signed by the authority.

    ``DLHDon`` and ``DSCKS/NBan`` must be canonically the same as sent (the seller's
    part untouched), ``MCCQT`` must hold ``code``, and a signature in ``DSCKS/CQT``
    must verify (every Reference and the SignatureValue) and cover ``MCCQT``.
    Whether its certificate is trusted is for :func:`evservice.verify` to say.
    """
    ours, theirs = parse_xml(sent), parse_xml(returned)
    if theirs.tag != "HDon":
        raise DocumentError("the returned invoice is not an HDon")
    for path in ("DLHDon", "DSCKS/NBan"):
        if _c14n(theirs.find(path)) != _c14n(ours.find(path)):
            raise DocumentError(f"the returned invoice's {path} is not the one we sent")
    mark = theirs.find("MCCQT")
    if mark is None or (mark.text or "").strip() != code:
        raise DocumentError("the returned invoice's MCCQT is not the code of the answer")
    slot = theirs.find("DSCKS/CQT")
    signatures = [] if slot is None else find_signatures(slot)
    if not signatures:
        raise DocumentError("the returned invoice has no authority signature in DSCKS/CQT")
    try:
        check = check_signature(signatures[0])
    except (DocumentError, SigningError, ValueError) as exc:
        raise DocumentError(f"the authority's signature cannot be checked: {exc}") from exc
    if not (check.intact and check.signature_value_ok):
        raise DocumentError("the authority's signature over the returned invoice does not verify")
    if not check.covers(mark):
        raise DocumentError("the authority's signature does not cover HDon/MCCQT")


def record_code(
    session: Session,
    ctx: Context,
    invoice_id: str,
    code: str,
    xml: bytes,
    at: datetime,
    returned: bytes | None = None,
) -> str | None:
    """Store the code and write the coded XML once; the coded file's SHA-256, or None if known.

    ``returned`` is the authority's coded, signed ``HDon`` (already checked with
    :func:`check_returned`), written as it came; without it the code is put into
    ``xml`` (the invoice as sent).
    """
    row = session.get(TaxInvoiceCodeRow, invoice_id, with_for_update=True)
    if row is None or row.code is not None:
        return None
    coded = insert_code(xml, code) if returned is None else returned
    relative = Path("tax") / "coded" / f"{invoice_id}.xml"
    path = ctx.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, coded)
    sha = hashlib.sha256(coded).hexdigest()
    row.code, row.coded_xml_path, row.received_at = code, relative.as_posix(), at
    row.coded_xml_sha256, row.authority_signed = sha, returned is not None
    session.add(row)
    return sha


def invoice_code(invoice_id: str, *, ctx: Context | None = None) -> str | None:
    """The authority's code of the invoice, or None while it waits for one (or was never sent)."""
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        row = session.get(TaxInvoiceCodeRow, str(invoice_id))
        return None if row is None else row.code
