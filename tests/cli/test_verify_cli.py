"""``evservice init`` and ``evservice verify``: a clear report, JSON, and exit codes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from evservice.cli import main
from evservice.config import Settings
from evservice.invoices import Invoice, InvoiceDraft, invoice_to_xml, render_invoice_pdf
from evservice.signing import clear_signer_cache, load_signer, sign_invoice_xml, sign_pdf


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI reads its settings from the environment: point it at a fresh data dir."""
    import evservice._context as context_module
    from evservice.config import get_settings

    data = tmp_path / "data"
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    monkeypatch.setattr(context_module, "_default", None)
    clear_signer_cache()
    yield data
    get_settings.cache_clear()
    clear_signer_cache()


def _invoice() -> Invoice:
    draft = InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": date(2026, 10, 31),
            "seller": {
                "name": "Công ty Điện lực Hải Dương",
                "tax_code": "0100100079",
                "address": "Số 33 Đại lộ Hồ Chí Minh, Hải Dương",
            },
            "buyer": {"person_name": "Trần Văn Bình", "address": "Hải Dương"},
            "lines": [
                {"name": "Điện sinh hoạt bậc 1", "unit": "kWh", "quantity": "50",
                 "unit_price": "1984", "vat_rate": "8%"},
            ],
        }
    )  # fmt: skip
    return Invoice(
        id=uuid.uuid4(),
        draft=draft,
        number=7,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, 3, 0, tzinfo=UTC),
    )


def _issue(data_dir: Path, out: Path) -> tuple[Path, Path]:
    signer = load_signer(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    invoice = _invoice()
    rendered = render_invoice_pdf(invoice)
    now = datetime.now(UTC)
    xml = sign_invoice_xml(invoice_to_xml(invoice), signer, signing_time=now)
    pdf = sign_pdf(
        rendered.pdf, signer, signing_time=now, box=rendered.signature_box, embedded_xml=xml
    )
    xml_path, pdf_path = out / "invoice.xml", out / "invoice.pdf"
    xml_path.write_bytes(xml)
    pdf_path.write_bytes(pdf)
    return xml_path, pdf_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the CLI's entry point; its exit status (0 when it returns) and its output."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_init_then_verify_an_issued_invoice(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "init")
    assert code == 0
    assert "development key created" in out
    assert "DEVELOPMENT ONLY" in out
    assert (data_dir / "keys" / "dev-root.pem").is_file()
    code, out = run(capsys, "init")
    assert "already present" in out

    xml_path, pdf_path = _issue(data_dir, tmp_path)
    code, out = run(capsys, "verify", str(pdf_path), str(xml_path))
    assert code == 0, out
    assert f"{pdf_path}: OK (pdf)" in out
    assert "PDF signature 'Signature1': OK" in out
    assert "embedded invoice XML 'invoice.xml' (AFRelationship Source): OK" in out
    assert "totals shown in the PDF agree with the XML: yes" in out
    assert "development key" in out
    assert "2 of 2 file(s) verified, 0 failed" in out


def test_a_tampered_copy_fails_and_says_what(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xml_path, pdf_path = _issue(data_dir, tmp_path)
    data = pdf_path.read_bytes()
    position = data.index(b"/Type /Page") + 2  # inside the signed first revision
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(data[:position] + b"X" + data[position + 1 :])
    code, out = run(capsys, "verify", str(tampered))
    assert code == 1
    assert f"{tampered}: FAILED" in out
    assert "TAMPERED" in out or "cannot" in out
    assert "0 of 1 file(s) verified, 1 failed" in out

    forged = tmp_path / "forged.xml"
    forged.write_bytes(xml_path.read_bytes().replace(b"<TgTTTBSo>", b"<TgTTTBSo>9"))
    code, out = run(capsys, "verify", "--json", str(forged))
    assert code == 1
    (report,) = json.loads(out)
    assert report["ok"] is False
    (sig,) = report["signatures"]
    assert sig["intact"] is False
    assert [r["ok"] for r in sig["references"]] == [False, True]


def test_verify_json_for_a_good_file_and_a_missing_one(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, pdf_path = _issue(data_dir, tmp_path)
    code, out = run(capsys, "verify", "--json", str(pdf_path))
    assert code == 0
    (report,) = json.loads(out)
    assert report["ok"] is True
    assert report["development_key"] is True
    assert report["embedded_xml"]["same_as_signed"] is True
    code, out = run(capsys, "verify", str(tmp_path / "nope.pdf"))
    assert code == 2
    assert "error: source" in out


def test_every_file_is_reported_even_when_one_is_broken(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged certificate, junk and a missing file do not drop the other reports."""
    import base64
    import re

    xml_path, pdf_path = _issue(data_dir, tmp_path)
    signed = xml_path.read_bytes()
    match = re.search(rb"<X509Certificate>([^<]+)</X509Certificate>", signed)
    assert match is not None
    der = bytearray(base64.b64decode(match.group(1)))
    der[der.index(bytes.fromhex("2a864886f70d010101")) + 8] = 0x7F  # unknown key algorithm
    broken = tmp_path / "broken-cert.xml"
    broken.write_bytes(signed.replace(match.group(1), base64.b64encode(bytes(der))))
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    missing = tmp_path / "missing.xml"
    code, out = run(capsys, "verify", str(broken), str(junk), str(missing), str(pdf_path))
    assert code == 2  # a file that cannot be read at all
    assert f"{broken}: FAILED (xml)" in out
    assert f"{junk}: FAILED (pdf)" in out
    assert f"{pdf_path}: OK (pdf)" in out
    assert "error: source: cannot read" in out
    assert "1 of 4 file(s) verified, 3 failed" in out
    assert "Traceback" not in out

    code, out = run(capsys, "verify", "--json", str(broken), str(pdf_path))
    assert code == 1
    first, second = json.loads(out)
    assert first["ok"] is False
    assert second["ok"] is True


def test_json_gives_cryptographic_policy_and_trust_results_apart(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xml_path, _ = _issue(data_dir, tmp_path)
    code, out = run(capsys, "verify", str(xml_path))
    assert code == 0
    assert "cryptographic result: pass" in out
    assert "policy result: accepted" in out
    assert "trust result: trusted" in out
    code, out = run(capsys, "verify", "--json", str(xml_path))
    (report,) = json.loads(out)
    (sig,) = report["signatures"]
    assert sig["cryptographic"]["ok"] is True
    assert sig["policy"] == {"ok": True, "problems": []}
    assert sig["trust"]["ok"] is True
    assert sig["key"] == "RSA 2048 bits"
    assert report["content"]["values"]["NDHDon.TToan.TgTTTBSo"]
