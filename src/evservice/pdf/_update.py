"""The incremental update a PAdES signature appends to a PDF we wrote, without re-parsing it.

Our writer (:mod:`evservice.pdf._write`, recognised by its marker comment)
and reportlab (the contracts) write one revision with a classic
cross-reference table, so a signature's revision can be appended directly:

* the signed XML (and any other attachment) as an ``EmbeddedFile`` with its
  ``Filespec`` (``/AFRelationship``), listed in the catalog's ``/AF`` and in
  ``/Names /EmbeddedFiles``, exactly what the pyHanko path writes;
* the signature dictionary (``/Adobe.PPKLite``, ``/ETSI.CAdES.detached``,
  ``/M``, fixed-size ``/ByteRange`` and ``/Contents`` placeholders);
* one merged field/widget (``/FT /Sig``, ``/F 132``) on the page of the box,
  added to that page's ``/Annots`` and to ``/AcroForm`` (``/SigFlags 3``);
* the visible stamp as the widget's appearance: a frame and the text. On a
  page of our writer that carries the fixed subset of the stamp's face
  (:func:`evservice.pdf._font.fixed_font`, listed under its subset tag) and
  when that subset holds every character of the stamp, the appearance uses
  that very font object, found by its resource name and checked byte for
  byte (font dictionary, descriptor, font program, ToUnicode map) against
  the subset this process makes. Otherwise (a reportlab PDF, a character
  outside the subset, a font object that is not exactly ours) the stamp
  embeds a small subset made once per process for its characters
  (:func:`evservice.pdf._font.charset_font`);
* the catalog and the page rewritten with the new entries, and a new xref
  section and trailer (``/Prev``, same first ``/ID``).

:func:`prepare_signature` returns ``None`` when the input is not such a PDF
(a second revision, an xref stream, an existing form or attachment, an
unknown producer, ...); the signing side (:mod:`evservice.signing`) then uses
pyHanko. The CMS that goes into ``/Contents`` is the signing side's business:
this module gives the digest of the byte range and puts the CMS in its place
(:class:`SignatureRevision`). :func:`stamp_layout` is shared with the pyHanko
path, so both stamps look the same.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from evservice.errors import DocumentError, SigningError
from evservice.pdf._font import SimpleFont, charset_font, fixed_font
from evservice.pdf._syntax import MARKER
from evservice.pdf._syntax import pdf_date as _date
from evservice.pdf._syntax import pdf_number as _num
from evservice.pdf._syntax import pdf_stream as _stream
from evservice.pdf._syntax import pdf_text as _text

__all__ = ["Attachment", "SignatureRevision", "prepare_signature", "stamp_layout"]

#: An associated file: (file name, MIME type, bytes, AFRelationship, description or None).
Attachment = tuple[str, str, bytes, str, str | None]

# Files our writer made (evservice.pdf._write), and reportlab's (the contracts): both
# write one revision with a classic xref table, which the checks below confirm.
_MARKERS = (MARKER, b"ReportLab Generated PDF document")
_STAMP_COLOR = b"0.1 0.45 0.2"
_STAMP_MARGIN = 4.0
_BYTE_RANGE_WIDTH = 48  # "[0 a b c]" with 10-digit numbers fits in 36

# ---------------------------------------------------------------------------
# the stamp's layout (shared with the pyHanko path, so both look the same)
# ---------------------------------------------------------------------------


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}".strip()
            if line and stringWidth(trial, font, size) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def stamp_layout(text: str, font: str, width: float, height: float) -> tuple[float, list[str]]:
    """The font size and wrapped lines of the stamp: 9 pt, shrunk by 0.5 until it fits."""
    size = 9.0
    while True:
        lines = _wrap(text, font, size, width - 2 * _STAMP_MARGIN)
        if len(lines) * size * 1.25 <= height - 2 * _STAMP_MARGIN or size <= 4:
            return size, lines
        size -= 0.5


# ---------------------------------------------------------------------------
# PDF syntax helpers
# ---------------------------------------------------------------------------


_NAME_SAFE = frozenset(range(0x21, 0x7F)) - frozenset(b"#%()/<>[]{}")


def _name(value: str) -> bytes:
    """A PDF name (``/text#2Fxml``), delimiters and non-ASCII as ``#xx``."""
    out = bytearray(b"/")
    for byte in value.encode("utf-8"):
        out += bytes((byte,)) if byte in _NAME_SAFE else b"#%02X" % byte
    return bytes(out)


# ---------------------------------------------------------------------------
# reading the renderer's PDF (one revision, classic xref table)
# ---------------------------------------------------------------------------

_XREF_SECTION = re.compile(rb"xref\s+0\s+(\d+)\s*?\r?\n")
_OBJ_HEAD = re.compile(rb"(\d+)\s+(\d+)\s+obj\b\s*")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])[ \r\n]{2}")
_REF = rb"(\d+)\s+0\s+R"
_ROOT = re.compile(rb"/Root\s+" + _REF)
_INFO = re.compile(rb"/Info\s+" + _REF)
_SIZE = re.compile(rb"/Size\s+(\d+)")
_ID = re.compile(rb"/ID\s*\[\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*\]")
_PAGES = re.compile(rb"/Pages\s+" + _REF)
_KIDS = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_COUNT = re.compile(rb"/Count\s+(\d+)")
_TYPE_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
# Keys that must be absent: they are what the update writes, or mean a structure
# (encryption, incremental history, xref streams) this writer does not handle.
_TRAILER_REFUSED = re.compile(rb"/(Prev|Encrypt|XRefStm)(?![A-Za-z])")
# A trailer right after the table's last entry, holding only these entries (and comments):
# anything else (bytes inserted into the table or the trailer) leaves it to pyHanko.
_TRAILER_ENTRY = re.compile(
    rb"/(?:Size\s+\d+|Root\s+\d+\s+0\s+R|Info\s+\d+\s+0\s+R"
    rb"|ID\s*\[\s*<[0-9A-Fa-f]+>\s*<[0-9A-Fa-f]+>\s*\])"
)
_COMMENT = re.compile(rb"%[^\r\n]*")
_EMPTY_TRAILER = re.compile(rb"trailer\s*<<\s*>>\s*")
_CATALOG_REFUSED = re.compile(rb"/(AcroForm|Names|AF|Extensions|Version|Perms)(?![A-Za-z])")
_PAGE_REFUSED = re.compile(rb"/Annots(?![A-Za-z])")
# Our writer's page: /Resources << /Font << /NAME n 0 R ... >> >> written inline.
_PAGE_FONTS = re.compile(rb"/Resources\s*<<\s*/Font\s*<<([^<>]*)>>")
_FONT_REFS = re.compile(rb"/FontDescriptor (\d+) 0 R /ToUnicode (\d+) 0 R >>$")
_FONT_FILE = re.compile(rb"/FontFile2 (\d+) 0 R >>$")


def _plain_trailer(trailer: bytes) -> bool:
    """True if ``trailer`` starts at once with ``trailer`` and holds only the known entries."""
    rest = _TRAILER_ENTRY.sub(b"", _COMMENT.sub(b"", trailer))
    return _EMPTY_TRAILER.fullmatch(rest) is not None


@dataclass(frozen=True)
class _Plain:
    """What the update needs from the original file."""

    size: int
    root: int
    info: int | None
    first_id: bytes
    startxref: int
    catalog: bytes
    page_number: int
    page: bytes
    ours: bool  # written by our writer (evservice.pdf._write), not by reportlab
    xref_body: int  # where the xref table's first entry starts


def _offset(pdf: bytes, xref_body: int, count: int, number: int) -> int | None:
    """Where object ``number`` starts according to the xref table (None: not an object in use)."""
    if not 0 < number < count:
        return None
    entry = _XREF_ENTRY.match(pdf, xref_body + 20 * number)
    if entry is None or entry.group(3) != b"n" or entry.group(2) != b"00000":
        return None
    return int(entry.group(1))


def _object(pdf: bytes, xref_body: int, count: int, number: int) -> bytes | None:
    """The dictionary of object ``number`` (not a stream), or None if it is anything else."""
    offset = _offset(pdf, xref_body, count, number)
    if offset is None:
        return None
    head = _OBJ_HEAD.match(pdf, offset)
    if head is None or int(head.group(1)) != number or head.group(2) != b"0":
        return None
    end = pdf.find(b"endobj", head.end())
    if end < 0:
        return None
    body = pdf[head.end() : end].rstrip()
    if not (body.startswith(b"<<") and body.endswith(b">>")) or b"stream" in body:
        return None
    return body


def _read_plain(pdf: bytes, page_index: int) -> _Plain | None:
    """The parts of a single-revision PDF of our writer (or reportlab); None for anything else."""
    head = pdf[:256]
    if not pdf.startswith(b"%PDF-1.") or not any(marker in head for marker in _MARKERS):
        return None
    end = pdf.rstrip()
    if not end.endswith(b"%%EOF"):
        return None
    at = end.rfind(b"startxref", max(0, len(end) - 64))
    if at < 0:
        return None
    try:
        startxref = int(end[at + 9 : -5].strip())
    except ValueError:
        return None
    section = _XREF_SECTION.match(pdf, startxref)
    if section is None:
        return None
    count = int(section.group(1))
    xref_body = section.end()
    trailer_at = xref_body + 20 * count
    trailer = pdf[trailer_at:at]
    if not _plain_trailer(trailer) or _TRAILER_REFUSED.search(trailer):
        return None
    root, size, ids = _ROOT.search(trailer), _SIZE.search(trailer), _ID.search(trailer)
    info = _INFO.search(trailer)
    if root is None or size is None or ids is None or int(size.group(1)) != count:
        return None
    catalog = _object(pdf, xref_body, count, int(root.group(1)))
    if catalog is None or _CATALOG_REFUSED.search(catalog):
        return None
    pages_ref = _PAGES.search(catalog)
    if pages_ref is None:
        return None
    pages = _object(pdf, xref_body, count, int(pages_ref.group(1)))
    if pages is None or (kids_match := _KIDS.search(pages)) is None:
        return None
    kids_text = kids_match.group(1)
    kids = [int(n) for n in re.findall(_REF, kids_text)]
    total = _COUNT.search(pages)
    leftover = re.sub(_REF, b"", kids_text).strip()
    if leftover or total is None or int(total.group(1)) != len(kids):
        return None  # a nested page tree: not what our renderer writes
    if not 0 <= page_index < len(kids):
        return None
    page = _object(pdf, xref_body, count, kids[page_index])
    if page is None or not _TYPE_PAGE.search(page) or _PAGE_REFUSED.search(page):
        return None
    return _Plain(
        size=count,
        root=int(root.group(1)),
        info=int(info.group(1)) if info else None,
        first_id=ids.group(1),
        startxref=startxref,
        catalog=catalog,
        page_number=kids[page_index],
        page=page,
        ours=MARKER in head,
        xref_body=xref_body,
    )


def _written(pdf: bytes, plain: _Plain, number: int, body: bytes) -> bool:
    """True if object ``number`` is ``body`` exactly, as our writer writes objects."""
    offset = _offset(pdf, plain.xref_body, plain.size, number)
    return offset is not None and pdf.startswith(b"%d 0 obj\n%s\nendobj" % (number, body), offset)


def _page_font(pdf: bytes, plain: _Plain, font_name: str) -> int | None:
    """The object number of the fixed subset of ``font_name`` on the page, if it is exactly it.

    Our writer lists a fixed subset under its tag (``/KEGCOD 6 0 R``) and writes
    its four objects as :class:`SimpleFont` holds them: each is compared with
    them, so the stamp can only use a font whose codes, widths, glyphs and
    Unicode text are the ones it expects.
    """
    if not plain.ours:
        return None
    font = fixed_font(font_name)
    fonts = _PAGE_FONTS.search(plain.page)
    if fonts is None:
        return None
    entry = re.search(rb"/%s\s+(\d+)\s+0\s+R" % font.tag.encode(), fonts.group(1))
    if entry is None:
        return None
    number = int(entry.group(1))
    body = _object(pdf, plain.xref_body, plain.size, number)
    if body is None:
        return None
    refs = _FONT_REFS.search(body)
    if refs is None:
        return None
    descriptor, to_unicode = int(refs.group(1)), int(refs.group(2))
    if body != font.font % (descriptor, to_unicode):
        return None
    found = _object(pdf, plain.xref_body, plain.size, descriptor) or b""
    program = _FONT_FILE.search(found)
    if program is None or found != font.descriptor % int(program.group(1)):
        return None
    if not (
        _written(pdf, plain, int(program.group(1)), font.font_file)
        and _written(pdf, plain, to_unicode, font.to_unicode)
    ):
        return None
    return number


# ---------------------------------------------------------------------------
# the incremental update
# ---------------------------------------------------------------------------


class _Update:
    """Objects appended after the original file, with their offsets."""

    def __init__(self, original: bytes, next_number: int) -> None:
        self.base = len(original)
        self.parts: list[bytes] = [] if original.endswith(b"\n") else [b"\n"]
        self.length = sum(len(p) for p in self.parts)
        self.offsets: dict[int, int] = {}
        self.next_number = next_number

    def reserve(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number

    def put(self, number: int, body: bytes) -> int:
        """Write object ``number``; returns where its body starts in the update."""
        self.offsets[number] = self.base + self.length
        head = b"%d 0 obj\n" % number
        self.parts.append(head + body + b"\nendobj\n")
        start = self.length + len(head)
        self.length += len(self.parts[-1])
        return start

    def finish(self, size: int, trailer: bytes) -> bytes:
        numbers = sorted(self.offsets)
        lines = [b"xref\n0 1\n0000000000 65535 f \n"]
        run: list[int] = []
        for number in [*numbers, -1]:
            if run and number != run[-1] + 1:
                lines.append(b"%d %d\n" % (run[0], len(run)))
                lines.extend(b"%010d 00000 n \n" % self.offsets[n] for n in run)
                run = []
            run.append(number)
        xref_at = self.base + self.length
        end = b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, xref_at)
        lines.append(end)
        return b"".join(self.parts) + b"".join(lines)


def _embedded_file(
    update: _Update, data: bytes, filename: str, mime: str, relationship: str,
    description: str | None, when: bytes,
) -> int:  # fmt: skip
    stream_number = update.reserve()
    checksum = hashlib.md5(data, usedforsecurity=False).hexdigest().encode()
    update.put(
        stream_number,
        _stream(
            b"/Type /EmbeddedFile /Subtype %s /Filter /FlateDecode /Params << /Size %d "
            b"/CheckSum <%s> /CreationDate %s /ModDate %s >>"
            % (_name(mime), len(data), checksum, when, when),
            zlib.compress(data, 6),
        ),
    )
    spec = update.reserve()
    name = _text(filename)
    desc = b" /Desc " + _text(description) if description else b""
    update.put(
        spec,
        b"<< /Type /Filespec /F %s /UF %s /EF << /F %d 0 R /UF %d 0 R >>%s /AFRelationship %s >>"
        % (name, name, stream_number, stream_number, desc, _name(relationship.lstrip("/"))),
    )
    return spec


def _appearance(
    update: _Update, font_name: str, text: str, width: float, height: float, shared: int | None
) -> int | None:
    """The stamp as a form XObject: frame and text, in the page's fixed subset or its own.

    ``shared`` is the object number of the page's fixed subset of ``font_name``
    (checked by :func:`_page_font`), used if it holds every character of ``text``.
    """
    size, lines = stamp_layout(text, font_name, width, height)
    chars = frozenset(text.replace("\n", ""))
    font: SimpleFont | None = None
    if shared is not None:
        font = fixed_font(font_name)  # what _page_font found on the page
        if not chars <= font.codes.keys():
            font = shared = None
    if font is None:
        font = charset_font(font_name, chars | frozenset("0123456789 "))
    if font is None:
        return None
    ops = [
        b"q 0.8 w %s RG 0.4 0.4 %s %s re S %s rg BT /EvsStamp %s Tf"
        % (_STAMP_COLOR, _num(width - 0.8), _num(height - 0.8), _STAMP_COLOR, _num(size))
    ]
    y = height - _STAMP_MARGIN - size
    for line in lines:
        ops.append(b"1 0 0 1 %s %s Tm %s Tj" % (_num(_STAMP_MARGIN), _num(y), font.encode(line)))
        y -= size * 1.25
    ops.append(b"ET Q")
    content = b"\n".join(ops)
    form = update.reserve()
    font_ref = update.reserve() if shared is None else shared
    update.put(
        form,
        _stream(
            b"/Type /XObject /Subtype /Form /BBox [ 0 0 %s %s ] /Resources << /Font << "
            b"/EvsStamp %d 0 R >> /ProcSet [ /PDF /Text ] >>"
            % (_num(width), _num(height), font_ref),
            content,
        ),
    )
    if shared is not None:
        return form
    descriptor, program, cmap = (update.reserve() for _ in range(3))
    update.put(font_ref, font.font % (descriptor, cmap))
    update.put(descriptor, font.descriptor % program)
    update.put(program, font.font_file)
    update.put(cmap, font.to_unicode)
    return form


class SignatureRevision:
    """A PDF with the signature's revision appended and ``/Contents`` still empty.

    :meth:`digest` is the SHA-256 of the byte range (what the CMS signs);
    :meth:`fill` puts the DER CMS into the reserved ``/Contents`` and returns
    the signed file.
    """

    def __init__(self, out: bytearray, contents_at: int, reserved: int) -> None:
        self._out = out
        self._contents_at = contents_at
        self._reserved = reserved

    def digest(self) -> bytes:
        """SHA-256 of the file without the ``/Contents`` placeholder."""
        gap_end = self._contents_at + self._reserved + 2
        view = memoryview(self._out)
        try:
            digest = hashlib.sha256(view[: self._contents_at])
            digest.update(view[gap_end:])
        finally:
            view.release()
        return digest.digest()

    def fill(self, cms: bytes) -> bytes:
        """The signed PDF: ``cms`` (DER) written in hex into the reserved ``/Contents``."""
        hex_blob = cms.hex().upper().encode()
        if len(hex_blob) > self._reserved:
            raise SigningError(
                f"the CMS signature needs {len(hex_blob)} hex digits, "
                f"only {self._reserved} are reserved"
            )
        at = self._contents_at + 1
        self._out[at : at + len(hex_blob)] = hex_blob
        return bytes(self._out)


def prepare_signature(
    pdf: bytes,
    *,
    when: datetime,
    reserved: int,
    field_name: str = "Signature1",
    page: int = 0,
    rect: tuple[int, int, int, int] | None = None,
    stamp_text: str | None = None,
    stamp_font: str | None = None,
    files: Sequence[Attachment] = (),
    reason: str | None = None,
    location: str | None = None,
) -> SignatureRevision | None:
    """Append a signature's revision to a PDF of our writer (or reportlab); None if it is not one.

    Long (about 90 lines) because it writes one revision's objects in order:
    attachments, stamp, signature dictionary, widget, catalog, page, trailer;
    split, each part would take most of the others' numbers as arguments.

    ``rect`` (x1, y1, x2, y2, PDF points) on ``page`` places the visible
    ``stamp_text`` drawn in ``stamp_font`` (a registered reportlab TrueType
    font); without ``rect`` the signature is invisible (a zero-size widget on
    the first page, as pyHanko makes it). ``files`` are attached first, in the
    same revision, so the signature covers them. ``reserved`` is the number of
    hex digits kept for the CMS. ``when`` must be timezone-aware.
    """
    plain = _read_plain(pdf, page if rect is not None else 0)
    if plain is None:
        return None
    seen: set[str] = set()
    for name in (f[0] for f in files):
        if name in seen:
            raise DocumentError(f"the PDF already embeds a file named {name!r}")
        seen.add(name)

    date = _date(when)
    update = _Update(pdf, plain.size)
    specs = sorted(
        (
            (name, _embedded_file(update, data, name, mime, rel, desc, date))
            for name, mime, data, rel, desc in files
        ),
        key=lambda item: item[0],
    )
    appearance = None
    if rect is not None and stamp_text is not None and stamp_font is not None:
        x1, y1, x2, y2 = rect
        shared = _page_font(pdf, plain, stamp_font)
        appearance = _appearance(update, stamp_font, stamp_text, abs(x2 - x1), abs(y2 - y1), shared)
        if appearance is None:
            return None
    signature = update.reserve()
    extra = b""
    if reason:
        extra += b" /Reason " + _text(reason)
    if location:
        extra += b" /Location " + _text(location)
    prefix = (
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M %s%s"
        b" /ByteRange " % (date, extra)
    )
    body_at = update.put(
        signature,
        prefix + b" " * _BYTE_RANGE_WIDTH + b" /Contents <" + b"0" * reserved + b"> >>",
    )
    byte_range_at = update.base + body_at + len(prefix)
    contents_at = byte_range_at + _BYTE_RANGE_WIDTH + len(b" /Contents ")

    widget = update.reserve()
    box = b"[ %d %d %d %d ]" % (rect if rect is not None else (0, 0, 0, 0))
    ap = b" /AP << /N %d 0 R >>" % appearance if appearance is not None else b""
    update.put(
        widget,
        b"<< /Type /Annot /Subtype /Widget /FT /Sig /T %s /F 132 /Rect %s /P %d 0 R /V %d 0 R%s >>"
        % (_text(field_name), box, plain.page_number, signature, ap),
    )
    catalog = plain.catalog[:-2].rstrip() + (
        b"\n/Version /1.7 /Extensions << /ESIC << /Type /DeveloperExtensions "
        b"/BaseVersion /1.7 /ExtensionLevel 1 >> >>"
        b"\n/AcroForm << /Fields [ %d 0 R ] /SigFlags 3 >>" % widget
    )
    if specs:
        listed = b" ".join(_text(name) + b" %d 0 R" % ref for name, ref in specs)
        refs = b" ".join(b"%d 0 R" % ref for _, ref in specs)
        catalog += b"\n/Names << /EmbeddedFiles << /Names [ %s ] >> >>\n/AF [ %s ]" % (listed, refs)
    update.put(plain.root, catalog + b"\n>>")
    update.put(plain.page_number, plain.page[:-2].rstrip() + b"\n/Annots [ %d 0 R ]\n>>" % widget)

    second_id = hashlib.md5(  # a new second /ID for the new revision (ISO 32000 14.4)
        plain.first_id + date + b"".join(hashlib.sha256(f[2]).digest() for f in files),
        usedforsecurity=False,
    ).hexdigest()
    info = b" /Info %d 0 R" % plain.info if plain.info is not None else b""
    trailer = b"/Root %d 0 R%s /ID [ <%s> <%s> ] /Prev %d" % (
        plain.root,
        info,
        plain.first_id,
        second_id.encode(),
        plain.startxref,
    )
    out = bytearray(pdf)
    out += update.finish(update.next_number, trailer)

    gap_end = contents_at + reserved + 2
    byte_range = b"[0 %d %d %d]" % (contents_at, gap_end, len(out) - gap_end)
    out[byte_range_at : byte_range_at + len(byte_range)] = byte_range
    return SignatureRevision(out, contents_at, reserved)
