"""``evservice qr``: payloads on stdout, PNG/SVG files that scan, decoding, clean errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from lxml import etree
from PIL import Image

from evservice.cli import main
from evservice.payments import emv

NAPAS_DYNAMIC = (
    "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA"
    "530370454061800005802VN62340107NPS68690819thanh toan don hang63042E2E"
)
NAPAS_STATIC = (
    "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_vietqr_prints_the_napas_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        "qr",
        "vietqr",
        "--bin",
        "970403",
        "--account",
        "0011012345678",
        "--amount",
        "180000",
        "--bill-number",
        "NPS6869",
        "--purpose",
        "Thanh toán đơn hàng".lower(),
    )
    assert (code, err) == (0, "")
    assert out == NAPAS_DYNAMIC + "\n"


def test_vietqr_writes_png_and_svg_that_scan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    png, svg = tmp_path / "code.png", tmp_path / "code.svg"
    args = ["qr", "vietqr", "--bin", "970436", "--account", "0071001234567", "--amount", "250000"]
    code, out, _ = _run(capsys, *args, "--purpose", "HD C26TAA 00000123", "--png", str(png))
    assert code == 0
    payload = out.strip()
    with Image.open(png) as image:
        results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [payload]
    assert emv.validate(payload) == payload

    code, out, _ = _run(capsys, *args, "--svg", str(svg), "--scale", "4")
    assert code == 0
    root = etree.parse(str(svg)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--bin", "97043", "--account", "1"], "bin:"),
        (["--bin", "970436", "--account", "1" * 20], "account:"),
        (["--bin", "970436", "--account", "1", "--amount", "-5"], "amount: must not be negative"),
        (["--bin", "970436", "--account", "1", "--amount", "10.5"], "amount: must be whole dong"),
        (["--bin", "970436", "--account", "1", "--purpose", "x" * 26], "purpose:"),
    ],
)
def test_vietqr_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], extra: list[str], words: str
) -> None:
    code, out, err = _run(capsys, "qr", "vietqr", *extra)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert words in err
    assert err.count("\n") == 1


def test_unwritable_image_path_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "code.png"
    code, _, err = _run(
        capsys, "qr", "vietqr", "--bin", "970436", "--account", "1", "--png", str(target)
    )
    assert code == 2
    assert "cannot write the PNG file" in err


def test_decode_prints_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "qr", "decode", NAPAS_DYNAMIC)
    assert code == 0
    assert "00 acquirer BIN: 970403" in out
    assert "08 purpose: thanh toan don hang" in out
    assert "54 amount: 180000" in out
    assert "VietQR: dynamic, to account 0011012345678 at Sacombank" in out
    assert "amount 180000 VND" in out

    code, out, _ = _run(capsys, "qr", "decode", NAPAS_STATIC)
    assert code == 0
    assert "VietQR: static" in out


def test_decode_other_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    promptpay = (
        "00020101021229370016A0000006770101110113006691234567853037645406100.005802TH6304D803"
    )
    code, out, _ = _run(capsys, "qr", "decode", promptpay)
    assert code == 0
    assert "29 merchant account (PromptPay)" in out
    assert "VietQR" not in out.replace("VietQR / NAPAS", "")

    epc = r"BCD\n001\n1\nSCT\nBPOTBEB1\nRed Cross\nBE72000000001616\nEUR1\nCHAR\n\nUrgency fund"
    code, out, _ = _run(capsys, "qr", "decode", epc)
    assert code == 0
    assert "iban: BE72000000001616" in out
    assert "amount: 1" in out


def test_decode_errors_and_lenient_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "qr", "decode", NAPAS_DYNAMIC[:-1] + "F")
    assert code == 2
    assert err.startswith("error: tag 63: CRC")

    fields = list(emv.decode(NAPAS_DYNAMIC).fields)
    fields[-1] = emv.Field("62", (emv.Field("08", "x" * 30),))
    odd = emv.encode(fields, strict=False)
    code, _, err = _run(capsys, "qr", "decode", odd)
    assert code == 2
    assert "tag 62.08" in err
    code, out, _ = _run(capsys, "qr", "decode", "--lenient", odd)
    assert code == 0
    assert "08 purpose: " + "x" * 30 in out
