"""QR symbols for payloads: the matrix (segno) and vector drawing into a PDF canvas.

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

Speed (``bench/bench_batch.py``): with the mask fixed, segno still spends
about 4/5 of a symbol placing bits, masking module by module and building the
Reed-Solomon codewords bit by bit. :func:`qr_matrix` keeps segno's data
encoding (mode, version, bit stream) and does the rest with per-process
tables: segno's own placement and masking run once per (version, level, mask)
to give a template and the module of every bit, then each symbol is the
template with its 1-bits flipped. The result is segno's matrix module for
module (a property test compares them); :func:`qr_operators` uses it and
writes the runs as one literal path, which :func:`draw_qr` adds to a canvas
and the invoice writer to its page.
"""

from __future__ import annotations

import re
import threading
from itertools import compress
from typing import Any

import segno
from segno import consts as _segno_consts
from segno import encoder as _segno_encoder

from evservice.errors import PaymentCodeError
from evservice.payments._invoice import payment_lines
from evservice.payments._vietqr import VietQR
from evservice.pdf import register_fonts

__all__ = [
    "DEFAULT_MASK",
    "QUIET_ZONE",
    "draw_payment_block",
    "draw_qr",
    "make_qr",
    "qr_matrix",
    "qr_operators",
]

#: Modules of white margin around the symbol (ISO/IEC 18004 asks for 4).
QUIET_ZONE = 4
#: The mask used unless told otherwise; see the module docstring for why 0.
DEFAULT_MASK = 0

_RUN = re.compile(rb"\x01+")
_LEVELS = frozenset("LMQH")
# segno's encoder internals (its data encoding and tables), partly annotated: used as Any.
_encoder: Any = _segno_encoder
_consts: Any = _segno_consts


def make_qr(payload: str, *, error: str = "M", mask: int | None = DEFAULT_MASK) -> Any:
    """The ``segno.QRCode`` for ``payload`` at exactly error level ``error``.

    The level is not boosted: EPC069-12 asks for M, and a fixed level keeps
    the symbol size predictable for the layout. Non-ASCII payloads are encoded
    as UTF-8. Returns segno's object (``.matrix``, ``.save()``, ``.version``).
    """
    level = _check(payload, error, mask)
    encoding = None if payload.isascii() else "utf-8"
    try:
        return segno.make_qr(payload, error=level, mask=mask, encoding=encoding, boost_error=False)
    except segno.DataOverflowError as exc:
        raise PaymentCodeError("payload", f"is too long for a QR code at level {level}") from exc
    except ValueError as exc:
        raise PaymentCodeError("payload", f"cannot be encoded as a QR code: {exc}") from exc


def _check(payload: str, error: str, mask: int | None) -> str:
    level = str(error).upper()
    if level not in _LEVELS:
        raise PaymentCodeError("error", "must be one of L, M, Q, H")
    if mask is not None and (isinstance(mask, bool) or mask not in range(8)):
        raise PaymentCodeError("mask", "must be 0 to 7, or None for automatic selection")
    if not isinstance(payload, str) or not payload:
        raise PaymentCodeError("payload", "must be non-empty text")
    return level


class _Layout:
    """One (version, level, mask): the symbol with all data bits 0, and where each bit goes."""

    def __init__(self, version: int, error: int, mask: int) -> None:
        size = _encoder.calc_matrix_size(version)
        base = self._functions(size)
        flat = b"".join(base)
        data = [i for i, v in enumerate(flat) if v == 0x2]
        count = len(data)
        # The template: segno places all-zero data, masks it and adds format/version info.
        _encoder.add_codewords(base, bytes(count), version)
        _encoder.find_and_apply_best_mask(base, size, size, mask)
        _encoder.add_format_info(base, version, error, mask)
        _encoder.add_version_info(base, version)
        # Where bit i lands: segno places the bits of i, one bit plane per pass.
        index = [0] * count
        for plane in range(max(1, (count - 1).bit_length())):
            placed = self._functions(size)
            _encoder.add_codewords(placed, bytes((i >> plane) & 1 for i in range(count)), version)
            row = b"".join(placed)
            for k, position in enumerate(data):
                index[k] |= row[position] << plane
        order = [0] * count
        for k, i in enumerate(index):
            order[i] = data[k]
        self.size = size
        self.count = count
        self.template = b"".join(base)
        self.order = order

    @staticmethod
    def _functions(size: int) -> Any:
        matrix = _encoder.make_matrix(size, size)
        _encoder.add_finder_patterns(matrix, size, size)
        _encoder.add_alignment_patterns(matrix, size, size)
        return matrix


_layouts: dict[tuple[int, int, int], _Layout] = {}
_layouts_lock = threading.Lock()
_BITS = bytes.maketrans(b"01", b"\x00\x01")
_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_GF_LOG = _consts.GALIOS_LOG
_GF_EXP = _consts.GALIOS_EXP
_products: dict[int, list[int]] = {}


def _layout(version: int, error: int, mask: int) -> _Layout:
    key = (version, error, mask)
    found = _layouts.get(key)
    if found is None:
        with _layouts_lock:
            found = _layouts.get(key)
            if found is None:
                found = _layouts[key] = _Layout(version, error, mask)
    return found


def _ecc(block: bytes, count: int) -> bytes:
    """Reed-Solomon remainder of ``block`` for ``count`` error codewords (segno's generators).

    The remainder is kept as one integer: each data byte shifts it and XORs in a
    precomputed multiple of the generator.
    """
    table = _products.get(count)
    if table is None:
        generator = _consts.GEN_POLY[count]
        table = [0] + [
            int.from_bytes(bytes(_GF_EXP[_GF_LOG[f] + g] for g in generator), "big")
            for f in range(1, 256)
        ]
        _products[count] = table
    shift = 8 * (count - 1)
    keep = (1 << shift) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder & keep) << 8) ^ table[byte ^ (remainder >> shift)]
    return remainder.to_bytes(count, "big")


def qr_matrix(payload: str, *, error: str = "M", mask: int = DEFAULT_MASK) -> tuple[bytes, ...]:
    """The module matrix (rows of 0/1 bytes) of ``make_qr(payload, error=, mask=)``, faster.

    Identical to segno's ``make_qr(...).matrix`` for a fixed mask; segno's data
    encoding, tables instead of its per-module placement and masking.
    """
    level = _check(payload, error, mask)
    if mask is None:
        raise PaymentCodeError("mask", "must be 0 to 7 (use make_qr for automatic selection)")
    encoding = None if payload.isascii() else "utf-8"
    code = _consts.ERROR_MAPPING[level]
    try:
        segments = _encoder.prepare_data(payload, None, encoding)
        version = _encoder.find_version(segments, code, eci=False, micro=False)
    except segno.DataOverflowError as exc:
        raise PaymentCodeError("payload", f"is too long for a QR code at level {level}") from exc
    except ValueError as exc:
        raise PaymentCodeError("payload", f"cannot be encoded as a QR code: {exc}") from exc
    buffer = _encoder.Buffer()
    for segment in segments:
        _encoder.write_segment(buffer, segment, None, _encoder.version_range(version), False)
    capacity = _consts.SYMBOL_CAPACITY[version][code]
    _encoder.write_terminator(buffer, capacity, None, len(buffer))
    _encoder.write_padding_bits(buffer, version, len(buffer))
    _encoder.write_pad_codewords(buffer, version, capacity, len(buffer))
    stream = bytes(buffer.getbits()).translate(_DIGITS)
    codewords = int(stream, 2).to_bytes(len(stream) // 8, "big")
    data_blocks: list[bytes] = []
    ecc_blocks: list[bytes] = []
    start = 0
    for info in _consts.ECC[version][code]:
        for _ in range(info.num_blocks):
            block = codewords[start : start + info.num_data]
            start += info.num_data
            data_blocks.append(block)
            ecc_blocks.append(_ecc(block, info.num_total - info.num_data))
    final = bytearray()
    for i in range(max(len(b) for b in data_blocks)):
        final.extend(b[i] for b in data_blocks if i < len(b))
    for i in range(len(ecc_blocks[0])):
        final.extend(b[i] for b in ecc_blocks)
    layout = _layout(version, code, mask)
    bits = format(int.from_bytes(final, "big"), f"0{8 * len(final)}b").encode().translate(_BITS)
    out = bytearray(layout.template)
    for position in compress(layout.order, bits):  # remainder bits stay 0
        out[position] ^= 1
    size = layout.size
    return tuple(bytes(out[i : i + size]) for i in range(0, size * size, size))


def qr_operators(
    payload: str,
    x: float,
    y: float,
    size: float,
    *,
    error: str = "M",
    mask: int | None = DEFAULT_MASK,
) -> str:
    """The PDF content-stream operators that draw the QR code for ``payload`` at (x, y).

    What :func:`draw_qr` adds to a canvas, as text: a white square of side
    ``size`` (points, quiet zone included), lower-left corner at (x, y), and
    the dark modules as one path of rectangles, all inside ``q``/``Q`` so the
    graphics state (fill colour, transform) is the same afterwards. The
    invoice writer appends it to its page directly.
    """
    from reportlab.lib.rl_accel import fp_str

    if not size > 0:
        raise PaymentCodeError("size", "must be greater than zero")
    matrix: Any
    if mask is None:
        matrix = make_qr(payload, error=error, mask=None).matrix
    else:
        matrix = qr_matrix(payload, error=error, mask=mask)
    module = size / (len(matrix) + 2 * QUIET_ZONE)
    # Drawn in module units, origin at the symbol's top-left corner, y downwards: the
    # rectangles are small integers ("12 3 4 1 re"), which keeps the page stream short.
    runs = [
        f"{start} {row_index} {end - start} 1 re"
        for row_index, row in enumerate(matrix)
        for start, end in (run.span() for run in _RUN.finditer(row))
    ]
    corner = fp_str(module, 0, 0, -module, x + QUIET_ZONE * module, y + size - QUIET_ZONE * module)
    runs.append("f\nQ")
    return f"q\n1 1 1 rg\n{fp_str(x, y, size, size)} re f\n0 0 0 rg\n{corner} cm\n" + "\n".join(
        runs
    )


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

    ``size`` is the side of the square in points, quiet zone included. Works
    on any canvas with ``addLiteral`` (reportlab's, or our invoice writer's):
    the operators are :func:`qr_operators`, whose ``q``/``Q`` leave the
    canvas's graphics state (fill colour) as it was.
    """
    canvas.addLiteral(qr_operators(payload, x, y, size, error=error, mask=mask))


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
