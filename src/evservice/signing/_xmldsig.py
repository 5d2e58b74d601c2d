"""XMLDSig as Vietnamese e-invoices carry it, made with lxml + cryptography (the signer side).

Why not signxml: the tax authority's layout puts an enveloped ``Signature
Id="seller"`` in ``DSCKS/NBan`` (outside the signed ``DLHDon``) with *two*
References: ``#<DLHDon Id>`` (enveloped transform + C14N) and an ``Object``
*inside the signature itself* holding
``SignatureProperties/SignatureProperty[@Target="#seller"]/SigningTime``.
signxml builds SignatureProperties only for detached signatures and one
enveloped layout of its own, so we build the few elements ourselves; C14N is
libxml2's (through lxml), the cryptography is ``cryptography``'s, and the output
is checked by ``xmlsec1 --verify`` (and signxml) in the tests. Checking a signature
is :mod:`evservice.signing._xmlcheck`'s job.

The produced signature (no whitespace is added, and nothing may re-indent it)::

    <Signature xmlns="http://www.w3.org/2000/09/xmldsig#" Id="seller">
      <SignedInfo> C14N 1.0, rsa-sha256 | ecdsa-sha256
        <Reference URI="#<DLHDon Id>"> enveloped-signature, C14N 1.0, sha256
        <Reference URI="#seller-SigningTime" Type="...#Object"> C14N 1.0, sha256
      <SignatureValue/>
      <KeyInfo><X509Data><X509SubjectName/><X509Certificate/>+ (signer, then intermediates)
      <Object Id="seller-SigningTime"><SignatureProperties>
        <SignatureProperty Target="#seller"><SigningTime>2026-11-01T09:00:00</SigningTime>

``SigningTime`` is Vietnam local time without an offset, as the format writes it.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from evservice.clock import VN_TZ, ensure_aware
from evservice.errors import DocumentError, SigningError

if TYPE_CHECKING:
    from evservice.signing._signer import Signer

__all__ = [
    "C14N",
    "DSIG_NS",
    "ENVELOPED",
    "parse_xml",
    "sign_invoice_xml",
    "sign_xml_element",
]

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = DSIG_NS + "enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
OBJECT_TYPE = DSIG_NS + "Object"

# algorithm URI -> (exclusive, with comments); C14N 1.1 equals 1.0 on documents
# without xml:id / xml:base inheritance, which invoices do not use.
_C14N: dict[str, tuple[bool, bool]] = {
    C14N: (False, False),
    C14N + "#WithComments": (False, True),
    "http://www.w3.org/2006/12/xml-c14n11": (False, False),
    "http://www.w3.org/2006/12/xml-c14n11#WithComments": (False, True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": (True, False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": (True, True),
}
MAX_XML_BYTES = 50 * 1024 * 1024


def _ds(tag: str) -> str:
    return f"{{{DSIG_NS}}}{tag}"


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML: no DTD, no entities, no network. Raises :class:`DocumentError`."""
    if len(data) > MAX_XML_BYTES:
        raise DocumentError(f"the XML is larger than {MAX_XML_BYTES} bytes")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"the XML cannot be parsed: {exc}") from exc
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise DocumentError("the XML has a DOCTYPE; invoices never do (refused)")
    return root


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child) == name:
            return child
    return None


_XML_NS = "http://www.w3.org/XML/1998/namespace"


def _c14n(element: etree._Element, algorithm: str = C14N) -> bytes:
    """Canonicalise the subtree at ``element`` as a document subset (XMLDSig semantics).

    libxml2, through lxml, renders a non-root subtree with wrong ``xmlns=""``
    undeclarations under an inherited default namespace, so the subtree is
    copied under a new root that declares every in-scope namespace (and, for
    inclusive C14N, carries the inherited ``xml:*`` attributes) and that
    document is canonicalised: the result is what C14N 1.0 / exc-C14N define.
    """
    exclusive, comments = _C14N[algorithm]
    if element.getparent() is None:
        return etree.tostring(element, method="c14n", exclusive=exclusive, with_comments=comments)
    nsmap: Any = element.nsmap
    attrib: Any = dict(element.attrib)
    apex = etree.Element(element.tag, attrib=attrib, nsmap=nsmap)
    if not exclusive:
        for ancestor in element.iterancestors():
            for name, value in ancestor.attrib.items():
                if str(name).startswith(f"{{{_XML_NS}}}") and name not in apex.attrib:
                    apex.set(name, value)
    apex.text = element.text
    for child in element:
        apex.append(copy.deepcopy(child))
    return etree.tostring(apex, method="c14n", exclusive=exclusive, with_comments=comments)


@contextlib.contextmanager
def _without(signature: etree._Element) -> Iterator[None]:
    """Take ``signature`` out of the tree for the enveloped transform, keeping its tail text."""
    parent = signature.getparent()
    if parent is None:
        yield
        return
    index = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved = previous.tail if previous is not None else parent.text
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    signature.tail = None
    parent.remove(signature)
    try:
        yield
    finally:
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved
        parent.insert(index, signature)
        signature.tail = tail


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _signing_time_text(when: datetime) -> str:
    return ensure_aware(when).astimezone(VN_TZ).replace(tzinfo=None, microsecond=0).isoformat()


def sign_invoice_xml(
    xml: bytes,
    signer: Signer,
    *,
    signing_time: datetime,
    signature_id: str = "seller",
) -> bytes:
    """Sign the invoice (``HDon/DLHDon[@Id]``) into ``DSCKS/NBan``; bytes in, bytes out."""
    return sign_xml_element(
        xml,
        signer,
        content="DLHDon",
        slot="NBan",
        signing_time=signing_time,
        signature_id=signature_id,
    )


def sign_xml_element(
    xml: bytes,
    signer: Signer,
    *,
    content: str,
    slot: str,
    signing_time: datetime,
    signature_id: str = "seller",
) -> bytes:
    """Sign the root's child ``content`` (by its ``Id``) into ``DSCKS/<slot>``.

    The same layout as an invoice's signature, for the tax authority's other
    messages: the data summary table (``BTHDLieu/DLBTHop``, slot ``NNT``), the
    notice of invoices with errors (``TBao/DLTBao``, slot ``NNT``), and so on.
    """
    root = parse_xml(xml)
    signed = _child(root, content)
    if signed is None or not signed.get("Id"):
        raise DocumentError(f"the XML has no {_local(root)}/{content} element with an Id to sign")
    signatures = _child(root, "DSCKS")
    if signatures is None:
        signatures = etree.SubElement(root, "DSCKS")
    seller = _child(signatures, slot)
    if seller is None:
        seller = etree.Element(slot)
        signatures.insert(0, seller)
    if any(_local(c) == "Signature" for c in seller):
        raise SigningError(f"the XML already carries a signature in DSCKS/{slot}")
    seller.text = None  # an empty slot may hold whitespace; the signature goes in alone

    object_id = f"{signature_id}-SigningTime"
    default_ns: Any = {None: DSIG_NS}
    sig = etree.SubElement(seller, _ds("Signature"), nsmap=default_ns)
    sig.set("Id", signature_id)
    signed_info = etree.SubElement(sig, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=signer.xml_signature_method)
    digests = []
    for uri, transforms, ref_type in (
        (f"#{signed.get('Id')}", (ENVELOPED, C14N), None),
        (f"#{object_id}", (C14N,), OBJECT_TYPE),
    ):
        ref = etree.SubElement(signed_info, _ds("Reference"), URI=uri)
        if ref_type:
            ref.set("Type", ref_type)
        chain = etree.SubElement(ref, _ds("Transforms"))
        for algorithm in transforms:
            etree.SubElement(chain, _ds("Transform"), Algorithm=algorithm)
        etree.SubElement(ref, _ds("DigestMethod"), Algorithm=SHA256)
        digests.append(etree.SubElement(ref, _ds("DigestValue")))
    value = etree.SubElement(sig, _ds("SignatureValue"))
    data = etree.SubElement(etree.SubElement(sig, _ds("KeyInfo")), _ds("X509Data"))
    subject, certificates = signer.xml_key_info
    etree.SubElement(data, _ds("X509SubjectName")).text = subject
    for certificate in certificates:
        etree.SubElement(data, _ds("X509Certificate")).text = certificate
    obj = etree.SubElement(sig, _ds("Object"), Id=object_id)
    prop = etree.SubElement(
        etree.SubElement(obj, _ds("SignatureProperties")),
        _ds("SignatureProperty"),
        Target=f"#{signature_id}",
    )
    etree.SubElement(prop, _ds("SigningTime")).text = _signing_time_text(signing_time)

    with _without(sig):  # the enveloped transform (a no-op here: the slot is outside)
        digests[0].text = base64.b64encode(hashlib.sha256(_c14n(signed)).digest()).decode()
    digests[1].text = base64.b64encode(hashlib.sha256(_c14n(obj)).digest()).decode()
    value.text = base64.b64encode(signer.raw_sign(_c14n(signed_info))).decode()
    return bytes(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))
