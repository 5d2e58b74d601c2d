"""QR symbols for payloads: the matrix (segno) and vector drawing into a reportlab canvas.

The symbol is drawn as one PDF path of rectangles, one per horizontal run of
dark modules, on a white square that includes the 4-module quiet zone. No
raster image is made, so the code stays sharp at any zoom and the page small.

Mask choice (measured in ``bench/bench_qr.py``): segno evaluates all eight
mask patterns (ISO/IEC 18004 7.8.3) unless told which to use, and that search
is 75-85 % of the cost of a symbol (4-6x slower: 40-60 ms against ~10 ms per
bill on one core, 300-400 CPU-hours over 30 million bills). On invoice payloads
(version 6, level M) the search itself picks mask 0 for about 3 codes in 4,
and mask 0's penalty score is on average within 2 % of the best mask's. So
:data:`DEFAULT_MASK` is 0 for the monthly batch; ``mask=None`` restores the
full search. Every mask is valid: scanners read the mask from the format
information, and the tests scan all eight.
"""

from __future__ import annotations

import re
from typing import Any

import segno

from evservice._fonts import register as register_fonts
from evservice.errors import PaymentCodeError
from evservice.payments._invoice import payment_lines
from evservice.payments._vietqr import VietQR

__all__ = ["DEFAULT_MASK", "QUIET_ZONE", "draw_payment_block", "draw_qr", "make_qr"]

#: Modules of white margin around the symbol (ISO/IEC 18004 asks for 4).
QUIET_ZONE = 4
#: The mask used unless told otherwise; see the module docstring for why 0.
DEFAULT_MASK = 0

_RUN = re.compile(rb"\x01+")
_LEVELS = frozenset("LMQH")


def make_qr(payload: str, *, error: str = "M", mask: int | None = DEFAULT_MASK) -> Any:
    """The ``segno.QRCode`` for ``payload`` at exactly error level ``error``.

    The level is not boosted: EPC069-12 asks for M, and a fixed level keeps
    the symbol size predictable for the layout. Non-ASCII payloads are encoded
    as UTF-8. Returns segno's object (``.matrix``, ``.save()``, ``.version``).
    """
    level = str(error).upper()
    if level not in _LEVELS:
        raise PaymentCodeError("error", "must be one of L, M, Q, H")
    if mask is not None and (isinstance(mask, bool) or mask not in range(8)):
        raise PaymentCodeError("mask", "must be 0 to 7, or None for automatic selection")
    if not isinstance(payload, str) or not payload:
        raise PaymentCodeError("payload", "must be non-empty text")
    encoding = None if payload.isascii() else "utf-8"
    try:
        return segno.make_qr(payload, error=level, mask=mask, encoding=encoding, boost_error=False)
    except segno.DataOverflowError as exc:
        raise PaymentCodeError("payload", f"is too long for a QR code at level {level}") from exc
    except ValueError as exc:
        raise PaymentCodeError("payload", f"cannot be encoded as a QR code: {exc}") from exc


def draw_qr(
    canvas: Any,
    payload: str,
    x: float,
    y: float,
    size: float,
    *,
    error: str = "M",
    mask: int | None = DEFAULT_MASK,
) -> None:
    """Draw the QR code for ``payload`` as vector graphics, lower-left corner at (x, y).

    ``size`` is the side of the square in points, quiet zone included. The
    canvas's graphics state (fill colour) is restored afterwards.
    """
    if not size > 0:
        raise PaymentCodeError("size", "must be greater than zero")
    matrix = make_qr(payload, error=error, mask=mask).matrix
    module = size / (len(matrix) + 2 * QUIET_ZONE)
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    # Draw in module units, origin at the symbol's top-left corner, y downwards: the
    # rectangles are small integers ("12 3 4 1 re"), which keeps the page stream short.
    canvas.transform(module, 0, 0, -module, x + QUIET_ZONE * module, y + size - QUIET_ZONE * module)
    path = canvas.beginPath()
    for row_index, row in enumerate(matrix):
        for run in _RUN.finditer(row):
            start, end = run.span()
            path.rect(start, row_index, end - start, 1)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def draw_payment_block(
    canvas: Any,
    code: VietQR,
    x: float,
    y: float,
    size: float,
    *,
    account_name: str | None = None,
    font_name: str | None = None,
    font_size: float = 8.0,
) -> None:
    """The QR code at (x, y) and, to its right, the bank, account, holder and amount.

    ``font_name`` must be registered with reportlab and have Vietnamese glyphs;
    by default the shipped DejaVu Sans (the built-in Helvetica has no ``ư``).
    """
    payload = code.payload()
    draw_qr(canvas, payload, x, y, size)
    leading = font_size * 1.3
    text = canvas.beginText(x + size + font_size, y + size - 2 * leading)
    text.setFont(font_name or register_fonts().regular, font_size, leading)
    for line in payment_lines(code, account_name):
        text.textLine(line)
    canvas.drawText(text)
