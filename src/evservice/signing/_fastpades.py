"""PAdES B-B / B-T for the PDFs we render ourselves: the CMS, assembled without pyHanko's writer.

pyHanko's incremental writer reads the whole document into objects and writes
its update in pure Python, and assembling the CMS with asn1crypto re-encodes
every certificate on each signature: together about 60-90 ms per invoice. For
a PDF of our writer or reportlab, :func:`evservice.pdf.prepare_signature`
appends the signature's revision directly (attachments, widget, stamp,
``/ByteRange`` and an empty ``/Contents``); this module makes the CMS that
fills it.

The CMS is made with the signer's own pyHanko objects: the signed attributes
are pyHanko's PAdES attributes (content-type, message-digest,
signing-certificate-v2; no signing-time, which PAdES puts in ``/M``), taken
once per signer and checked to change only in the message digest; the raw
signature comes from the pyHanko ``Signer`` (a key file or a PKCS#11 token);
the B-T time-stamp token is pyHanko's unsigned attribute from the signer's
time-stamper. Only the DER around them is assembled here.

:func:`fast_sign_pdf` returns ``None`` when the input is not such a PDF (a
second revision, an xref stream, an existing form or attachment, an
unknown producer, ...) or the signer's attributes are not the plain PAdES
ones; :func:`evservice.signing.sign_pdf` then uses pyHanko (as for B-LT).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from evservice.errors import SigningError, TimestampError

if TYPE_CHECKING:
    from evservice.signing._signer import Signer

__all__ = ["FastAttachment", "fast_sign_pdf"]

#: An associated file: (file name, MIME type, bytes, AFRelationship, description or None).
#: The same shape as :data:`evservice.pdf.Attachment`.
FastAttachment = tuple[str, str, bytes, str, str | None]

# ---------------------------------------------------------------------------
# the CMS: pyHanko's attributes and signature, DER assembled around them
# ---------------------------------------------------------------------------

_OID_DATA = bytes.fromhex("06092A864886F70D010701")
_OID_SIGNED_DATA = bytes.fromhex("06092A864886F70D010702")


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


@dataclass(frozen=True)
class _CmsTemplate:
    """The constant DER of one signer's PAdES CMS; only the digest and values vary."""

    attrs_head: bytes  # signed attributes (SET) up to the message digest's 32 bytes
    attrs_tail: bytes
    info_head: bytes  # SignerInfo: version, sid, digestAlgorithm
    signature_algorithm: bytes
    data_head: bytes  # SignedData: version, digestAlgorithms, encapContentInfo, certificates


_templates: weakref.WeakKeyDictionary[Any, _CmsTemplate | None] = weakref.WeakKeyDictionary()
_templates_lock = threading.Lock()


async def _pades_attrs(signer: Any, digest: bytes, when: datetime) -> bytes:
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    attrs = await signer.signed_attrs(
        digest,
        "sha256",
        attr_settings=PdfCMSSignedAttributes(signing_time=when),
        use_pades=True,
        timestamper=None,
    )
    return bytes(attrs.dump())


def _build_template(signer: Any) -> _CmsTemplate | None:
    """pyHanko's attributes for two digests and times: a template if only the digest differs."""
    from asn1crypto import cms

    if signer.signed_attr_prov_spec is not None:
        return None  # custom attributes (maybe of the current time): pyHanko's business
    if list(signer.attribute_certs or ()) or signer.signing_cert is None:
        return None
    one = hashlib.sha256(b"evservice PAdES template 1").digest()
    two = hashlib.sha256(b"evservice PAdES template 2").digest()

    async def both() -> tuple[bytes, bytes]:
        first = await _pades_attrs(signer, one, datetime(2020, 1, 1, tzinfo=UTC))
        second = await _pades_attrs(signer, two, datetime(2030, 6, 1, 12, tzinfo=UTC))
        return first, second

    first, second = asyncio.run(both())
    parts = []
    for attrs, digest in ((first, one), (second, two)):
        needle = b"\x04\x20" + digest
        if attrs.count(needle) != 1:
            return None
        head, tail = attrs.split(needle)
        parts.append((head + b"\x04\x20", tail))
    if parts[0] != parts[1]:
        return None  # the attributes depend on more than the digest: leave it to pyHanko
    info = signer.signer_info("sha256", cms.CMSAttributes.load(first), b"\x00")
    certificates: list[bytes] = [signer.signing_cert.dump()]
    for cert in signer.cert_registry or ():
        if not signer.embed_roots and cert.self_signed != "no":
            continue
        der = cert.dump()
        if der not in certificates:
            certificates.append(der)
    digest_algorithm = bytes(info["digest_algorithm"].dump())
    template = _CmsTemplate(
        attrs_head=parts[0][0],
        attrs_tail=parts[0][1],
        info_head=b"\x02\x01\x01" + bytes(info["sid"].dump()) + digest_algorithm,
        signature_algorithm=bytes(info["signature_algorithm"].dump()),
        data_head=(
            b"\x02\x01\x01"
            + _der(0x31, digest_algorithm)
            + _der(0x30, _OID_DATA)
            + _der(0xA0, b"".join(certificates))
        ),
    )
    # Our SignerInfo must be pyHanko's, byte for byte.
    if _signer_info(template, first, b"\x00", b"") != info.dump():
        return None
    return template


def _template(document_signer: Signer) -> _CmsTemplate | None:
    with _templates_lock:
        if document_signer in _templates:
            return _templates[document_signer]
    try:
        made = _build_template(document_signer.signer)
    except Exception:  # an exotic signer: the pyHanko path reports its own errors
        made = None
    with _templates_lock:
        _templates[document_signer] = made
    return made


def _signer_info(template: _CmsTemplate, attrs: bytes, signature: bytes, unsigned: bytes) -> bytes:
    return _der(
        0x30,
        template.info_head
        + b"\xa0"
        + attrs[1:]  # [0] IMPLICIT SET OF Attribute
        + template.signature_algorithm
        + _der(0x04, signature)
        + unsigned,
    )


def _cms(document_signer: Signer, template: _CmsTemplate, digest: bytes) -> bytes:
    """The DER CMS SignedData over ``digest`` (the ByteRange's SHA-256)."""
    signer = document_signer.signer
    attrs = template.attrs_head + digest + template.attrs_tail
    timestamper = document_signer.timestamper
    signature = document_signer.cms_sign(attrs)
    unsigned = b""
    if timestamper is not None or signer.unsigned_attr_prov_spec is not None:
        unsigned = _unsigned(signer, attrs, signature, timestamper)
    info = _signer_info(template, attrs, signature, unsigned)
    signed_data = _der(0x30, template.data_head + _der(0x31, info))
    return _der(0x30, _OID_SIGNED_DATA + _der(0xA0, signed_data))


def _unsigned(signer: Any, attrs: bytes, signature: bytes, timestamper: Any) -> bytes:
    """pyHanko's unsigned attributes (the signature time-stamp token for B-T), as [1]."""
    from asn1crypto import cms
    from pyhanko.sign.timestamps import TimestampRequestError

    try:
        found = asyncio.run(
            signer.unsigned_attrs(
                "sha256",
                signature,
                signed_attrs=cms.CMSAttributes.load(attrs),
                timestamper=timestamper,
            )
        )
    except TimestampRequestError as exc:
        raise TimestampError(f"the time-stamp authority failed: {exc}") from exc
    except Exception as exc:
        if "timestamp" in type(exc).__name__.lower():
            raise TimestampError(f"the time-stamp authority failed: {exc}") from exc
        raise SigningError(f"PAdES signing failed: {type(exc).__name__}: {exc}") from exc
    if not found:
        return b""
    return b"\xa1" + bytes(found.dump())[1:]


def fast_sign_pdf(
    pdf: bytes,
    signer: Signer,
    *,
    when: datetime,
    field_name: str = "Signature1",
    page: int = 0,
    rect: tuple[int, int, int, int] | None = None,
    stamp_text: str | None = None,
    stamp_font: str | None = None,
    files: Sequence[FastAttachment] = (),
    reason: str | None = None,
    location: str | None = None,
) -> bytes | None:
    """PAdES-sign a PDF of our renderer in one appended revision; None if it is not one.

    ``rect`` (x1, y1, x2, y2, PDF points) on ``page`` places the visible
    ``stamp_text`` drawn in ``stamp_font`` (a registered reportlab TrueType
    font); without ``rect`` the signature is invisible (a zero-size widget on
    the first page, as pyHanko makes it). ``files`` are attached first, in the
    same revision, so the signature covers them. ``when`` must be timezone-aware.
    """
    if signer.pades_level not in ("B-B", "B-T"):
        return None
    if not pdf.startswith(b"%PDF-1."):
        return None
    template = _template(signer)
    if template is None:
        return None
    # Imported here: the PDF engine loads reportlab, which ``import evservice`` should not.
    from evservice.pdf import prepare_signature

    revision = prepare_signature(
        pdf,
        when=when,
        reserved=signer.bytes_reserved,
        field_name=field_name,
        page=page,
        rect=rect,
        stamp_text=stamp_text,
        stamp_font=stamp_font,
        files=files,
        reason=reason,
        location=location,
    )
    if revision is None:
        return None
    try:
        blob = _cms(signer, template, revision.digest())
    except SigningError:
        raise
    except Exception as exc:  # the key or token failed; keep the cause chained
        raise SigningError(f"PAdES signing failed: {type(exc).__name__}: {exc}") from exc
    return revision.fill(blob)
