"""The font subsets our PDFs embed: glyphs, widths and Unicode text, as pdfium and poppler see."""

from __future__ import annotations

import io
import re
import subprocess
import unicodedata
import zlib

import pypdfium2 as pdfium
import pytest
from fontTools.ttLib import TTFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth
from reportlab.pdfbase.ttfonts import TTFontFace
from reportlab.pdfgen.canvas import Canvas

from evservice.pdf import (
    FIXED_CHARACTERS,
    FontNames,
    PdfCanvas,
    SimpleFont,
    charset_font,
    fixed_font,
    pdf_number,
    register_fonts,
)
from evservice.pdf import _font as _pdffont

ASCII = "".join(chr(c) for c in range(32, 127))
# Outside the fixed subsets: Latin, Greek, Cyrillic, symbols; and two the fonts lack.
OUTSIDE = "ØßÆæŒœ€£¥©®°±×÷½¼µ¶§ΑΩαβγπΣωЖжЯяЩщ∑∞≤≥←→✓ﬁ"
MISSING = "中\u0e01"


@pytest.fixture(scope="module")
def fonts() -> FontNames:
    return register_fonts()


def _faces(fonts: FontNames) -> tuple[str, str, str]:
    return (fonts.regular, fonts.bold, fonts.italic)


def _draw(canvas: object, fonts: FontNames, text: str) -> None:
    """``text`` in lines of 30 characters, in each face in turn."""
    for row, name in enumerate(_faces(fonts)):
        canvas.setFont(name, 11)  # type: ignore[attr-defined]
        for i in range(0, len(text), 30):
            y = 800 - row * 260 - (i // 30) * 15
            canvas.drawString(20, y, text[i : i + 30])  # type: ignore[attr-defined]
    canvas.showPage()  # type: ignore[attr-defined]


def _ours(fonts: FontNames, text: str) -> bytes:
    canvas = PdfCanvas(A4)
    _draw(canvas, fonts, text)
    return canvas.save()


def _reportlabs(fonts: FontNames, text: str) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    _draw(canvas, fonts, text)
    canvas.save()
    return buffer.getvalue()


def _pixels(pdf: bytes) -> bytes:
    """The first page as pdfium draws it (2x): TrueType hints run, or FreeType's auto-hinter."""
    document = pdfium.PdfDocument(pdf)
    try:
        return bytes(document[0].render(scale=2).to_pil().convert("L").tobytes())
    finally:
        document.close()


def _unhinted_pixels(pdf: bytes, dpi: int) -> bytes:
    """The first page as poppler draws it (a grey PGM): FreeType's outlines with no hinting."""
    command = ["pdftoppm", "-r", str(dpi), "-gray", "-f", "1", "-l", "1", "-"]
    return subprocess.run(command, input=pdf, capture_output=True, check=True).stdout


def _program(font: SimpleFont) -> bytes:
    data = font.font_file
    return zlib.decompress(data[data.index(b"stream\n") + 7 : data.rindex(b"\nendstream")])


def _points(font: SimpleFont) -> list[int]:
    """The code points the subset was made for, by code (0 where a code is unused)."""
    points = [0] * (max(font.codes.values()) + 1)
    for char, code in font.codes.items():
        points[code] = ord(char)
    return points


def _widths(font: SimpleFont) -> list[float]:
    found = re.search(rb"/Widths \[ ([^\]]*) \]", font.font)
    assert found is not None
    return [float(w) for w in found.group(1).split()]


def _to_unicode(font: SimpleFont) -> dict[int, str]:
    data = font.to_unicode
    stream = data[data.index(b"stream\n") + 7 : data.rindex(b"\nendstream")]
    cmap = zlib.decompress(stream).decode("ascii")
    return {
        int(code, 16): bytes.fromhex(text).decode("utf-16-be")
        for code, text in re.findall(
            r"<([0-9A-F]{2})> <([0-9A-F]+)>", cmap.split("endcodespacerange")[1]
        )
    }


def test_the_fixed_subset_holds_ascii_every_vietnamese_letter_and_the_punctuation(
    fonts: FontNames,
) -> None:
    font = fixed_font(fonts.regular)
    assert {c: font.codes[c] for c in ASCII} == {c: ord(c) for c in ASCII}  # readable strings
    vowels = "aăâeêioôơuưy"
    marks = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
    letters = {unicodedata.normalize("NFC", v + m) for v in vowels for m in marks} | {"đ"}
    letters |= {c.upper() for c in letters}
    assert letters <= set(font.codes)
    assert set("—–“”‘’…₫") <= set(font.codes)
    assert set(font.codes) == set(ASCII) | set(FIXED_CHARACTERS)
    codes = list(font.codes.values())
    assert len(codes) == len(set(codes))  # one character a code
    assert not {0, 10, 13} & set(codes)  # .notdef, and no raw line ends inside strings
    assert max(codes) <= 255
    assert fixed_font(fonts.regular) is font  # made once per process


def test_glyphs_are_reportlabs_pixel_for_pixel(
    fonts: FontNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same text drawn by reportlab and by us renders to the same pixels, in every face.

    Our subsets carry no hinting, reportlab's do. poppler draws outlines without
    hinting, so it gives the very same pixels for reportlab's own file, at
    several resolutions. pdfium runs the hints (and FreeType's auto-hinter for
    a font without them), so there the comparison is with reportlab's file
    whose subsets lost their hints the way ours do: the same codes, glyphs and
    positions. One page for the fixed subsets' characters, one for the others:
    with all of them at once reportlab splits a face into two subsets of its
    own, and pdfium's antialiasing of one glyph (bold Я) then differs in a few
    pixels between its font program and ours (same outline, same advance).
    """
    assert all(ord(c) not in getFont(fonts.regular).face.charToGlyph for c in MISSING)
    make_subset = TTFontFace.makeSubset

    def hint_free(face: TTFontFace, points: list[int]) -> bytes:
        return _pdffont._without_hinting(make_subset(face, points))

    for text in (ASCII + FIXED_CHARACTERS, OUTSIDE + MISSING):
        ours, theirs = _ours(fonts, text), _reportlabs(fonts, text)
        for dpi in (72, 144, 288):
            assert _unhinted_pixels(ours, dpi) == _unhinted_pixels(theirs, dpi), dpi
        with monkeypatch.context() as patch:
            patch.setattr(TTFontFace, "makeSubset", hint_free)
            theirs_unhinted = _reportlabs(fonts, text)
        assert _pixels(ours) == _pixels(theirs_unhinted)
        assert _pixels(ours) != _pixels(theirs)  # pdfium does show the hints
    ours = _ours(fonts, FIXED_CHARACTERS)
    assert _pixels(ours) != _pixels(_ours(fonts, FIXED_CHARACTERS.replace("ệ", "e")))  # glyphs
    assert _unhinted_pixels(ours, 72) != _unhinted_pixels(
        _ours(fonts, FIXED_CHARACTERS.replace("ệ", "e")), 72
    )


def test_the_programs_are_reportlabs_subsets_without_hinting(fonts: FontNames) -> None:
    """Same glyphs, outlines, advances and cmap as reportlab's subset; no hints, fewer tables."""
    for name in _faces(fonts):
        face = getFont(name).face
        for font in (fixed_font(name), charset_font(name, frozenset(OUTSIDE + MISSING))):
            assert font is not None
            program = _program(font)
            theirs_program = face.makeSubset(_points(font))
            ours, theirs = TTFont(io.BytesIO(program)), TTFont(io.BytesIO(theirs_program))
            assert set(ours.reader.keys()) == {
                "head", "hhea", "maxp", "loca", "glyf", "hmtx", "cmap", "OS/2",
                "cvt ", "fpgm", "prep",  # ISO 32000-1 9.9 requires them: present, empty
            }  # fmt: skip
            assert [ours.reader[tag] for tag in ("cvt ", "fpgm", "prep")] == [b"", b"", b""]
            assert {"cvt ", "fpgm", "prep", "name", "post"} <= set(theirs.reader.keys())
            assert ours.reader["cmap"] == theirs.reader["cmap"]  # (1,0): code -> glyph, as is
            (subtable,) = ours["cmap"].tables
            assert (subtable.platformID, subtable.platEncID, subtable.format) == (1, 0, 6)
            assert ours["maxp"].maxSizeOfInstructions == 0
            count = ours["maxp"].numGlyphs
            assert count == theirs["maxp"].numGlyphs
            our_glyphs, their_glyphs = ours["glyf"], theirs["glyf"]
            hinted = 0
            for index in range(count):
                mine = our_glyphs[ours.getGlyphName(index)]
                other = their_glyphs[theirs.getGlyphName(index)]
                if mine.isComposite():
                    assert [c.glyphName for c in mine.components] == [
                        ours.getGlyphName(theirs.getGlyphID(c.glyphName)) for c in other.components
                    ]
                    assert not hasattr(mine, "program")
                else:
                    assert list(mine.getCoordinates(our_glyphs)[0]) == list(
                        other.getCoordinates(their_glyphs)[0]
                    )
                    assert mine.numberOfContours == 0 or not mine.program.getBytecode()
                hinted += hasattr(other, "program") and bool(other.program.getBytecode())
                advance = ours["hmtx"][ours.getGlyphName(index)]
                assert advance == theirs["hmtx"][theirs.getGlyphName(index)]
            assert hinted  # reportlab's glyphs do carry instructions, ours none
            assert len(font.font_file) < 0.5 * len(zlib.compress(theirs_program, 9))


def test_widths_are_reportlabs_string_widths(fonts: FontNames) -> None:
    for name in _faces(fonts):
        face = getFont(name).face
        for font in (fixed_font(name), charset_font(name, frozenset(OUTSIDE + MISSING))):
            assert font is not None
            widths = _widths(font)
            by_code = {code: char for char, code in font.codes.items()}
            for code, width in enumerate(widths):
                char = by_code.get(code)
                expected = face.defaultWidth if char is None else stringWidth(char, name, 1000)
                assert width == float(pdf_number(expected)), (name, code, char)
            assert f"/MissingWidth {pdf_number(face.defaultWidth).decode()} ".encode() in (
                font.descriptor
            )


def test_the_to_unicode_maps_give_back_every_character(fonts: FontNames) -> None:
    for name in _faces(fonts):
        for font in (fixed_font(name), charset_font(name, frozenset(OUTSIDE + MISSING))):
            assert font is not None
            assert _to_unicode(font) == {code: char for char, code in font.codes.items()}


def test_pdftotext_reads_every_character_back(fonts: FontNames) -> None:
    text = ASCII + FIXED_CHARACTERS + OUTSIDE + MISSING
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"],
        input=_ours(fonts, text),
        capture_output=True,
        check=True,
    )
    assert out.stderr == b""
    lines = [line.strip("\f ") for line in out.stdout.decode().splitlines()]
    expected = [text[i : i + 30].strip() for i in range(0, len(text), 30)] * 3
    assert [line for line in lines if line] == expected


def test_pdffonts_lists_every_font_embedded_as_a_subset_with_unicode(
    fonts: FontNames,
) -> None:
    out = subprocess.run(
        ["pdffonts", "-"],
        input=_ours(fonts, ASCII + "ệ" + OUTSIDE),
        capture_output=True,
        check=True,
    ).stdout.decode()
    rows = out.splitlines()[2:]
    names = sorted(row.split()[0] for row in rows)
    assert len(rows) == 6  # a fixed subset and a subset of the others, in each face
    for row in rows:
        assert row.split()[1] == "TrueType", row
        assert row.split()[-5:-2] == ["yes", "yes", "yes"], row  # emb sub uni
    assert sorted(re.sub(r"^[A-Z]{6}\+", "", n) for n in names) == sorted(
        ["DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"] * 2
    )


def test_a_character_set_is_subset_once_and_the_cache_is_bounded(
    fonts: FontNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    chars = frozenset("Øster")
    first = charset_font(fonts.bold, chars)
    assert first is not None
    assert charset_font(fonts.bold, frozenset("retsØ")) is first
    assert charset_font(fonts.bold, chars | {"Ω"}) is not first
    assert first.codes == {c: i for i, c in enumerate(sorted(chars), start=1)}  # 0 is .notdef
    assert charset_font(fonts.bold, frozenset(map(chr, range(0x400, 0x400 + 256)))) is None

    monkeypatch.setattr(_pdffont, "_charsets", {})
    monkeypatch.setattr(_pdffont, "_CACHE_LIMIT", 2)
    made = [charset_font(fonts.regular, frozenset(c)) for c in "xyz"]
    assert all(font is not None for font in made)
    assert len(_pdffont._charsets) == 2
    assert charset_font(fonts.regular, frozenset("x")) is made[0]
