"""The signature's revision (evservice.pdf.prepare_signature), without any key.

The signing tests (tests/signing/test_fastpades.py) sign these revisions and
verify them with pyHanko, pdfsig and NSS; here: what the revision leaves for
the CMS, and what it refuses.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.lib.pagesizes import A4

from evservice.errors import DocumentError, SigningError
from evservice.pdf import PdfCanvas, prepare_signature, register_fonts

WHEN = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
RESERVED = 64


def _page() -> bytes:
    canvas = PdfCanvas(A4, lang="vi-VN", created=WHEN)
    canvas.setFont(register_fonts().regular, 10)
    canvas.drawString(72, 720, "Hóa đơn điện tử")
    canvas.showPage()
    return canvas.save()


def _byte_range(pdf: bytes) -> tuple[int, int, int, int]:
    found = re.search(rb"/ByteRange \[0 (\d+) (\d+) (\d+)\]", pdf)
    assert found is not None
    a, b, c = (int(n) for n in found.groups())
    return 0, a, b, c


def test_the_digest_covers_everything_but_the_contents() -> None:
    original = _page()
    revision = prepare_signature(
        original,
        when=WHEN,
        reserved=RESERVED,
        rect=(300, 100, 480, 160),
        stamp_text="Ký bởi: Công ty Điện lực\nKý ngày: 31/01/2026",
        stamp_font=register_fonts().regular,
        files=[("invoice.xml", "text/xml", b"<HDon/>", "Source", None)],
    )
    assert revision is not None
    cms = bytes(range(1, 21))
    signed = revision.fill(cms)
    assert signed.startswith(original)  # an incremental update: the original untouched
    _, a, b, c = _byte_range(signed)
    assert b + c == len(signed)
    assert signed[a : a + 1] == b"<"
    assert signed[b - 1 : b] == b">"
    assert signed[a + 1 : b - 1] == cms.hex().upper().encode().ljust(RESERVED, b"0")
    assert revision.digest() == hashlib.sha256(signed[:a] + signed[b:]).digest()
    reader = PdfFileReader(io.BytesIO(signed))
    assert reader.root["/AcroForm"]["/SigFlags"] == 3
    names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert str(names[0]) == "invoice.xml"


def test_a_cms_larger_than_the_room_kept_is_refused() -> None:
    revision = prepare_signature(_page(), when=WHEN, reserved=RESERVED)
    assert revision is not None
    with pytest.raises(SigningError, match="reserved"):
        revision.fill(b"\x30" * (RESERVED // 2 + 1))


def test_a_duplicate_attachment_name_is_refused() -> None:
    twice = [("a.xml", "text/xml", b"<a/>", "Source", None)] * 2
    with pytest.raises(DocumentError, match=r"a\.xml"):
        prepare_signature(_page(), when=WHEN, reserved=RESERVED, files=twice)


@pytest.mark.parametrize(
    "change",
    [
        lambda pdf: b"not a pdf",
        lambda pdf: pdf.replace(b"%evservice", b"%elsewhere", 1),  # no marker of ours
        lambda pdf: pdf + b"\n% a second revision\nstartxref\n0\n%%EOF\n",
    ],
)
def test_pdfs_it_does_not_know_give_none(change: Callable[[bytes], bytes]) -> None:
    pdf = change(_page())
    assert prepare_signature(pdf, when=WHEN, reserved=RESERVED) is None
