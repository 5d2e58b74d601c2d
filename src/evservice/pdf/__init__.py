"""Our PDF engine: page writer, font subsets, PDF syntax, shipped fonts, signature revisions.

:class:`PdfCanvas` draws pages with the canvas methods our layouts call and
writes the file itself (invoices, payment QR boxes); :func:`register_fonts`
registers the shipped DejaVu faces with reportlab once per process and gives
their names; :func:`fixed_font` / :func:`charset_font` make the simple
TrueType subsets the writer embeds; :func:`prepare_signature` appends a
PAdES signature's revision (attachments, widget, stamp) to a PDF of our
writer or reportlab, leaving the CMS to :mod:`evservice.signing`;
:func:`stamp_layout` wraps the stamp's text the same way for both signing
paths. The ``pdf_*`` helpers write the pieces of PDF syntax every part shares.
"""

from evservice.pdf._font import (
    FIXED_CHARACTERS,
    OutsideSubset,
    SimpleFont,
    charset_font,
    fixed_font,
)
from evservice.pdf._fonts import FontNames
from evservice.pdf._fonts import register as register_fonts
from evservice.pdf._syntax import MARKER, pdf_date, pdf_number, pdf_stream, pdf_text
from evservice.pdf._update import Attachment, SignatureRevision, prepare_signature, stamp_layout
from evservice.pdf._write import PdfCanvas, string_width

__all__ = [
    "FIXED_CHARACTERS",
    "MARKER",
    "Attachment",
    "FontNames",
    "OutsideSubset",
    "PdfCanvas",
    "SignatureRevision",
    "SimpleFont",
    "charset_font",
    "fixed_font",
    "pdf_date",
    "pdf_number",
    "pdf_stream",
    "pdf_text",
    "prepare_signature",
    "register_fonts",
    "stamp_layout",
    "string_width",
]
