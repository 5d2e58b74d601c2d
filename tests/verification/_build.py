"""Other issuers' signatures, built by hand: a template signed by ``xmlsec1 --sign`` (the
spec's reading), and the same re-signed as .NET's SignedXml would digest it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from .conftest import Signer, xmlsec1_sign

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = DS + "enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def template(
    unsigned: bytes,
    references: list[tuple[str, list[str]]],
    *,
    method: str = RSA_SHA256,
    digest: str = SHA256,
    c14n: str = C14N,
    object_id: str = "SigningTime",
) -> bytes:
    """The invoice with an empty Signature in DSCKS/NBan: ``references`` are (URI, transforms)."""
    refs = "".join(
        f'<Reference URI="{uri}"><Transforms>'
        + "".join(f'<Transform Algorithm="{t}"/>' for t in transforms)
        + f'</Transforms><DigestMethod Algorithm="{digest}"/><DigestValue/></Reference>'
        for uri, transforms in references
    )
    signature = (
        f'<Signature xmlns="{DS}" Id="seller"><SignedInfo>'
        f'<CanonicalizationMethod Algorithm="{c14n}"/><SignatureMethod Algorithm="{method}"/>'
        f"{refs}</SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/>"
        f'</X509Data></KeyInfo><Object Id="{object_id}"><SignatureProperties>'
        '<SignatureProperty Target="#seller"><SigningTime>2026-11-01T09:30:00</SigningTime>'
        "</SignatureProperty></SignatureProperties></Object></Signature>"
    )
    root = etree.fromstring(unsigned)
    seller = root.find("DSCKS/NBan")
    assert seller is not None
    seller.append(etree.fromstring(signature))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def xmlsec1_signed(tmp: Path, name: str, data: bytes, signer: Signer) -> bytes:
    source, out = tmp / f"{name}.template.xml", tmp / f"{name}.xml"
    source.write_bytes(data)
    xmlsec1_sign(source, out, signer)
    return out.read_bytes()


def dotnet_resigned(signed: bytes, signer: Signer, uri: str = "#SigningTime") -> bytes:
    """Give the Reference ``uri`` the digest .NET computes (the Object, nothing removed)
    and sign the SignedInfo again: what a SignedXml-made invoice carries."""
    root = etree.fromstring(signed)
    ns = {"ds": DS}
    (ref,) = root.xpath(f'//ds:Reference[@URI="{uri}"]', namespaces=ns)
    (target,) = root.xpath(f'//ds:Object[@Id="{uri[1:]}"]', namespaces=ns)
    data = _subtree_c14n(target)
    ref.find(f"{{{DS}}}DigestValue").text = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return resign(root, signer)


def resign(root: etree._Element, signer: Signer) -> bytes:
    """Sign the (changed) SignedInfo again with ``signer``'s RSA key."""
    ns = {"ds": DS}
    (info,) = root.xpath("//ds:SignedInfo", namespaces=ns)
    (value,) = root.xpath("//ds:SignatureValue", namespaces=ns)
    assert isinstance(signer.key, rsa.RSAPrivateKey)
    raw = signer.key.sign(_subtree_c14n(info), padding.PKCS1v15(), hashes.SHA256())
    value.text = base64.b64encode(raw).decode()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _subtree_c14n(element: etree._Element) -> bytes:
    """libxml2's C14N 1.0 of a subtree (copied under a root declaring its namespaces)."""
    copy = etree.fromstring(etree.tostring(element, with_tail=False))
    for prefix, uri in element.nsmap.items():
        if copy.nsmap.get(prefix) != uri:  # pragma: no cover - our templates declare them
            raise AssertionError("namespace not carried over")
    return etree.tostring(copy, method="c14n")
