"""XMLDSig as Vietnamese e-invoices carry it: made with lxml + cryptography, checked the same way.

Why not signxml: the tax authority's layout puts an enveloped ``Signature
Id="seller"`` in ``DSCKS/NBan`` (outside the signed ``DLHDon``) with *two*
References: ``#<DLHDon Id>`` (enveloped transform + C14N) and an ``Object``
*inside the signature itself* holding
``SignatureProperties/SignatureProperty[@Target="#seller"]/SigningTime``.
signxml builds SignatureProperties only for detached signatures and one
enveloped layout of its own, so we build the few elements ourselves; C14N is
libxml2's (through lxml), the cryptography is ``cryptography``'s, and the output
is checked by ``xmlsec1 --verify`` in the tests. Verification reports every
Reference separately (which pass, which fail), which signxml's all-or-nothing
verifier cannot.

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
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from evservice.clock import VN_TZ, ensure_aware
from evservice.errors import DocumentError, SigningError

if TYPE_CHECKING:
    from evservice.signing._signer import Signer

__all__ = [
    "C14N",
    "DSIG_NS",
    "ReferenceCheck",
    "XmlSignatureCheck",
    "check_signature",
    "find_signatures",
    "parse_xml",
    "sign_invoice_xml",
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
_DIGESTS: dict[str, str] = {
    DSIG_NS + "sha1": "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
    SHA256: "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
# signature method URI -> (key type, hash name)
_METHODS: dict[str, tuple[str, str]] = {
    DSIG_NS + "rsa-sha1": ("rsa", "sha1"),
    _MORE + "rsa-sha256": ("rsa", "sha256"),
    _MORE + "rsa-sha384": ("rsa", "sha384"),
    _MORE + "rsa-sha512": ("rsa", "sha512"),
    _MORE + "ecdsa-sha1": ("ec", "sha1"),
    _MORE + "ecdsa-sha256": ("ec", "sha256"),
    _MORE + "ecdsa-sha384": ("ec", "sha384"),
    _MORE + "ecdsa-sha512": ("ec", "sha512"),
}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(),  # noqa: S303 - verification of legacy invoices only, when allowed
    "sha224": hashes.SHA224(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
#: Hash names too weak to accept unless the caller allows legacy algorithms.
LEGACY_HASHES = frozenset({"sha1"})

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
    root = parse_xml(xml)
    content = _child(root, "DLHDon")
    if content is None or not content.get("Id"):
        raise DocumentError("the XML has no HDon/DLHDon element with an Id to sign")
    signatures = _child(root, "DSCKS")
    if signatures is None:
        signatures = etree.SubElement(root, "DSCKS")
    seller = _child(signatures, "NBan")
    if seller is None:
        seller = etree.Element("NBan")
        signatures.insert(0, seller)
    if any(_local(c) == "Signature" for c in seller):
        raise SigningError("the invoice already carries the seller's signature")
    seller.text = None  # an empty NBan may hold whitespace; the signature goes in alone

    object_id = f"{signature_id}-SigningTime"
    default_ns: Any = {None: DSIG_NS}
    sig = etree.SubElement(seller, _ds("Signature"), nsmap=default_ns)
    sig.set("Id", signature_id)
    signed_info = etree.SubElement(sig, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=signer.xml_signature_method)
    digests = []
    for uri, transforms, ref_type in (
        (f"#{content.get('Id')}", (ENVELOPED, C14N), None),
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

    with _without(sig):  # the enveloped transform (a no-op here: NBan is outside DLHDon)
        digests[0].text = base64.b64encode(hashlib.sha256(_c14n(content)).digest()).decode()
    digests[1].text = base64.b64encode(hashlib.sha256(_c14n(obj)).digest()).decode()
    value.text = base64.b64encode(signer.raw_sign(_c14n(signed_info))).decode()
    return bytes(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))


# -- verification ---------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceCheck:
    """One ``Reference``: what it points at, its digest algorithm, and whether it matches."""

    uri: str
    digest_algorithm: str
    ok: bool
    target: str | None = None  # local name of the referenced element
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "uri": self.uri,
            "digest_algorithm": self.digest_algorithm,
            "ok": self.ok,
            "target": self.target,
            "problem": self.problem,
        }


@dataclass(frozen=True, eq=False)
class XmlSignatureCheck:
    """The cryptographic facts of one XML signature (trust is judged elsewhere)."""

    signature_id: str | None
    signature_method: str
    hash_algorithm: str | None
    references: tuple[ReferenceCheck, ...]
    signature_value_ok: bool
    certificates: tuple[x509.Certificate, ...]
    signer_certificate: x509.Certificate | None
    signing_time: datetime | None
    signing_time_signed: bool
    legacy: bool
    problems: tuple[str, ...]
    covered: tuple[etree._Element, ...] = field(default=(), repr=False)

    @property
    def intact(self) -> bool:
        """Every Reference resolves and its digest matches."""
        return bool(self.references) and all(r.ok for r in self.references)

    def covers(self, element: etree._Element) -> bool:
        """True when ``element`` lies inside content that a matching Reference signs."""
        for target in self.covered:
            node: etree._Element | None = element
            while node is not None:
                if node is target:
                    return True
                node = node.getparent()
        return False


def find_signatures(root: etree._Element) -> list[etree._Element]:
    """Every ``ds:Signature`` in the document, seller's first (document order)."""
    return list(root.iter(_ds("Signature")))


def _ids(root: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in ("Id", "ID", "id"):
            value = element.get(name)
            if value is not None:
                found.setdefault(value, []).append(element)
    return found


def _check_reference(
    ref: etree._Element,
    sig: etree._Element,
    root: etree._Element,
    ids: dict[str, list[etree._Element]],
) -> tuple[ReferenceCheck, etree._Element | None, str | None]:
    uri = ref.get("URI")
    method_el = _child(ref, "DigestMethod")
    digest_uri = method_el.get("Algorithm", "") if method_el is not None else ""
    digest_name = _DIGESTS.get(digest_uri)

    def fail(
        problem: str, target: etree._Element | None = None
    ) -> tuple[ReferenceCheck, None, str | None]:
        name = _local(target) if target is not None else None
        return (
            ReferenceCheck(str(uri), digest_name or digest_uri, False, name, problem),
            None,
            digest_name,
        )

    if uri is None:
        return fail("the Reference has no URI")
    if digest_name is None:
        return fail(f"unknown digest algorithm {digest_uri!r}")
    if uri == "":
        target: etree._Element = root
    elif uri.startswith("#") and "(" not in uri:
        matches = ids.get(uri[1:], [])
        if len(matches) != 1:
            return fail(
                "no element has this Id" if not matches else "several elements share this Id"
            )
        target = matches[0]
    else:
        return fail('only same-document references (#Id or "") are accepted')

    transforms = _child(ref, "Transforms")
    algorithms = [
        t.get("Algorithm", "")
        for t in (transforms if transforms is not None else [])
        if _local(t) == "Transform"
    ]
    enveloped = False
    c14n_algorithm = C14N
    for algorithm in algorithms:
        if algorithm == ENVELOPED:
            enveloped = True
        elif algorithm in _C14N:
            c14n_algorithm = algorithm
        else:
            return fail(f"unsupported transform {algorithm!r}", target)
    if uri == "" and c14n_algorithm.endswith("#WithComments"):
        c14n_algorithm = c14n_algorithm.removesuffix("#WithComments")  # "" drops comments
    inside = any(a is target for a in sig.iterancestors())
    try:
        if enveloped and inside:
            with _without(sig):
                data = _c14n(target, c14n_algorithm)
        else:
            data = _c14n(target, c14n_algorithm)
    except (etree.Error, ValueError) as exc:
        return fail(f"cannot canonicalise the referenced content: {exc}", target)
    digest = hashlib.new(digest_name, data).digest()
    value_el = _child(ref, "DigestValue")
    try:
        expected = _b64(value_el.text if value_el is not None else None)
    except ValueError:
        return fail("the DigestValue is not base64", target)
    if not hmac.compare_digest(digest, expected):
        return fail("the digest does not match: the signed content was changed", target)
    return (
        ReferenceCheck(str(uri), digest_name, True, _local(target)),
        target,
        digest_name,
    )


def _verify_value(
    cert: x509.Certificate, key_type: str, hash_name: str, data: bytes, value: bytes
) -> bool:
    public = cert.public_key()
    algo = _HASHES[hash_name]
    try:
        if key_type == "rsa" and isinstance(public, rsa.RSAPublicKey):
            public.verify(value, data, padding.PKCS1v15(), algo)
            return True
        if key_type == "ec" and isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                return False
            r = int.from_bytes(value[:size], "big")
            s = int.from_bytes(value[size:], "big")
            public.verify(encode_dss_signature(r, s), data, ec.ECDSA(algo))
            return True
    except InvalidSignature:
        return False
    return False


def _parse_signing_time(text: str) -> datetime | None:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=VN_TZ) if when.tzinfo is None else when


def check_signature(sig: etree._Element) -> XmlSignatureCheck:
    """Check one ``ds:Signature`` element: every Reference, then the SignatureValue.

    Never raises for a bad signature: what is wrong goes into ``problems``.
    """
    root = sig.getroottree().getroot()
    problems: list[str] = []
    signed_info = _child(sig, "SignedInfo")
    if signed_info is None:
        return XmlSignatureCheck(
            sig.get("Id"), "", None, (), False, (), None, None, False, False,
            ("the signature has no SignedInfo",),
        )  # fmt: skip
    c14n_el = _child(signed_info, "CanonicalizationMethod")
    c14n_algorithm = c14n_el.get("Algorithm", "") if c14n_el is not None else ""
    method_el = _child(signed_info, "SignatureMethod")
    method = method_el.get("Algorithm", "") if method_el is not None else ""
    key_type, hash_name = _METHODS.get(method, ("", ""))
    legacy = hash_name in LEGACY_HASHES
    if not key_type:
        problems.append(f"unknown signature method {method!r}")
    if c14n_algorithm not in _C14N:
        problems.append(f"unknown canonicalisation {c14n_algorithm!r}")

    ids = _ids(root)
    references: list[ReferenceCheck] = []
    covered: list[etree._Element] = []
    for ref in signed_info:
        if _local(ref) != "Reference":
            continue
        result, target, digest_name = _check_reference(ref, sig, root, ids)
        references.append(result)
        legacy = legacy or digest_name in LEGACY_HASHES
        if target is not None:
            covered.append(target)
        if result.problem:
            problems.append(f"reference {result.uri}: {result.problem}")
    if not references:
        problems.append("the signature has no Reference")

    certificates: list[x509.Certificate] = []
    for element in sig.iter(_ds("X509Certificate")):
        try:
            certificates.append(x509.load_der_x509_certificate(_b64(element.text)))
        except ValueError:
            problems.append("a certificate in KeyInfo cannot be read")
    if not certificates:
        problems.append("KeyInfo carries no X509Certificate")

    signer_cert: x509.Certificate | None = None
    value_ok = False
    value_el = _child(sig, "SignatureValue")
    if key_type and c14n_algorithm in _C14N and value_el is not None:
        try:
            value = _b64(value_el.text)
        except ValueError:
            problems.append("the SignatureValue is not base64")
        else:
            data = _c14n(signed_info, c14n_algorithm)
            for cert in certificates:
                if _verify_value(cert, key_type, hash_name, data, value):
                    signer_cert, value_ok = cert, True
                    break
            if not value_ok:
                problems.append("the SignatureValue does not verify with the KeyInfo certificate")
    elif value_el is None:
        problems.append("the signature has no SignatureValue")
    if signer_cert is None and certificates:
        signer_cert = _leaf(certificates)

    signing_time: datetime | None = None
    time_signed = False
    sig_id = sig.get("Id")
    for prop in sig.iter(_ds("SignatureProperty")):
        if sig_id is not None and prop.get("Target") not in (f"#{sig_id}", None):
            continue
        for element in prop.iter():
            if _local(element) == "SigningTime" and element.text:
                signing_time = _parse_signing_time(element.text)
                if signing_time is None:
                    problems.append("SigningTime is not a date and time")
                time_signed = any(
                    r.ok and t is not None and _within(element, t)
                    for r, t in zip(references, _targets(covered, references), strict=True)
                )
                break
        if signing_time is not None:
            break

    return XmlSignatureCheck(
        signature_id=sig_id,
        signature_method=method,
        hash_algorithm=hash_name or None,
        references=tuple(references),
        signature_value_ok=value_ok,
        certificates=tuple(certificates),
        signer_certificate=signer_cert,
        signing_time=signing_time,
        signing_time_signed=time_signed,
        legacy=legacy,
        problems=tuple(problems),
        covered=tuple(covered),
    )


def _targets(
    covered: list[etree._Element], references: list[ReferenceCheck]
) -> list[etree._Element | None]:
    """Align the covered elements with the references (failed ones cover nothing)."""
    out: list[etree._Element | None] = []
    it = iter(covered)
    for ref in references:
        out.append(next(it) if ref.ok else None)
    return out


def _within(element: etree._Element, ancestor: etree._Element) -> bool:
    node: etree._Element | None = element
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


def _leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """The certificate that issued none of the others (the signer's), else the first."""
    issuers = {c.issuer for c in certificates if c.issuer != c.subject}
    for cert in certificates:
        if cert.subject not in issuers:
            return cert
    return certificates[0]
