"""Simple TrueType font subsets (1-byte codes) of the shipped DejaVu fonts, made once per process.

A simple TrueType font in a PDF maps each byte of a string to one glyph (the
subset's own ``cmap``), takes its advance widths from ``/Widths`` and its
Unicode text from a ``/ToUnicode`` CMap. :class:`SimpleFont` holds all four
objects of one subset (font dictionary, descriptor, compressed font program,
compressed ToUnicode map) as bytes, with ``%d`` slots for the object numbers,
so a document copies them instead of making them.

Two kinds of subsets:

* :func:`fixed_font`: one per face, the same in every invoice: printable ASCII
  at its own codes and every Vietnamese letter and the punctuation the
  invoice layout uses (:data:`FIXED_CHARACTERS`) at the other codes.
* :func:`charset_font`: a subset for a set of characters (code 0 is
  ``.notdef``, then the characters in code point order), for the characters of
  a document outside the fixed subset (a buyer named "Øster" or "Ωmega") and
  for the signature stamp. Cached per (face, character set), bounded.

A character the face has no glyph for is kept in the subset with the glyph
``.notdef`` and the face's default width (what reportlab's ``stringWidth``
measures for it), and its ToUnicode entry is the character itself: the page
shows an empty box there, and copying or extracting the text still gives the
character.

The font programs carry no TrueType hinting, which is most of a DejaVu
subset's bytes (the fixed subset of DejaVu Sans: 22 KB deflated with it, 8.6
KB without). reportlab's ``makeSubset`` picks the glyphs and writes the
``(1,0)`` format 6 ``cmap`` that maps each 1-byte code to its glyph (code
``i`` is ``chars[i]``); fontTools then removes every glyph's instructions and
keeps ``head``, ``hhea``, ``loca``, ``maxp``, ``glyf``, ``hmtx``, the
``cmap`` a simple font needs (ISO 32000-1, 9.9) and the 96-byte ``OS/2`` (as
iText's subsetter keeps it for simple fonts); ``name`` and ``post`` go.
``cvt``, ``fpgm`` and ``prep`` exist only for the hints, but 9.9 lists them
as required in an embedded TrueType program, so they are written empty (a
few bytes; HarfBuzz's subsetter, with which Skia embeds fonts without hints,
drops them instead). Glyph numbers, outlines, advances and the ``cmap`` are
reportlab's, untouched.
(fontTools' own subsetter would give the same tables but reads the whole
6 000-glyph face each time: 20-30 ms a subset, against 1-3 ms this way for a
new character set and 15 ms for a fixed subset.)

Why no hinting: outlines and advances are the same; hints only move the
outlines onto the pixel grid at small pixel sizes. poppler draws glyphs
with FreeType's hinting off unless asked (the tests see the same pixels as
with reportlab's hinted subsets); Skia's PDF backend (Chrome's "save as
PDF") subsets with the hints dropped; pdfium (Chrome's viewer) runs TrueType
hints and hands a font without them to FreeType's auto-hinter, so text there
is still fitted to the grid, a little differently.
"""

from __future__ import annotations

import array
import hashlib
import io
import threading
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evservice.errors import DocumentError
from evservice.pdf._syntax import pdf_number, pdf_stream

__all__ = [
    "FIXED_CHARACTERS",
    "OutsideSubset",
    "SimpleFont",
    "charset_font",
    "escape_code",
    "fixed_font",
]


def _vietnamese_letters() -> str:
    vowels = "aăâeêioôơuưy"
    marks = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
    lower = sorted({unicodedata.normalize("NFC", v + m) for v in vowels for m in marks} | {"đ"})
    return "".join(lower) + "".join(c.upper() for c in lower)


#: Non-ASCII characters of the fixed subset, in code order: every Vietnamese
#: letter (precomposed, both cases) and the punctuation the invoice layout and
#: its texts use (dashes, curly quotes, ellipsis, the dong sign).
FIXED_CHARACTERS = "".join(
    c
    for c in _vietnamese_letters() + "\u2014\u2013\u201c\u201d\u2018\u2019\u2026\u20ab"
    if not c.isascii()
)

# Codes for FIXED_CHARACTERS: 1-31 and 127-255, skipping line feed and carriage
# return (a reader turns a raw end of line inside a string into "\n").
_FREE_CODES = [c for c in range(1, 32) if c not in (10, 13)] + list(range(127, 256))
_CACHE_LIMIT = 256  # distinct character sets kept per process
_lock = threading.Lock()  # reportlab's subsetter reads the font file by seeking
# The tables a subset keeps (see the module docstring).
_KEPT_TABLES = frozenset({"head", "hhea", "maxp", "loca", "glyf", "hmtx", "cmap", "OS/2"})
# maxp's limits for the hinting interpreter, none of which a font without hinting uses.
_HINTING_LIMITS = (
    "maxTwilightPoints",
    "maxStorage",
    "maxFunctionDefs",
    "maxInstructionDefs",
    "maxStackElements",
    "maxSizeOfInstructions",
)


class OutsideSubset(Exception):
    """Raised by a font's translation table for a character the subset does not hold."""


class _Table(dict[int, str]):
    """``str.translate`` table that raises :class:`OutsideSubset` for unknown characters."""

    def __missing__(self, key: int) -> str:
        raise OutsideSubset(key)


def escape_code(code: int) -> str:
    """Byte ``code`` inside a PDF literal string: ``(``, ``)``, ``\\`` and line ends escaped."""
    if code in (0x28, 0x29, 0x5C):
        return "\\" + chr(code)
    if code == 0x0A:
        return "\\n"
    if code == 0x0D:
        return "\\r"
    return chr(code)


@dataclass(frozen=True)
class SimpleFont:
    """The PDF objects of one simple TrueType subset; ``%d`` slots take object numbers.

    ``table`` translates text to the inside of a literal string (one character
    per code, escaped), raising :class:`OutsideSubset` for a character the
    subset does not hold; ``codes`` maps each character to its code.
    """

    base_name: str  # "ABCDEF+DejaVuSans": the tag is derived from everything below
    codes: dict[str, int]
    table: dict[int, str]
    font: bytes  # slots: descriptor, to-unicode
    descriptor: bytes  # slot: font file
    font_file: bytes
    to_unicode: bytes

    @property
    def tag(self) -> str:
        """The six-letter subset tag of :attr:`base_name` (it differs from subset to subset)."""
        return self.base_name.partition("+")[0]

    def encode(self, text: str) -> bytes:
        """``text`` as a hexadecimal string (every character must be in the subset)."""
        return b"<" + bytes(self.codes[c] for c in text).hex().upper().encode() + b">"

    def literal(self, text: str) -> str:
        """The inside of a literal string for ``text``; raises :class:`OutsideSubset`."""
        return text.translate(self.table)


def _face(font_name: str) -> Any:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.getFont(font_name).face


def _to_unicode(chars: Sequence[str | None]) -> bytes:
    """A ToUnicode CMap for 1-byte codes: code ``i`` is ``chars[i]`` (None: no entry)."""
    entries = [
        b"<%02X> <%s>" % (code, char.encode("utf-16-be", "surrogatepass").hex().upper().encode())
        for code, char in enumerate(chars)
        if char is not None
    ]
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 entries a block (ISO 32000 9.10.3)
        chunk = entries[start : start + 100]
        blocks.append(b"%d beginbfchar\n%s\nendbfchar" % (len(chunk), b"\n".join(chunk)))
    return b"\n".join(
        [
            b"/CIDInit /ProcSet findresource begin",
            b"12 dict begin",
            b"begincmap",
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            b"/CMapName /Adobe-Identity-UCS def",
            b"/CMapType 2 def",
            b"1 begincodespacerange",
            b"<00> <FF>",
            b"endcodespacerange",
            *blocks,
            b"endcmap",
            b"CMapName currentdict /CMap defineresource pop",
            b"end",
            b"end",
        ]
    )


#: Hinting tables ISO 32000-1 9.9 lists as required in an embedded TrueType program:
#: written empty (no control values, no functions, no pre-program).
_EMPTY_TABLES = ("cvt ", "fpgm", "prep")


def _empty_table(tag: str) -> Any:
    from fontTools.ttLib import newTable
    from fontTools.ttLib.tables import ttProgram

    table = newTable(tag)
    if tag == "cvt ":
        table.values = array.array("h")
    else:
        table.program = ttProgram.Program()
        table.program.fromBytecode(b"")
    return table


def _without_hinting(program: bytes) -> bytes:
    """``program`` (a TrueType font) without instructions and without the tables we drop.

    Glyph order, outlines, advance widths and the ``cmap`` stay as they are:
    the glyph order is set by number (no glyph names are read, so the
    ``cmap`` is copied as it is, not decoded and encoded again).
    """
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(io.BytesIO(program), recalcBBoxes=False, recalcTimestamp=False)
        count = font["maxp"].numGlyphs
        font.setGlyphOrder([f"g{index}" for index in range(count)])
        for tag in list(font.reader.keys()):
            if tag not in _KEPT_TABLES:
                del font[tag]
        glyphs = font["glyf"]
        for name in font.getGlyphOrder():
            glyphs[name].removeHinting()
        for tag in _EMPTY_TABLES:  # present, as ISO 32000-1 9.9 asks, and empty
            font[tag] = _empty_table(tag)
        maxp = font["maxp"]
        maxp.maxZones = 1  # no twilight zone
        for limit in _HINTING_LIMITS:
            setattr(maxp, limit, 0)
        out = io.BytesIO()
        font.save(out)
    except Exception as exc:  # fontTools raises its own and the struct module's errors
        raise DocumentError(f"cannot write a font subset: {type(exc).__name__}: {exc}") from exc
    return out.getvalue()


def _build(font_name: str, chars: Sequence[str | None], extra: dict[int, int]) -> SimpleFont:
    """The subset whose code ``i`` is ``chars[i]`` (None: unused, drawn as ``.notdef``).

    ``extra`` maps more code points to codes of the subset (no ToUnicode entry
    of their own): the no-break space drawn as the space.
    """
    from reportlab.pdfbase.ttfonts import FF_NONSYMBOLIC, FF_SYMBOLIC

    face = _face(font_name)
    while chars and chars[-1] is None:
        chars = chars[:-1]
    points = [0 if c is None else ord(c) for c in chars]
    with _lock:
        program = face.makeSubset(points)
    program = _without_hinting(program)
    # The tag (and so the name) follows from the face, the characters and the program.
    seed = hashlib.sha256(
        face.name
        + b"\0"
        + "".join(c or "\0" for c in chars).encode("utf-8", "surrogatepass")
        + b"\0"
        + program
    ).digest()
    tag = "".join(chr(65 + b % 26) for b in seed[:6])
    base = f"{tag}+{face.name.decode('latin-1')}{face.subfontNameX.decode('latin-1')}"
    widths = b" ".join(pdf_number(face.getCharWidth(p)) for p in points)
    flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
    font = (
        b"<< /Type /Font /Subtype /TrueType /BaseFont /%s /FirstChar 0 /LastChar %d "
        b"/Widths [ %s ] /FontDescriptor %%d 0 R /ToUnicode %%d 0 R >>"
        % (base.encode(), len(points) - 1, widths)
    )
    descriptor = (
        b"<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [ %s ] "
        b"/ItalicAngle %s /Ascent %s /Descent %s /CapHeight %s /StemV %s "
        b"/MissingWidth %s /FontFile2 %%d 0 R >>"
        % (
            base.encode(),
            flags,
            b" ".join(pdf_number(v) for v in face.bbox),
            pdf_number(face.italicAngle),
            pdf_number(face.ascent),
            pdf_number(face.descent),
            pdf_number(face.capHeight),
            pdf_number(face.stemV),
            pdf_number(face.defaultWidth),
        )
    )
    codes = {c: i for i, c in enumerate(chars) if c is not None}
    table = _Table({ord(c): escape_code(i) for c, i in codes.items()})
    for point, code in extra.items():
        table[point] = escape_code(code)
    return SimpleFont(
        base_name=base,
        codes=codes,
        table=table,
        font=font,
        descriptor=descriptor,
        font_file=pdf_stream(
            b"/Filter /FlateDecode /Length1 %d" % len(program), zlib.compress(program, 9)
        ),
        to_unicode=pdf_stream(b"/Filter /FlateDecode", zlib.compress(_to_unicode(chars), 9)),
    )


_fixed: dict[str, SimpleFont] = {}
_charsets: dict[tuple[str, frozenset[str]], SimpleFont] = {}


def fixed_font(font_name: str) -> SimpleFont:
    """The fixed subset of the registered TrueType font ``font_name`` (see the module docstring)."""
    found = _fixed.get(font_name)
    if found is not None:
        return found
    chars: list[str | None] = [None] * 256
    for code in range(32, 127):
        chars[code] = chr(code)
    for code, char in zip(_FREE_CODES[: len(FIXED_CHARACTERS)], FIXED_CHARACTERS, strict=True):
        chars[code] = char
    face = _face(font_name)
    extra = {}
    if face.getCharWidth(0xA0) == face.getCharWidth(0x20):
        extra[0xA0] = 0x20  # the no-break space draws as the space, as reportlab does
    made = _build(font_name, chars, extra)
    with _lock:
        return _fixed.setdefault(font_name, made)


def charset_font(font_name: str, chars: frozenset[str]) -> SimpleFont | None:
    """A subset for ``chars`` (code 0 ``.notdef``, then code point order); None past 255."""
    key = (font_name, chars)
    found = _charsets.get(key)
    if found is not None:
        return found
    if len(chars) > 255:
        return None
    made = _build(font_name, [None, *sorted(chars)], {})
    with _lock:
        if len(_charsets) >= _CACHE_LIMIT:
            return _charsets.get(key, made)
        return _charsets.setdefault(key, made)
