"""Checking one XMLDSig signature of an invoice (ours or another issuer's), reference by
reference, as the XMLDSig recommendation and ``xmlsec1`` read it.

Every Reference gets its own verdict. The enveloped-signature transform removes the
whole ``Signature`` that holds it: on a Reference whose target lies *inside* that
Signature (a ``SigningTime`` Object), what remains is empty, so the digest is the
digest of nothing, and that is the verdict we give, as ``xmlsec1`` does. .NET's
``SignedXml`` digests the Object instead; a digest that matches only that reading gets
its own status (:data:`REFERENCE_DOTNET_ONLY`), never a pass. Same-document references
(``""``, ``#Id``) select their subtree without comments, whatever the C14N algorithm.

Canonicalisation is :mod:`evservice.signing._c14n` (linear in the size of the tree);
callers check :func:`evservice.signing._c14n.check_xml_limits` first. Nothing here raises
for a bad signature or a damaged certificate: it goes into ``problems``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from evservice.clock import VN_TZ
from evservice.errors import DocumentError
from evservice.signing._c14n import AmbiguousPrefixError, canonicalize
from evservice.signing._xmldsig import _C14N, DSIG_NS, ENVELOPED, SHA256, _c14n, _without

__all__ = [
    "LEGACY_HASHES",
    "REFERENCE_DOTNET_ONLY",
    "REFERENCE_FAIL",
    "REFERENCE_MATCHES",
    "ReferenceCheck",
    "XmlSignatureCheck",
    "canonical_subset",
    "check_signature",
    "find_signatures",
]

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"

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

#: A Reference's verdict: the spec's digest matches; it matches only when the
#: enveloped-signature transform is read as .NET's SignedXml reads it (not removing the
#: Signature that holds the target); or it does not match.
REFERENCE_MATCHES = "pass"
REFERENCE_DOTNET_ONLY = "matches only .NET's non-standard enveloped transform"
REFERENCE_FAIL = "fail"


def _ds(tag: str) -> str:
    return f"{{{DSIG_NS}}}{tag}"


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child) == name:
            return child
    return None


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


@dataclass(frozen=True)
class ReferenceCheck:
    """One ``Reference``: what it points at, its digest algorithm, and whether it matches.

    ``status`` is :data:`REFERENCE_MATCHES`, :data:`REFERENCE_FAIL` or
    :data:`REFERENCE_DOTNET_ONLY` (which is not a pass: ``ok`` is False).
    """

    uri: str
    digest_algorithm: str
    ok: bool
    target: str | None = None  # local name of the referenced element
    problem: str | None = None
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", REFERENCE_MATCHES if self.ok else REFERENCE_FAIL)

    @property
    def dotnet_only(self) -> bool:
        """The digest matches only .NET's non-standard reading of the enveloped transform."""
        return self.status == REFERENCE_DOTNET_ONLY

    def to_dict(self) -> dict[str, object]:
        return {
            "uri": self.uri,
            "digest_algorithm": self.digest_algorithm,
            "ok": self.ok,
            "status": self.status,
            "target": self.target,
            "problem": self.problem,
        }


@dataclass(frozen=True, eq=False)
class XmlSignatureCheck:
    """The cryptographic facts of one XML signature (policy and trust are judged elsewhere).

    ``covered`` holds, per passing Reference, the element whose subtree its digest
    covers (nothing for a Reference whose pre-digest is empty). ``key_type`` and
    ``key_bits`` describe the signer's public key (``"RSA"``, 2048) when it could be read.
    """

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
    key_type: str | None = None
    key_bits: int | None = None

    @property
    def intact(self) -> bool:
        """Every Reference resolves and its digest matches (as the spec reads it)."""
        return bool(self.references) and all(r.ok for r in self.references)

    def covers(self, element: etree._Element) -> bool:
        """True when ``element`` lies inside content that a matching Reference signs."""
        return any(element is t or _within(element, t) for t in self.covered)


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


def canonical_subset(
    element: etree._Element,
    algorithm: str,
    *,
    exclude: etree._Element | None = None,
    prefixes: tuple[str, ...] = (),
    keep_comments: bool | None = None,
) -> bytes:
    """The canonical bytes of ``element``'s subtree under ``algorithm`` (minus ``exclude``).

    ``keep_comments`` None follows the algorithm. Falls back to libxml2's C14N (with
    ``exclude`` taken out of the tree for the moment) only for the rare attribute
    whose prefix our canonicaliser cannot tell.
    """
    exclusive, comments = _C14N[algorithm]
    if keep_comments is not None:
        comments = comments and keep_comments
    try:
        return canonicalize(
            element,
            exclusive=exclusive,
            with_comments=comments,
            exclude=exclude,
            inclusive_prefixes=prefixes if exclusive else (),
        )
    except AmbiguousPrefixError:
        base = algorithm.removesuffix("#WithComments")
        chosen = base + "#WithComments" if comments and base + "#WithComments" in _C14N else base
        if exclude is None:
            return _c14n(element, chosen)
        if exclude is element or _within(element, exclude):
            return b""
        with _without(exclude):
            return _c14n(element, chosen)


def _prefix_list(transform: etree._Element) -> tuple[str, ...]:
    for child in transform:
        if _local(child) == "InclusiveNamespaces":
            return tuple((child.get("PrefixList") or "").split())
    return ()


def _transforms(ref: etree._Element) -> tuple[bool, str, tuple[str, ...]] | str:
    """(enveloped?, C14N algorithm, inclusive prefixes) of a Reference, or the one
    transform we do not support."""
    transforms = _child(ref, "Transforms")
    enveloped = False
    c14n_algorithm = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    prefixes: tuple[str, ...] = ()
    for transform in transforms if transforms is not None else []:
        if _local(transform) != "Transform":
            continue
        algorithm = transform.get("Algorithm", "")
        if algorithm == ENVELOPED:
            enveloped = True
        elif algorithm in _C14N:
            c14n_algorithm = algorithm
            prefixes = _prefix_list(transform)
        else:
            return algorithm
    return enveloped, c14n_algorithm, prefixes


def _check_reference(
    ref: etree._Element,
    sig: etree._Element,
    root: etree._Element,
    ids: dict[str, list[etree._Element]],
) -> tuple[ReferenceCheck, etree._Element | None, str | None]:
    """The verdict of one Reference, the element its digest covers (None if nothing)."""
    uri = ref.get("URI")
    method_el = _child(ref, "DigestMethod")
    digest_uri = method_el.get("Algorithm", "") if method_el is not None else ""
    digest_name = _DIGESTS.get(digest_uri)

    def fail(
        problem: str, target: etree._Element | None = None, status: str = REFERENCE_FAIL
    ) -> tuple[ReferenceCheck, None, str | None]:
        name = _local(target) if target is not None else None
        return (
            ReferenceCheck(str(uri), digest_name or digest_uri, False, name, problem, status),
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

    chain = _transforms(ref)
    if isinstance(chain, str):
        return fail(f"unsupported transform {chain!r}", target)
    enveloped, c14n_algorithm, prefixes = chain
    value_el = _child(ref, "DigestValue")
    try:
        expected = _b64(value_el.text if value_el is not None else None)
    except ValueError:
        return fail("the DigestValue is not base64", target)

    def digest_of(exclude: etree._Element | None) -> bytes:
        # "" and "#Id" select the subtree without comments (XMLDSig 4.4.3.3).
        data = canonical_subset(
            target, c14n_algorithm, exclude=exclude, prefixes=prefixes, keep_comments=False
        )
        return hashlib.new(digest_name, data).digest()

    inside = target is sig or _within(target, sig)
    try:
        digest = digest_of(sig if enveloped else None)
        if hmac.compare_digest(digest, expected):
            covers = None if enveloped and inside else target
            return ReferenceCheck(str(uri), digest_name, True, _local(target)), covers, digest_name
        if enveloped and inside and hmac.compare_digest(digest_of(None), expected):
            return fail(
                "the digest matches only if the enveloped-signature transform is read as "
                ".NET does (the spec removes the whole Signature, so nothing is signed)",
                target,
                REFERENCE_DOTNET_ONLY,
            )
    except (DocumentError, etree.Error, ValueError) as exc:
        return fail(f"cannot canonicalise the referenced content: {exc}", target)
    return fail("the digest does not match: the signed content was changed", target)


def _key_facts(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        public = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None, None
    if isinstance(public, rsa.RSAPublicKey):
        return "RSA", public.key_size
    if isinstance(public, ec.EllipticCurvePublicKey):
        return "ECDSA", public.curve.key_size
    return type(public).__name__, None


def _verify_value(
    cert: x509.Certificate, key_type: str, hash_name: str, data: bytes, value: bytes
) -> bool:
    try:
        public = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False
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
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
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


def _certificates(sig: etree._Element, problems: list[str]) -> list[x509.Certificate]:
    certificates: list[x509.Certificate] = []
    for element in sig.iter(_ds("X509Certificate")):
        try:
            cert = x509.load_der_x509_certificate(_b64(element.text))
            cert.subject.rfc4514_string()  # parsed lazily: damage shows here
            cert.issuer.rfc4514_string()
        except (ValueError, UnicodeError, UnsupportedAlgorithm):
            problems.append("a certificate in KeyInfo cannot be read")
            continue
        certificates.append(cert)
    if not certificates:
        problems.append("KeyInfo carries no readable X509Certificate")
    return certificates


def _signature_value(
    sig: etree._Element,
    signed_info: etree._Element,
    certificates: list[x509.Certificate],
    problems: list[str],
) -> tuple[x509.Certificate | None, bool]:
    c14n_el = _child(signed_info, "CanonicalizationMethod")
    c14n_algorithm = c14n_el.get("Algorithm", "") if c14n_el is not None else ""
    method_el = _child(signed_info, "SignatureMethod")
    key_type, hash_name = _METHODS.get(
        method_el.get("Algorithm", "") if method_el is not None else "", ("", "")
    )
    value_el = _child(sig, "SignatureValue")
    if value_el is None:
        problems.append("the signature has no SignatureValue")
        return None, False
    if not key_type or c14n_algorithm not in _C14N or c14n_el is None:
        return None, False
    try:
        value = _b64(value_el.text)
    except ValueError:
        problems.append("the SignatureValue is not base64")
        return None, False
    try:
        data = canonical_subset(signed_info, c14n_algorithm, prefixes=_prefix_list(c14n_el))
    except (DocumentError, etree.Error, ValueError) as exc:
        problems.append(f"the SignedInfo cannot be canonicalised: {exc}")
        return None, False
    for cert in certificates:
        if _verify_value(cert, key_type, hash_name, data, value):
            return cert, True
    problems.append("the SignatureValue does not verify with the KeyInfo certificate")
    return None, False


def _signing_time(
    sig: etree._Element, covered: list[etree._Element], problems: list[str]
) -> tuple[datetime | None, bool]:
    sig_id = sig.get("Id")
    for prop in sig.iter(_ds("SignatureProperty")):
        if sig_id is not None and prop.get("Target") not in (f"#{sig_id}", None):
            continue
        for element in prop.iter():
            if _local(element) == "SigningTime" and element.text:
                when = _parse_signing_time(element.text)
                if when is None:
                    problems.append("SigningTime is not a date and time")
                    return None, False
                return when, any(element is t or _within(element, t) for t in covered)
    return None, False


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

    certificates = _certificates(sig, problems)
    signer_cert, value_ok = _signature_value(sig, signed_info, certificates, problems)
    if signer_cert is None and certificates:
        signer_cert = _leaf(certificates)
    signing_time, time_signed = _signing_time(sig, covered, problems)
    key_kind, key_bits = _key_facts(signer_cert) if signer_cert is not None else (None, None)
    return XmlSignatureCheck(
        signature_id=sig.get("Id"),
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
        key_type=key_kind,
        key_bits=key_bits,
    )


def _within(element: etree._Element, ancestor: etree._Element) -> bool:
    return any(a is ancestor for a in element.iterancestors())


def _leaf(certificates: list[x509.Certificate]) -> x509.Certificate:
    """The certificate that issued none of the others (the signer's), else the first."""
    issuers = {c.issuer for c in certificates if c.issuer != c.subject}
    for cert in certificates:
        if cert.subject not in issuers:
            return cert
    return certificates[0]
