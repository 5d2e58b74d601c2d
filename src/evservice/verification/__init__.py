"""Offline verification of signed invoices: our PDFs and XMLs, and other issuers' XML.

``verify(path_or_bytes)`` returns a :class:`VerificationReport` and never raises
for a document, however damaged (tampered, untrusted, unreadable, a broken embedded
certificate, a tree past the size limits): what is wrong is in the report. Each
signature gets a cryptographic, a policy and a trust result of its own; for invoice XML
the report also says what no signature covers and gives the invoice's values as read
from the signed bytes only (:class:`SignedContentReport`). Trust comes only from the
configured roots (``settings.trust_roots``, plus the development root in development
mode); no network is used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from evservice._context import Context as _Context
from evservice._context import resolve as _resolve
from evservice.errors import ValidationError as _ValidationError
from evservice.signing import trust_config as _trust_config
from evservice.verification._common import VerifyOptions as _VerifyOptions
from evservice.verification._pdf import verify_pdf as _verify_pdf
from evservice.verification._report import (
    EmbeddedXmlReport,
    SignatureReport,
    SignedContentReport,
    TimestampReport,
    TotalsCheck,
    VerificationReport,
)
from evservice.verification._xml import verify_xml as _verify_xml

__all__ = [
    "MAX_INPUT_BYTES",
    "EmbeddedXmlReport",
    "SignatureReport",
    "SignedContentReport",
    "TimestampReport",
    "TotalsCheck",
    "VerificationReport",
    "verify",
]

MAX_INPUT_BYTES = 200 * 1024 * 1024


def _kind(data: bytes) -> str:
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "xml" if stripped.startswith(b"<") else "unknown"


def verify(
    source: str | os.PathLike[str] | bytes,
    *,
    ctx: _Context | None = None,
    allow_legacy: bool | None = None,
    trust_roots: Sequence[Path | bytes] = (),
    name: str | None = None,
) -> VerificationReport:
    """Verify every signature in a PDF or XML file (a path, or the bytes themselves).

    ``allow_legacy`` overrides ``settings.allow_legacy_algorithms`` (accept SHA-1
    and RSA keys under 2048 bits, as older invoices use); ``trust_roots`` adds roots to
    the configured ones. Raises :class:`~evservice.errors.ValidationError` only when
    ``source`` is not a readable file (and a configuration error for an unreadable
    configured root); any document gives a report.
    """
    context = _resolve(ctx)
    if isinstance(source, bytes):
        data, label = source, name or "<bytes>"
    else:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_INPUT_BYTES:
                raise _ValidationError("source", f"{path} is larger than {MAX_INPUT_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise _ValidationError("source", f"cannot read {path}: {exc.strerror}") from exc
        label = name or str(path)
    settings = context.settings
    options = _VerifyOptions(
        trust=_trust_config(settings, trust_roots),
        allow_legacy=settings.allow_legacy_algorithms if allow_legacy is None else allow_legacy,
        moment=context.clock.now(),
    )
    kind = _kind(data)
    try:
        if kind == "pdf":
            return _verify_pdf(data, label, options)
        if kind == "xml":
            return _verify_xml(data, label, options)
    except Exception as exc:  # the promise: a report for any document, never a traceback
        return VerificationReport(
            source=label,
            kind="pdf" if kind == "pdf" else "xml",
            problems=(f"the document cannot be examined: {type(exc).__name__}: {exc}",),
            checked_at=options.moment,
        )
    return VerificationReport(
        source=label,
        kind="unknown",
        problems=("neither a PDF nor an XML document",),
        checked_at=options.moment,
    )
