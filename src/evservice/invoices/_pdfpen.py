"""The invoice page's measures and its pen: page geometry, sizes, colours, text helpers.

:class:`_Pen` draws at a moving ``y`` on any :class:`_Canvas` (our
:class:`evservice.pdf.PdfCanvas`, or reportlab's canvas in the comparison
tests), or only measures when it has no canvas: the layout
(:mod:`._pdf`) measures every block before it draws, with the same code.
The parts of the page (:mod:`._pdfparts`) draw with it. :class:`PageBox` is
where a box (the QR code, the signature stamp) lands on a page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from reportlab.lib.pagesizes import A4

from evservice.money import format_vnd, vat_percent
from evservice.pdf import FontNames, string_width

__all__ = ["PageBox"]

PAGE_WIDTH: float = A4[0]
PAGE_HEIGHT: float = A4[1]
MM = 72 / 25.4  # points per millimetre
MARGIN = 14 * MM
LEFT = MARGIN
RIGHT = PAGE_WIDTH - MARGIN
WIDTH = RIGHT - LEFT
TOP = PAGE_HEIGHT - MARGIN
FOOTER_HEIGHT = 30.0
BOTTOM = MARGIN + FOOTER_HEIGHT
QR_SIZE = 32 * MM
SIGNATURE_WIDTH = 62 * MM
SIGNATURE_HEIGHT = 22 * MM

SIZE = 8.5  # body text
SMALL = 7.5
LEADING = 11.5
TITLE_SIZE = 16.0
CELL_PAD = 3.0

_BLUE = (0.08, 0.20, 0.50)
_RED = (0.75, 0.08, 0.08)
_GREY = (0.45, 0.45, 0.45)
_RULE = (0.70, 0.70, 0.70)
_BLACK = (0.0, 0.0, 0.0)

_ENGLISH_TITLE = {"1": "(VAT INVOICE)", "2": "(SALES INVOICE)"}
_RATE_NAMES = {"KCT": "Không chịu thuế GTGT", "KKKNT": "Không kê khai, tính nộp thuế GTGT"}


@dataclass(frozen=True)
class PageBox:
    """A rectangle on one page: ``page`` is 0-based, coordinates in PDF points from bottom left."""

    page: int
    x: float
    y: float
    width: float
    height: float

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``, the form pyHanko's ``SigFieldSpec(box=...)`` takes."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)


class _Canvas(Protocol):
    """The canvas methods the layout calls: :class:`PdfCanvas`, or reportlab's ``Canvas``."""

    def setFont(self, name: str, size: float) -> None: ...  # noqa: N802
    def setFillColorRGB(self, r: float, g: float, b: float) -> None: ...  # noqa: N802
    def setStrokeColorRGB(self, r: float, g: float, b: float) -> None: ...  # noqa: N802
    def setLineWidth(self, width: float) -> None: ...  # noqa: N802
    def setDash(self, array: float | Sequence[float] = ..., phase: float = ...) -> None: ...  # noqa: N802
    def line(self, x1: float, y1: float, x2: float, y2: float) -> None: ...
    def rect(
        self, x: float, y: float, width: float, height: float, stroke: int = ..., fill: int = ...
    ) -> None: ...
    def drawString(self, x: float, y: float, text: str) -> None: ...  # noqa: N802
    def drawRightString(self, x: float, y: float, text: str) -> None: ...  # noqa: N802
    def drawCentredString(self, x: float, y: float, text: str) -> None: ...  # noqa: N802
    def addLiteral(self, operators: str) -> None: ...  # noqa: N802
    def showPage(self) -> None: ...  # noqa: N802
    def setTitle(self, title: str) -> None: ...  # noqa: N802
    def setAuthor(self, author: str) -> None: ...  # noqa: N802
    def setSubject(self, subject: str) -> None: ...  # noqa: N802
    def setCreator(self, creator: str) -> None: ...  # noqa: N802
    def setKeywords(self, keywords: str) -> None: ...  # noqa: N802


# ---------------------------------------------------------------------------
# text helpers
# ---------------------------------------------------------------------------


def _nfc(text: str) -> str:
    # Decomposed input (NFD, "Unicode tổ hợp") would draw its accents as separate glyphs.
    return unicodedata.normalize("NFC", text)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap by measured width; words longer than a line are cut."""
    lines: list[str] = []
    for paragraph in _nfc(text).splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if string_width(candidate, font, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while string_width(word, font, size) > width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and string_width(word[:cut], font, size) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _number(value: Decimal) -> str:
    """Vietnamese style: ``.`` groups thousands, ``,`` marks decimals (``1.234,5``)."""
    sign = "-" if value < 0 else ""
    text = format(abs(value).normalize(), "f")
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    fraction = fraction.rstrip("0")
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def _money(value: Decimal) -> str:
    return format_vnd(value)


def _lookup_code(code: str) -> str:
    """Printed in groups of four (``ABCD-2345-EFGH``), as customers type it."""
    compact = "".join(code.replace("-", " ").split()).upper()
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _rate_label(rate: str) -> str:
    if rate in _RATE_NAMES:
        return rate
    percent = vat_percent(rate)
    return f"{_number(percent)}%" if percent is not None else rate


def _long_date(day: date) -> str:
    return f"Ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


# ---------------------------------------------------------------------------
# a pen that measures or draws
# ---------------------------------------------------------------------------


@dataclass
class _Pen:
    """Draws at a moving ``y`` when it has a canvas; only measures when it has none."""

    canvas: _Canvas | None
    fonts: FontNames
    y: float = TOP

    def text(
        self,
        x: float,
        text: str,
        *,
        font: str | None = None,
        size: float = SIZE,
        color: tuple[float, float, float] = _BLACK,
        align: str = "left",
    ) -> None:
        """One line of text at the current ``y`` (baseline), without moving."""
        if self.canvas is None:
            return
        self.canvas.setFont(font or self.fonts.regular, size)
        self.canvas.setFillColorRGB(*color)
        if align == "center":
            self.canvas.drawCentredString(x, self.y, _nfc(text))
        elif align == "right":
            self.canvas.drawRightString(x, self.y, _nfc(text))
        else:
            self.canvas.drawString(x, self.y, _nfc(text))

    def rule(self, x1: float = LEFT, x2: float = RIGHT, *, dash: bool = False) -> None:
        if self.canvas is None:
            return
        self.canvas.setStrokeColorRGB(*_RULE)
        self.canvas.setLineWidth(0.6)
        if dash:
            self.canvas.setDash(2, 2)
        self.canvas.line(x1, self.y, x2, self.y)
        if dash:
            self.canvas.setDash()

    def pair(
        self,
        label: str,
        value: str,
        *,
        x: float = LEFT,
        width: float = WIDTH,
        bold: bool = False,
        color: tuple[float, float, float] = _BLACK,
    ) -> None:
        """``label: value`` with the value wrapped under itself; moves down."""
        label = f"{label}: "
        indent = string_width(label, self.fonts.regular, SIZE)
        font = self.fonts.bold if bold else self.fonts.regular
        lines = _wrap(value, font, SIZE, width - indent)
        self.y -= LEADING
        self.text(x, label, color=_GREY)
        for index, line in enumerate(lines):
            if index:
                self.y -= LEADING
            self.text(x + indent, line, font=font, color=color)

    def pairs(self, items: Sequence[tuple[str, str]], *, columns: Sequence[float]) -> None:
        """Several short ``label: value`` pairs on one line, at the given x positions."""
        self.y -= LEADING
        for (label, value), x in zip(items, columns, strict=True):
            label = f"{label}: "
            self.text(x, label, color=_GREY)
            indent = string_width(label, self.fonts.regular, SIZE)
            self.text(x + indent, value)

    def centered(
        self,
        text: str,
        *,
        font: str | None = None,
        size: float = SIZE,
        color: tuple[float, float, float] = _BLACK,
        width: float = WIDTH,
        leading: float = LEADING,
    ) -> None:
        for line in _wrap(text, font or self.fonts.regular, size, width):
            self.y -= leading
            self.text(PAGE_WIDTH / 2, line, font=font, size=size, color=color, align="center")
