"""PDF syntax shared by the PDF writers we own: numbers, strings, dates, streams, the marker.

Used by the invoice writer (:mod:`evservice.pdf._write`), the font subsets
(:mod:`evservice.pdf._font`) and the direct PAdES update
(:mod:`evservice.pdf._update`), so that each piece of syntax is written
once.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["MARKER", "pdf_date", "pdf_number", "pdf_stream", "pdf_text"]

#: The comment line our writer puts third in every file it makes (after the
#: header and the binary line). The direct PAdES path looks for it in the first
#: 256 bytes to know the file's structure (one revision, a classic xref table).
MARKER = b"%evservice PDF writer 1"


def pdf_number(value: float) -> bytes:
    """A real number with at most four decimals and no trailing zeros (``12.5``, ``0``)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return (text if text not in ("", "-0") else "0").encode()


def pdf_text(value: str) -> bytes:
    """A PDF text string: literal for printable ASCII, UTF-16BE with BOM otherwise.

    Lone surrogates (which a JSON string can carry) are written as they are
    rather than failing the whole document.
    """
    if value.isascii() and value.isprintable():
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be", "surrogatepass").hex().upper().encode() + b">"


def pdf_date(when: datetime) -> bytes:
    """A PDF date string, ``(D:YYYYMMDDHHmmSS+HH'mm')``, in the offset ``when`` carries."""
    offset = when.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"(D:{when:%Y%m%d%H%M%S}{sign}{hours:02d}'{mins:02d}')".encode()


def pdf_stream(header: bytes, data: bytes) -> bytes:
    """A stream object's body: ``header`` (dictionary entries) plus ``/Length``, then the data."""
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (header, len(data), data)
