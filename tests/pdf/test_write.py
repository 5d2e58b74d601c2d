"""Our PDF writer: reportlab's positions, files strict readers accept, the same bytes every time."""

from __future__ import annotations

import html
import io
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import getFont, stringWidth

from evservice.invoices import render_invoice_pdf
from evservice.pdf import MARKER, FontNames, PdfCanvas, fixed_font, register_fonts, string_width

# The bench's baseline (the same page on reportlab's canvas) is what the tests compare with.
sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
sys.path.insert(0, str(Path(__file__).parents[1] / "invoices"))
from bench_invoice_documents import qr_arguments as _extra
from bench_invoice_documents import reportlab_pdf as _reportlab_invoice
from test_pdf import TIERS, make_invoice


@pytest.fixture(scope="module")
def fonts() -> FontNames:
    return register_fonts()


def _run(tool: str, *args: str, pdf: bytes) -> str:
    """A poppler tool on ``pdf`` (from stdin); it must not complain of anything."""
    out = ["-"] if tool == "pdftotext" else []
    done = subprocess.run([tool, *args, "-", *out], input=pdf, capture_output=True, check=True)
    assert done.stderr == b"", done.stderr
    return done.stdout.decode()


def _words(pdf: bytes) -> list[tuple[str, ...]]:
    """Every word pdftotext finds, with its box (which the glyph widths decide)."""
    out = _run("pdftotext", "-bbox", "-enc", "UTF-8", pdf=pdf)
    word = re.compile(r'<word xMin="(\S+)" yMin="(\S+)" xMax="(\S+)" yMax="(\S+)">([^<]*)</word>')
    found = []
    for page, body in enumerate(out.split("<page ")[1:]):
        for *box, text in word.findall(body):
            found.append((str(page), *box, html.unescape(text)))
    return found


def _contents(pdf: bytes) -> list[bytes]:
    reader = PdfFileReader(io.BytesIO(pdf))
    pages = reader.root["/Pages"]["/Kids"]
    return [page.get_object()["/Contents"].get_object().data for page in pages]


def _geometry(content: bytes) -> dict[str, list[bytes]]:
    """Text origins, rectangles and lines in drawing order.

    reportlab writes "n" before each path, and an origin for an empty string
    ("Tm  T*"), which draws nothing and which our writer leaves out.
    """
    return {
        "text": re.findall(rb"1 0 0 1 (\S+ \S+) Tm(?!\s+T\*)", content),
        "rect": re.findall(rb"(?:^|[\s])(\S+ \S+ \S+ \S+) re\b", content),
        "line": re.findall(rb"(\S+ \S+) m (\S+ \S+) l\b", content),
    }


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(None, id="bill"),
        pytest.param(
            [
                {
                    "name": f"Dịch vụ số {i:02d}: Øster Straße, “Ωmega” — ½ giá",
                    "unit": "Gói",
                    "quantity": str(i),
                    "unit_price": "12500",
                    "vat_rate": "10%",
                }
                for i in range(1, 41)
            ],
            id="two-pages-odd-letters",
        ),
    ],
)
def test_every_position_and_word_is_reportlabs(lines: list[dict[str, Any]] | None) -> None:
    """The layout drawn on reportlab's canvas and on ours: same operands, same words, same boxes."""
    invoice = make_invoice(lines, buyer={"person_name": "Ærø Ţânc (Æ)"})
    extra = _extra(invoice)
    ours = render_invoice_pdf(invoice, **extra).pdf
    theirs = _reportlab_invoice(invoice, **extra)
    ours_pages, their_pages = _contents(ours), _contents(theirs)
    assert len(ours_pages) == len(their_pages) == (1 if lines is None else 2)
    for mine, reportlab in zip(ours_pages, their_pages, strict=True):
        assert _geometry(mine) == _geometry(reportlab)
        assert len(_geometry(mine)["text"]) > 100
    # Boxes come from /Widths: ours keep four decimals where reportlab keeps three, so the
    # word ends may differ by a few millionths of a point.
    mine, reportlab = _words(ours), _words(theirs)
    assert [w[0] + w[-1] for w in mine] == [w[0] + w[-1] for w in reportlab]
    for word, other in zip(mine, reportlab, strict=True):
        assert [float(v) for v in word[1:5]] == pytest.approx(
            [float(v) for v in other[1:5]], abs=1e-4
        ), word


def test_a_fresh_process_writes_the_same_bytes(tmp_path: Path) -> None:
    """Nothing in the output depends on the per-process caches or the clock."""
    invoice = make_invoice(buyer={"person_name": "Øster Ωmega"})
    extra = _extra(invoice)
    here = render_invoice_pdf(invoice, **extra).pdf
    assert render_invoice_pdf(invoice, **extra).pdf == here
    target = tmp_path / "fresh.pdf"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parents[1] / "invoices")!r})
        sys.path.insert(0, {str(Path(__file__).parents[2] / "bench")!r})
        from pathlib import Path
        from test_pdf import make_invoice
        from bench_invoice_documents import qr_arguments as _extra
        from evservice.invoices import render_invoice_pdf
        invoice = make_invoice(buyer={{"person_name": "Øster Ωmega"}})
        pdf = render_invoice_pdf(invoice, **_extra(invoice)).pdf
        Path({str(target)!r}).write_bytes(pdf)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=Path(__file__).parents[1],
        env={"PYTHONPATH": str(Path(__file__).parents[1]), "PATH": "/usr/bin:/bin"},
    )
    assert target.read_bytes() == here


def test_the_file_opens_in_a_strict_reader_object_by_object() -> None:
    invoice = make_invoice(
        [
            {"name": f"{n} Ωmega", "unit": "kWh", "quantity": q, "unit_price": p, "vat_rate": "8%"}
            for n, q, p in TIERS * 12
        ]
    )
    pdf = render_invoice_pdf(invoice, **_extra(invoice)).pdf
    assert pdf.startswith(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + MARKER + b"\n")
    assert pdf.endswith(b"%%EOF\n")
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    size = int(reader.trailer["/Size"])
    for number in range(1, size):
        value = reader.get_object(generic.Reference(number, 0))
        if isinstance(value, generic.StreamObject):
            assert value.data  # every stream decodes
    first, second = reader.trailer["/ID"]
    assert first == second
    assert len(bytes(first.original_bytes)) == 16
    root = reader.root
    assert root["/Lang"] == "vi-VN"
    kids = root["/Pages"]["/Kids"]
    assert len(kids) == root["/Pages"]["/Count"] == 2
    for kid in kids:
        page = kid.get_object()
        assert [float(v) for v in page["/MediaBox"]] == pytest.approx([0, 0, *A4], abs=1e-3)
        for font in page["/Resources"]["/Font"].values():
            assert font.get_object()["/FontDescriptor"]["/FontFile2"].get_object().data
    info = reader.trailer["/Info"]
    assert info["/Author"] == invoice.draft.seller.name
    assert info["/Producer"] == "evservice"
    assert str(info["/CreationDate"]) == str(info["/ModDate"]) == "D:20261031100000+07'00'"
    assert re.search(r"^Pages: +2$", _run("pdfinfo", pdf=pdf), re.M)


def test_text_outside_the_fixed_subsets_reads_back_in_every_face(fonts: FontNames) -> None:
    canvas = PdfCanvas(A4)
    lines = {
        fonts.regular: "Øster Straße 12, Ærø — Ωmega π≈3,14 (½) ✓",
        fonts.bold: "ĐIỆN LỰC Жуков & Señor Ñandú €",
        fonts.italic: "Ghi chú: ß ≠ ss, «Ω» → ∞",
    }
    y = 800.0
    for name, text in lines.items():
        canvas.setFont(name, 10)
        canvas.drawString(40, y, text)
        canvas.drawRightString(550, y - 14, text)
        canvas.drawCentredString(300, y - 28, text)
        y -= 60
    pdf = canvas.save()
    out = [line.strip() for line in _run("pdftotext", "-raw", "-enc", "UTF-8", pdf=pdf).split("\n")]
    assert [line for line in out if line.strip("\f")] == [t for t in lines.values() for _ in "123"]
    rows = _run("pdffonts", pdf=pdf).splitlines()[2:]
    assert len(rows) == 6  # each face: its fixed subset and one for the others
    assert all(row.split()[-5:-2] == ["yes", "yes", "yes"] for row in rows)


def test_more_than_255_other_characters_take_several_subsets(fonts: FontNames) -> None:
    face = getFont(fonts.regular).face
    chars = [chr(c) for c in range(0x370, 0x530) if c in face.charToGlyph and chr(c).isalpha()]
    assert len(chars) > 300
    canvas = PdfCanvas(A4)
    canvas.setFont(fonts.regular, 9)
    text = "".join(chars[:300])
    for row, start in enumerate(range(0, 300, 40)):
        canvas.drawString(30, 800 - 14 * row, text[start : start + 40])
    pdf = canvas.save()
    out = _run("pdftotext", "-raw", "-enc", "UTF-8", pdf=pdf)
    assert "".join(out.split()) == text
    assert len(_run("pdffonts", pdf=pdf).splitlines()[2:]) == 2  # 255 + 45 (no fixed: unused)
    # Codes 10, 13, 40, 41 and 92 of the first extra subset are escaped in the strings.
    content = _contents(pdf)[0]
    for escaped in (b"\\n", b"\\r", b"\\(", b"\\)", b"\\\\"):
        assert escaped in content


def test_characters_without_a_glyph_draw_as_notdef_and_keep_their_text(
    fonts: FontNames,
) -> None:
    """The font's empty box, measured as reportlab measures it; extraction gives the character."""
    face = getFont(fonts.regular).face
    text = "Lê 中文 ก"
    assert {c for c in text if ord(c) not in face.charToGlyph} == set("中文ก")
    canvas = PdfCanvas(A4)
    canvas.setFont(fonts.regular, 12)
    canvas.drawRightString(300, 700, text)
    pdf = canvas.save()
    assert _run("pdftotext", "-raw", "-enc", "UTF-8", pdf=pdf).strip() == text
    boxes = [(float(w[1]), float(w[3]), w[-1]) for w in _words(pdf)]
    assert [word for *_, word in boxes] == text.split()
    assert boxes[-1][1] == pytest.approx(300, abs=0.01)  # the right edge lands where it was put
    width = stringWidth(text, fonts.regular, 12)
    assert boxes[0][0] == pytest.approx(300 - width, abs=0.01)
    assert stringWidth("中", fonts.regular, 1000) == face.defaultWidth


def test_strings_and_metadata_are_escaped(fonts: FontNames) -> None:
    canvas = PdfCanvas(A4, lang="vi-VN")
    canvas.setTitle("Hóa đơn (bản sao) \\ 01")
    canvas.setAuthor("A (b) \\ c")
    canvas.setSubject("no escapes")
    canvas.setFont(fonts.regular, 10)
    canvas.drawString(40, 700, "a(b)c\\d ((x)) \\(")
    pdf = canvas.save()
    assert _run("pdftotext", "-raw", "-enc", "UTF-8", pdf=pdf).strip() == "a(b)c\\d ((x)) \\("
    info = _run("pdfinfo", "-enc", "UTF-8", pdf=pdf)
    assert "Title:           Hóa đơn (bản sao) \\ 01" in info
    assert "Author:          A (b) \\ c" in info
    assert b"/Author (A \\(b\\) \\\\ c)" in pdf
    assert b"/Subject (no escapes)" in pdf


def test_each_page_lists_only_the_fonts_it_uses(fonts: FontNames) -> None:
    canvas = PdfCanvas(A4)
    canvas.setFont(fonts.regular, 10)
    canvas.drawString(40, 700, "trang một")
    canvas.showPage()
    canvas.setFont(fonts.bold, 10)
    canvas.drawString(40, 700, "trang hai Ω")
    canvas.setFont(fonts.italic, 10)  # set, never drawn with
    canvas.showPage()
    canvas.rect(10, 10, 100, 100)  # a page without text
    pdf = canvas.save()
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    resources = [
        sorted(kid.get_object()["/Resources"]["/Font"]) for kid in reader.root["/Pages"]["/Kids"]
    ]
    regular, bold = (f"/{fixed_font(name).tag}" for name in (fonts.regular, fonts.bold))
    assert resources == [[regular], sorted([bold, "/X1"]), []]  # the fixed subsets by their tags
    names = [row.split()[0] for row in _run("pdffonts", pdf=pdf).splitlines()[2:]]
    expected = ["DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Bold"]  # no italic: never drawn
    assert sorted(n.split("+")[1] for n in names) == expected


def test_the_graphics_state_is_tracked_through_save_and_restore(fonts: FontNames) -> None:
    """A colour or font set inside q/Q is forgotten after Q: it is set again when needed."""
    canvas = PdfCanvas((200, 200))
    canvas.setFont(fonts.regular, 10)
    canvas.setFillColorRGB(1, 0, 0)
    canvas.drawString(10, 10, "a")
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 1)
    canvas.setFont(fonts.bold, 12)
    canvas.drawString(10, 30, "b")
    canvas.restoreState()
    canvas.setFillColorRGB(0, 0, 1)  # differs from the restored red: must be written
    canvas.setFont(fonts.bold, 12)  # the restored font is the regular one: must be written
    canvas.drawString(10, 50, "c")
    canvas.setFillColorRGB(0, 0, 1)  # unchanged: nothing written
    canvas.drawString(10, 70, "d")
    (content,) = (c.decode() for c in _contents(canvas.save()))
    after = content.split("Q\n", 1)[1]
    bold = fixed_font(fonts.bold).tag
    assert after.splitlines()[:4] == ["0 0 1 rg", "BT", f"/{bold} 12 Tf", "1 0 0 1 10 50 Tm (c) Tj"]
    assert after.count(" rg") == 1


def test_the_width_cache_gives_reportlabs_widths(fonts: FontNames) -> None:
    for name in (fonts.regular, fonts.bold, fonts.italic):
        for text in ("Tổng cộng tiền thanh toán", "Øster Ωmega 中", "", " (1.234.567) "):
            for size in (7, 8.5, 16):
                assert string_width(text, name, size) == stringWidth(text, name, size)
                assert string_width(text, name, size) == stringWidth(text, name, size)  # cached


def test_control_characters_and_lone_surrogates_do_not_break_the_file(
    fonts: FontNames,
) -> None:
    """Input the font cannot show (a JSON string may carry any of it) still makes a valid file."""
    canvas = PdfCanvas(A4)
    canvas.setTitle("tên \udc80 lỗi")
    canvas.setFont(fonts.regular, 10)
    canvas.drawString(40, 700, "a\x00b\x07c\nd\re\tf \udc80 g")
    canvas.drawRightString(500, 680, "\x1b[0m")
    pdf = canvas.save()
    assert canvas.save() is pdf  # a finished canvas gives the same file again
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    assert len(reader.root["/Pages"]["/Kids"]) == 1
    # poppler shows NUL and line ends as spaces and the lone surrogate as U+FFFD.
    text = _run("pdftotext", "-raw", "-enc", "UTF-8", pdf=pdf)
    assert text.split("\n")[:2] == ["a b\x07c d e f \ufffd g", "\x1b[0m"]
    assert "Title:           tên \ufffd lỗi" in _run("pdfinfo", "-enc", "UTF-8", pdf=pdf)
