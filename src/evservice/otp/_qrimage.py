"""An enrolment's QR code as SVG, PNG or terminal text, from our own QR matrix.

The matrix is :func:`evservice.payments.qr_matrix` (the one the invoices'
VietQR codes use, error level M, mask 0); here it is only drawn: SVG as one
path of run rectangles (the portal inlines it; no script, no style), PNG as a
1-bit greyscale image written with zlib (no imaging library), and text with
half-block characters for ``evservice otp enrol`` in a terminal.
"""

from __future__ import annotations

import re
import struct
import zlib

from evservice.payments import QUIET_ZONE, qr_matrix

__all__ = ["qr_png", "qr_svg", "qr_text"]

_RUN = re.compile(rb"\x01+")


def _matrix(payload: str) -> tuple[bytes, ...]:
    return qr_matrix(payload, error="M")


def qr_svg(payload: str, *, size: int = 240) -> str:
    """A standalone SVG of the code for ``payload``, ``size`` pixels wide, quiet zone included."""
    matrix = _matrix(payload)
    side = len(matrix) + 2 * QUIET_ZONE
    runs = "".join(
        f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{end - start}v1h-{end - start}z"
        for y, row in enumerate(matrix)
        for start, end in (m.span() for m in _RUN.finditer(row))
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'width="{size}" height="{size}" shape-rendering="crispEdges" role="img">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{runs}" fill="#000"/></svg>'
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def qr_png(payload: str, *, scale: int = 8) -> bytes:
    """A PNG of the code: ``scale`` pixels per module, black on white, quiet zone included."""
    matrix = _matrix(payload)
    side = (len(matrix) + 2 * QUIET_ZONE) * scale
    white = b"\xff" * side
    margin = [white] * (QUIET_ZONE * scale)
    rows = list(margin)
    pad = b"\xff" * (QUIET_ZONE * scale)
    for row in matrix:
        line = pad + b"".join(b"\x00" * scale if m else b"\xff" * scale for m in row) + pad
        rows.extend([line] * scale)
    rows.extend(margin)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every scanline
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def qr_text(payload: str) -> str:
    """The code in half-block characters (two module rows per line), dark on a light terminal.

    Light modules are drawn (``█``), dark ones left blank, which is how most
    terminals (light text on a dark background) show a scannable code.
    """
    matrix = _matrix(payload)
    size = len(matrix)
    blank = bytes(size + 2 * QUIET_ZONE)
    rows = [blank] * QUIET_ZONE
    rows += [bytes(QUIET_ZONE) + r + bytes(QUIET_ZONE) for r in matrix]
    rows += [blank] * (QUIET_ZONE + 1)
    chars = {(0, 0): "█", (0, 1): "▀", (1, 0): "▄", (1, 1): " "}
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=False):
        lines.append("".join(chars[(a, b)] for a, b in zip(top, bottom, strict=True)))
    return "\n".join(lines)
