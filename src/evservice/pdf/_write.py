"""A small PDF writer for our own pages: a canvas that writes PDF operators straight into bytes.

reportlab's canvas formats every string through its text object, maps each
character to a subset code one by one and assembles the file from Python
objects at save; for an invoice page (about 170 strings) that machinery was
most of the rendering time. :class:`PdfCanvas` implements exactly the canvas
methods our layouts call (``setFont``, ``drawString``, ``rect``, ``line``,
``saveState``, ``transform``, ``addLiteral``, ``showPage``, the metadata
setters, ...) with the same numbers reportlab writes (its ``fp_str``) and the
same string widths (its ``stringWidth``), so every position on the page is
what reportlab's canvas would draw.

Text uses the shipped DejaVu faces through simple TrueType subsets
(:mod:`evservice.pdf._font`): each face's fixed subset (ASCII, every
Vietnamese letter, the layout's punctuation) is made once per process and
copied into every file; the characters a document uses beyond it go to
subsets made for exactly those characters (cached per character set). A
page lists each fixed subset among its font resources under the subset's tag
(``/KEGCOD``, named after the font, not after the order of ``setFont``
calls), so the signing step (:mod:`evservice.pdf._update`) can find
the regular face's font object on the page and draw the signature stamp with
it instead of embedding another font.

The file: ``%PDF-1.7``, a binary comment line, :data:`MARKER`, then the
catalog (``/Lang``), a flat page tree, ``/Info``, each page with its content
stream (FlateDecode) and only the fonts it uses, the fonts, a classic xref
table and a trailer whose ``/ID`` is two equal MD5 digests of the file's
body (each fixed font program counted by its name, which its content
determines). Nothing depends on the clock or the process: the same calls give
the same bytes.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reportlab.lib.rl_accel import fp_str  # reportlab's number format: its canvas's positions
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.pdfbase.ttfonts import TTFont

from evservice.errors import DocumentError
from evservice.pdf._font import OutsideSubset, SimpleFont, charset_font, fixed_font
from evservice.pdf._syntax import MARKER, pdf_date, pdf_text

__all__ = ["PdfCanvas", "string_width"]

_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + MARKER + b"\n"
_COMPRESSION = 6  # zlib level of the page streams
_PATH_OPS = {(0, 0): "n", (1, 0): "S", (0, 1): "f", (1, 1): "B"}

# Per-process caches of what pages repeat (labels, their widths, positions); each is
# emptied when it reaches the limit, so a long batch keeps a bounded memory.
_CACHE_LIMIT = 20_000
_widths: dict[tuple[str, float, str], float] = {}
_shown: dict[str, dict[str, str]] = {}  # font name -> text -> "(...) Tj"
_numbers: dict[float, str] = {}  # value -> fp_str(value)


def _num(value: float) -> str:
    """``fp_str(value)``, remembered: a page repeats its coordinates (row edges, columns).

    ``fp_str(a, b)`` is ``fp_str(a) + " " + fp_str(b)``: numbers format one by one.
    """
    text = _numbers.get(value)
    if text is None:
        text = fp_str(value)
        if len(_numbers) >= _CACHE_LIMIT:
            _numbers.clear()
        _numbers[value] = text
    return text


def string_width(text: str, font_name: str, size: float) -> float:
    """reportlab's ``stringWidth(text, font_name, size)``, remembered per process.

    The layout measures the same strings again and again (each header twice,
    the same labels on every invoice); the value is reportlab's own, so
    positions are unchanged.
    """
    key = (font_name, size, text)
    width = _widths.get(key)
    if width is None:
        width = float(stringWidth(text, font_name, size))
        if len(_widths) >= _CACHE_LIMIT:
            _widths.clear()
        _widths[key] = width
    return width


@dataclass(eq=False)
class _Face:
    """One font as a document uses it: its fixed subset, its resource name, its extra characters."""

    name: str
    resource: str
    fixed: SimpleFont
    shown: dict[str, str]  # text -> "(...) Tj" in the fixed subset, shared per process
    extra: set[str] = field(default_factory=set)
    # Filled at save: the extra subsets (resource name, font) and each extra character's one.
    subsets: list[tuple[str, SimpleFont]] = field(default_factory=list)
    placed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Extra:
    """A run of characters outside the face's fixed subset; written at save."""

    face: _Face
    size: str
    text: str


@dataclass
class _Page:
    parts: list[str | _Extra]
    resources: set[str]  # font resources of the page (the extra subsets' added at save)


class PdfCanvas:
    """Draws pages the way reportlab's ``Canvas`` does, for the methods our layouts use.

    ``page_size`` is (width, height) in points; ``lang`` goes into the
    catalog; ``created`` is written as both the creation and modification date
    (pass the document's own time: the output must not depend on the clock).
    Only TrueType fonts registered with reportlab can be set (the shipped
    DejaVu faces, :func:`evservice.pdf._fonts.register`). :meth:`save` returns the
    file.
    """

    def __init__(
        self,
        page_size: tuple[float, float],
        *,
        lang: str | None = None,
        created: datetime | None = None,
    ) -> None:
        self._media_box = f"[ 0 0 {fp_str(*page_size)} ]".encode()
        self._lang = lang
        self._created = created
        self._info: dict[bytes, str] = {}
        self._pages: list[_Page] = []
        self._faces: dict[str, _Face] = {}
        self._face: _Face | None = None
        self._size = 0.0
        self._saved: bytes | None = None
        self._start_page()

    # -- metadata ---------------------------------------------------------------

    def setTitle(self, title: str) -> None:  # noqa: N802 - reportlab's names
        self._info[b"Title"] = title

    def setAuthor(self, author: str) -> None:  # noqa: N802
        self._info[b"Author"] = author

    def setSubject(self, subject: str) -> None:  # noqa: N802
        self._info[b"Subject"] = subject

    def setCreator(self, creator: str) -> None:  # noqa: N802
        self._info[b"Creator"] = creator

    def setKeywords(self, keywords: str) -> None:  # noqa: N802
        self._info[b"Keywords"] = keywords

    # -- graphics state ------------------------------------------------------------

    def _start_page(self) -> None:
        self._parts: list[str | _Extra] = []
        self._resources: set[str] = set()
        self._in_text = False
        self._fill: tuple[float, float, float] | None = (0, 0, 0)
        self._stroke: tuple[float, float, float] | None = (0, 0, 0)
        self._width: float | None = 1
        self._font_set: tuple[_Face, float] | None = None  # what the stream last selected
        self._stack: list[tuple[Any, ...]] = []

    def _end_text(self) -> None:
        if self._in_text:
            self._parts.append("ET")
            self._in_text = False

    def setFillColorRGB(self, r: float, g: float, b: float) -> None:  # noqa: N802
        rgb = (r, g, b)
        if rgb != self._fill:
            self._fill = rgb
            self._parts.append(fp_str(r, g, b) + " rg")

    def setStrokeColorRGB(self, r: float, g: float, b: float) -> None:  # noqa: N802
        rgb = (r, g, b)
        if rgb != self._stroke:
            self._stroke = rgb
            self._parts.append(fp_str(r, g, b) + " RG")

    def setLineWidth(self, width: float) -> None:  # noqa: N802
        if width != self._width:
            self._width = width
            self._parts.append(_num(width) + " w")

    def setDash(self, array: float | Sequence[float] = (), phase: float = 0) -> None:  # noqa: N802
        """``setDash(on, off)`` or ``setDash([a, b, ...], phase)``; ``setDash()`` is solid."""
        if isinstance(array, int | float):
            array, phase = (array, phase), 0
        pattern = fp_str(*array) if array else ""
        self._parts.append(f"[{pattern}] {fp_str(phase)} d")

    def saveState(self) -> None:  # noqa: N802
        self._end_text()
        self._stack.append((self._fill, self._stroke, self._width, self._font_set))
        self._parts.append("q")

    def restoreState(self) -> None:  # noqa: N802
        self._end_text()
        self._fill, self._stroke, self._width, self._font_set = self._stack.pop()
        self._parts.append("Q")

    def transform(self, a: float, b: float, c: float, d: float, e: float, f: float) -> None:
        self._end_text()
        self._parts.append(fp_str(a, b, c, d, e, f) + " cm")

    def addLiteral(self, operators: str | bytes) -> None:  # noqa: N802
        """Raw content-stream operators (ASCII), drawn as they are.

        They must leave the graphics state as they found it (inside ``q``/``Q``,
        as :func:`evservice.payments.draw_qr` does): the canvas does not parse
        them, so a colour they set would not be known to be set.
        """
        self._end_text()
        if isinstance(operators, bytes):
            operators = operators.decode("latin-1")
        self._parts.append(operators)

    # -- paths -------------------------------------------------------------------

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self._end_text()
        self._parts.append(f"{_num(x1)} {_num(y1)} m {_num(x2)} {_num(y2)} l S")

    def rect(
        self, x: float, y: float, width: float, height: float, stroke: int = 1, fill: int = 0
    ) -> None:
        self._end_text()
        op = _PATH_OPS[bool(stroke), bool(fill)]
        self._parts.append(f"{_num(x)} {_num(y)} {_num(width)} {_num(height)} re {op}")

    # -- text --------------------------------------------------------------------

    def setFont(self, name: str, size: float) -> None:  # noqa: N802
        face = self._faces.get(name)
        if face is None:
            face = self._add_face(name)
        self._face = face
        self._size = size

    def _add_face(self, name: str) -> _Face:
        font = getFont(name)
        if not isinstance(font, TTFont):
            raise DocumentError(f"the font {name!r} is not a registered TrueType font")
        shown = _shown.setdefault(name, {})
        fixed = fixed_font(name)
        resource = f"/{fixed.tag}"
        if any(face.resource == resource for face in self._faces.values()):
            resource += str(len(self._faces) + 1)  # two faces whose tags collide: keep both
        face = _Face(name, resource, fixed, shown)
        self._faces[name] = face
        return face

    def stringWidth(  # noqa: N802
        self, text: str, name: str | None = None, size: float | None = None
    ) -> float:
        """The width of ``text`` in points (reportlab's measure), by default in the current font."""
        face = self._face if name is None else self._faces.get(name) or self._add_face(name)
        if face is None:
            raise DocumentError("no font is set")
        return string_width(text, face.name, self._size if size is None else size)

    def drawString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        self._show(x, y, text)

    def drawRightString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        self._show(x - self.stringWidth(text), y, text)

    def drawCentredString(self, x: float, y: float, text: str) -> None:  # noqa: N802
        self._show(x - 0.5 * self.stringWidth(text), y, text)

    def _show(self, x: float, y: float, text: str) -> None:
        face = self._face
        if face is None:
            raise DocumentError("no font is set")
        if not text:
            return
        parts = self._parts
        if not self._in_text:
            parts.append("BT")
            self._in_text = True
        size = self._size
        shown = face.shown.get(text)
        if shown is None:
            try:
                shown = f"({text.translate(face.fixed.table)}) Tj"
            except OutsideSubset:
                self._show_mixed(face, x, y, text)
                return
            if len(face.shown) >= _CACHE_LIMIT:
                face.shown.clear()
            face.shown[text] = shown
        if self._font_set != (face, size):
            self._font_set = (face, size)
            self._resources.add(face.resource)
            parts.append(f"{face.resource} {_num(size)} Tf")
        parts.append(f"1 0 0 1 {_num(x)} {_num(y)} Tm {shown}")

    def _show_mixed(self, face: _Face, x: float, y: float, text: str) -> None:
        """Text with characters outside the fixed subset: runs of each; the others' at save."""
        self._parts.append(f"1 0 0 1 {_num(x)} {_num(y)} Tm")
        size = _num(self._size)
        table = face.fixed.table
        run = ""
        inside: bool | None = None
        for char in text:
            try:
                code = table[ord(char)]
                here = True
            except OutsideSubset:
                here = False
            if here is not inside and run:
                self._flush(face, size, run, bool(inside))
                run = ""
            inside = here
            run += code if here else char
        self._flush(face, size, run, bool(inside))

    def _flush(self, face: _Face, size: str, run: str, inside: bool) -> None:
        if inside:
            if self._font_set != (face, self._size):
                self._font_set = (face, self._size)
                self._resources.add(face.resource)
                self._parts.append(f"{face.resource} {size} Tf")
            self._parts.append(f"({run}) Tj")
        else:
            face.extra.update(run)
            self._parts.append(_Extra(face, size, run))
            self._font_set = None  # an extra subset is selected now

    # -- pages and the file ----------------------------------------------------------

    def showPage(self) -> None:  # noqa: N802
        self._end_text()
        self._pages.append(_Page(self._parts, self._resources))
        self._start_page()

    def save(self) -> bytes:
        """The PDF file (pages drawn since the last :meth:`showPage` are added as a page).

        The canvas is finished then: saving again returns the same bytes.
        """
        if self._saved is None:
            if self._parts or not self._pages:
                self.showPage()
            self._saved = _Document(self).write()
        return self._saved


class _Document:
    """Numbers the objects and writes the file."""

    def __init__(self, canvas: PdfCanvas) -> None:
        self.canvas = canvas
        self.chunks: list[bytes] = [_HEADER]
        self.length = len(_HEADER)
        self.offsets: list[int] = [0]  # object 0 is the free list's head
        self.digest = hashlib.md5(_HEADER, usedforsecurity=False)

    def put(self, number: int, body: bytes, identity: bytes | None = None) -> None:
        """Write object ``number``; ``identity`` stands for ``body`` in the file's digest.

        The fixed subsets' font programs (about 9 KB each, the same in every
        file) are hashed by their name, which is derived from their content.
        """
        if number != len(self.offsets):
            raise AssertionError("objects are written in order")  # pragma: no cover
        self.offsets.append(self.length)
        chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
        self.chunks.append(chunk)
        self.length += len(chunk)
        self.digest.update(chunk if identity is None else b"%d %s" % (number, identity))

    def write(self) -> bytes:
        canvas = self.canvas
        pages = canvas._pages
        faces = list(canvas._faces.values())
        _place_extras(faces)
        contents = [_content(page) for page in pages]  # adds the extra subsets' resources
        used = set().union(*(page.resources for page in pages))
        # 1 catalog, 2 page tree, 3 info, then page + contents per page, then the fonts.
        font_numbers: dict[str, int] = {}
        fonts: list[SimpleFont] = []
        for face in faces:
            for resource, font in [(face.resource, face.fixed), *face.subsets]:
                if resource in used:
                    font_numbers[resource] = 4 + 2 * len(pages) + 4 * len(fonts)
                    fonts.append(font)
        lang = b" /Lang " + pdf_text(canvas._lang) if canvas._lang else b""
        self.put(1, b"<< /Type /Catalog /Pages 2 0 R%s >>" % lang)
        kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
        self.put(2, b"<< /Type /Pages /Kids [ %s ] /Count %d >>" % (kids, len(pages)))
        self.put(3, self._info())
        for index, (page, content) in enumerate(zip(pages, contents, strict=True)):
            number = 4 + 2 * index
            listed = b" ".join(
                b"%s %d 0 R" % (r.encode(), font_numbers[r]) for r in sorted(page.resources)
            )
            self.put(
                number,
                b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Resources << /Font << %s >> >> "
                b"/Contents %d 0 R >>" % (canvas._media_box, listed, number + 1),
            )
            data = zlib.compress(content, _COMPRESSION)
            self.put(
                number + 1,
                b"<< /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(data), data),
            )
        for font in fonts:
            number = len(self.offsets)
            name = font.base_name.encode()
            self.put(number, font.font % (number + 1, number + 3))
            self.put(number + 1, font.descriptor % (number + 2))
            self.put(number + 2, font.font_file, name + b" program")
            self.put(number + 3, font.to_unicode, name + b" to-unicode")
        body = b"".join(self.chunks)
        digest = self.digest.hexdigest().encode()
        size = len(self.offsets)
        xref = [b"xref\n0 %d\n0000000000 65535 f \n" % size]
        xref += [b"%010d 00000 n \n" % offset for offset in self.offsets[1:]]
        trailer = b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R /ID [ <%s> <%s> ] >>\n" % (
            size,
            digest,
            digest,
        )
        return body + b"".join(xref) + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)

    def _info(self) -> bytes:
        canvas = self.canvas
        entries = [b"/%s %s" % (key, pdf_text(value)) for key, value in canvas._info.items()]
        entries.append(b"/Producer (evservice)")
        if canvas._created is not None:
            stamp = pdf_date(canvas._created)
            entries += [b"/CreationDate " + stamp, b"/ModDate " + stamp]
        return b"<< %s >>" % b" ".join(entries)


def _place_extras(faces: Sequence[_Face]) -> None:
    """Give each face's extra characters their subsets: code point order, 255 a subset."""
    count = 0
    for face in faces:
        chars = sorted(face.extra)
        for start in range(0, len(chars), 255):
            chunk = chars[start : start + 255]
            font = charset_font(face.name, frozenset(chunk))
            if font is None:  # pragma: no cover - a chunk has at most 255 characters
                raise AssertionError("an extra subset holds at most 255 characters")
            count += 1
            face.placed.update(dict.fromkeys(chunk, len(face.subsets)))
            face.subsets.append((f"/X{count}", font))


def _content(page: _Page) -> bytes:
    """The page's content stream, its extra runs written now that their subsets are known."""
    lines: list[str] = []
    for part in page.parts:
        if isinstance(part, str):
            lines.append(part)
            continue
        face = part.face
        current = -1
        run = ""
        for char in part.text:  # consecutive characters of one subset go in one string
            index = face.placed[char]
            if index != current and run:
                lines.append(_extra_show(face, current, part.size, run))
                run = ""
            current = index
            run += char
        lines.append(_extra_show(face, current, part.size, run))
        page.resources.update(face.subsets[i][0] for i in {face.placed[c] for c in part.text})
    return "\n".join(lines).encode("latin-1")


def _extra_show(face: _Face, index: int, size: str, run: str) -> str:
    resource, font = face.subsets[index]
    return f"{resource} {size} Tf ({run.translate(font.table)}) Tj"
