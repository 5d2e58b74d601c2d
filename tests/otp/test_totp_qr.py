"""The enrolment's QR code, drawn by our QR matrix, scans (zxing-cpp) back to the otpauth URI."""

from __future__ import annotations

import io
import re

import zxingcpp
from lxml import etree
from PIL import Image, ImageDraw

from evservice import otp
from evservice._context import Context


def _scan(image: Image.Image) -> list[str]:
    return [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def test_png_scans_to_the_uri(sqlite_ctx: Context) -> None:
    new = otp.enrol_totp("PD0001", ctx=sqlite_ctx)
    image = Image.open(io.BytesIO(new.qr_png(scale=6)))
    image.load()
    assert image.mode == "L"
    assert _scan(image) == [new.uri]


def _rasterise_svg(svg: str, scale: int = 6) -> Image.Image:
    """Draw the SVG's white square and the path's run rectangles (``M x y h w v1 h-w z``)."""
    root = etree.fromstring(svg.encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    side = int(root.get("viewBox").split()[2])
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    [path] = root.findall("s:path", ns)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", path.get("d")):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle([x0, y0, x0 + int(w) * scale - 1, y0 + scale - 1], fill=0)
    return image


def test_svg_scans_to_the_uri(sqlite_ctx: Context) -> None:
    new = otp.enrol_totp("PD0002", ctx=sqlite_ctx)
    svg = new.qr_svg()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<script" not in svg
    assert "style=" not in svg
    assert _scan(_rasterise_svg(svg)) == [new.uri]


def test_terminal_text_scans_to_the_uri(sqlite_ctx: Context) -> None:
    new = otp.enrol_totp("PD0003", ctx=sqlite_ctx)
    lines = new.qr_text().split("\n")
    scale = 6
    image = Image.new("L", (len(lines[0]) * scale, 2 * len(lines) * scale), 0)
    draw = ImageDraw.Draw(image)
    # The text draws the light modules; on paper, light is white.
    halves = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}
    for row, line in enumerate(lines):
        for col, char in enumerate(line):
            for half, light in enumerate(halves[char]):
                if light:
                    y0 = (2 * row + half) * scale
                    draw.rectangle(
                        [col * scale, y0, col * scale + scale - 1, y0 + scale - 1], fill=255
                    )
    assert _scan(image) == [new.uri]
