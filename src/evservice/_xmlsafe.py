"""Parsing XML that comes from outside: one set of defences for every reader of it.

Invoices from other issuers and bank statements arrive as bytes we did not
write. They are refused, as :class:`~evservice.errors.DocumentError` naming
what was being read, when they are not bytes, larger than the caller's limit,
or declare a DTD or entities (checked on the bytes, and again on the parsed
tree for a DTD in another encoding such as UTF-16, which the byte scan cannot
see); the parser resolves no entity, loads no DTD, touches no network and
keeps lxml's own size limits (``huge_tree=False``). Comments and processing
instructions are dropped: the values read are those of the elements only.
"""

from __future__ import annotations

from lxml import etree

from evservice.errors import DocumentError

__all__ = ["parse_untrusted_xml"]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_untrusted_xml(data: bytes, *, what: str, max_bytes: int) -> etree._Element:
    """The root element of ``data``; ``what`` names it in errors ("the invoice XML ...")."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DocumentError(f"the {what} must be given as bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise DocumentError(f"the {what} is larger than {max_bytes} bytes")
    refused = f"the {what} declares a DTD or entities, which are not allowed"
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DocumentError(refused)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"the {what} is malformed: {exc.msg}") from exc
    except (ValueError, etree.LxmlError) as exc:
        raise DocumentError(f"the {what} cannot be parsed") from exc
    info = root.getroottree().docinfo
    if getattr(info, "doctype", "") or info.internalDTD is not None or info.externalDTD is not None:
        raise DocumentError(refused)
    return root
