"""What the tax authority's messages share: numbers, dates, the shipped XSDs, signing.

The messages follow the v2.0.x formats of Decision 1450/QĐ-TCT (amended by
1510/QĐ-TCT), transcribed field by field in ``huyvq8899/pmbk_bill_dn_be``
(``Services/ViewModels/XML/QuyDinhKyThuatHDDT/PhanII``): ``BTHDLieu`` (IV/1) and
``TBao`` (III/1). Each is signed like an invoice (:func:`evservice.signing.
sign_xml_element`, the taxpayer's slot ``DSCKS/NNT``) and checked against our
XSD (``bthdlieu.xsd``, ``tbao.xsd``) before it is stored.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources

from lxml import etree

from evservice._context import Context
from evservice.errors import ConfigurationError, DocumentError, ValidationError
from evservice.vn import mst

__all__ = [
    "XML_VERSION",
    "amount_text",
    "put",
    "sign_message",
    "taxpayer",
    "validate_message",
]

#: ``PBan`` of the messages (the version the invoices carry).
XML_VERSION = "2.0.0"


def amount_text(value: Decimal) -> str:
    """A Decimal as the formats write numbers: no exponent, no trailing zeros."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def put(parent: etree._Element, tag: str, value: object) -> None:
    """Append ``<tag>value</tag>`` unless ``value`` is None or empty."""
    if value is None or value == "":
        return
    if isinstance(value, Decimal):
        text = amount_text(value)
    elif isinstance(value, date | datetime):
        text = value.isoformat()
    else:
        text = str(value)
    etree.SubElement(parent, tag).text = text


def taxpayer(ctx: Context) -> tuple[str, str]:
    """The reporting taxpayer's tax code and name (``EVSERVICE_SELLER_*``)."""
    settings = ctx.settings
    if not settings.seller_tax_code or not settings.seller_name:
        raise ConfigurationError(
            "the taxpayer is not configured: set EVSERVICE_SELLER_TAX_CODE and "
            "EVSERVICE_SELLER_NAME"
        )
    try:
        code = mst.validate(settings.seller_tax_code)
    except ValidationError as exc:
        raise ConfigurationError(f"EVSERVICE_SELLER_TAX_CODE: {exc.reason}") from exc
    return code, settings.seller_name


@cache
def _schema(name: str) -> etree.XMLSchema:
    data = resources.files("evservice.tax").joinpath(name).read_bytes()
    return etree.XMLSchema(etree.fromstring(data))


def validate_message(data: bytes, schema: str) -> None:
    """Raise DocumentError unless ``data`` is valid against the shipped ``schema``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        doc = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"the message is not well-formed XML: {exc}") from exc
    xsd = _schema(schema)
    if not xsd.validate(doc):
        error = xsd.error_log.last_error  # type: ignore[attr-defined]
        raise DocumentError(f"the message does not match {schema}: {error}")


def sign_message(root: etree._Element, content: str, ctx: Context, when: datetime) -> bytes:
    """Serialise, sign ``content`` into ``DSCKS/NNT`` with the configured key."""
    from evservice.signing import load_signer, sign_xml_element

    xml = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    signer = load_signer(ctx.settings)
    return sign_xml_element(xml, signer, content=content, slot="NNT", signing_time=when)
