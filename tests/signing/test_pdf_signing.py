"""PAdES on invoice PDFs: B-B, B-T over a loopback TSA, B-LT; pdfsig agrees; tampering shows."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from evservice import Context, verify
from evservice.clock import ManualClock
from evservice.errors import TimestampError
from evservice.signing import (
    PdfSignatureBox,
    load_signer,
    sign_invoice_xml,
    sign_pdf,
    signer_from_files,
)

from .conftest import InvoiceDocs, TestPKI


@pytest.fixture(scope="module")
def nss_db(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database trusting the test root (``vfychain`` accepts the chain with it).

    pdfsig 22.12 still answers "Unknown issue with Certificate" for the chain
    (PKIX verification inside poppler fails where NSS's own vfychain succeeds),
    so the tests assert "Signature is Valid." and leave trust to our verifier.
    """
    db = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{db}",
            "-n",
            "evs-root",
            "-t",
            "CT,C,C",
            "-i",
            str(pki.root_pem),
        ],
        check=True,
    )
    return f"sql:{db}"


def pdfsig(path: Path, nss: str) -> str:
    done = subprocess.run(
        ["pdfsig", "-nssdir", nss, "-no-ocsp", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout + done.stderr


def sign_both(ctx: Context, docs: InvoiceDocs) -> tuple[bytes, bytes]:
    signer = load_signer(ctx.settings)
    when = ctx.clock.now()
    xml = sign_invoice_xml(docs.xml, signer, signing_time=when)
    pdf = sign_pdf(
        docs.pdf,
        signer,
        signing_time=when,
        box=docs.box,
        embedded_xml=xml,
        xml_filename="1C26TAA-42.xml",
    )
    return xml, pdf


def test_b_b_pdf_carries_the_signed_xml_and_pdfsig_trusts_it(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, nss_db: str, now_clock: ManualClock
) -> None:
    ctx = Context(settings=pki.settings(tmp_path / "data"), clock=now_clock)
    xml, pdf = sign_both(ctx, invoice_docs)
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)

    out = pdfsig(path, nss_db)
    assert "Signature is Valid." in out, out
    assert "ETSI.CAdES.detached" in out  # PAdES
    assert "Total document signed" in out

    report = verify(path, ctx=ctx)
    assert report.ok, report.text()
    (status,) = report.signatures
    assert status.pades_level == "B-B"
    assert status.timestamp is None
    assert status.coverage == "ENTIRE_FILE"
    assert status.modified_after_signing is False
    assert status.tax_code == "0100100079"
    embedded = report.embedded_xml
    assert embedded is not None
    assert embedded.ok
    assert embedded.filename == "1C26TAA-42.xml"
    assert embedded.relationship == "Source"
    assert embedded.same_as_signed is True
    assert embedded.totals is not None
    assert embedded.totals.ok is True
    assert [a[0] for a in embedded.totals.amounts] == ["TgTCThue", "TgTThue", "TgTTTBSo"]

    reader = PdfFileReader(BytesIO(pdf))
    (spec_ref,) = reader.root["/AF"]
    spec = spec_ref.get_object()
    assert spec["/AFRelationship"] == "/Source"
    assert spec["/EF"]["/F"].get_object().data == xml  # one file carries both
    (field,) = [
        a.get_object()
        for a in reader.root["/AcroForm"]["/Fields"]
        if a.get_object().get("/FT") == "/Sig"
    ]
    rect = [float(v) for v in field["/Rect"]]
    expected = PdfSignatureBox.of(invoice_docs.box).as_ints()
    assert rect == [float(v) for v in expected]  # the visible stamp sits in the reserved box


def test_b_t_gets_its_timestamp_from_the_tsa_over_http(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, nss_db: str, now_clock: ManualClock
) -> None:
    settings_ = pki.settings(tmp_path / "data", pades_level="B-T", tsa_url=pki.tsa_url)
    ctx = Context(settings=settings_, clock=now_clock)
    _, pdf = sign_both(ctx, invoice_docs)
    path = tmp_path / "bt.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid." in pdfsig(path, nss_db)
    report = verify(path, ctx=ctx)
    assert report.ok, report.text()
    (status,) = report.signatures
    assert status.pades_level == "B-T"
    assert status.timestamp is not None
    assert status.timestamp.valid
    assert status.timestamp.trusted
    assert status.timestamp.authority is not None
    assert "evservice Test TSA" in status.timestamp.authority
    assert status.signing_time_source == "timestamp"
    assert abs((status.timestamp.time - now_clock.now()).total_seconds()) < 120


def test_b_lt_embeds_validation_data(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, nss_db: str, now_clock: ManualClock
) -> None:
    settings_ = pki.settings(tmp_path / "data", pades_level="B-LT", tsa_url=pki.tsa_url)
    ctx = Context(settings=settings_, clock=now_clock)
    _, pdf = sign_both(ctx, invoice_docs)
    path = tmp_path / "blt.pdf"
    path.write_bytes(pdf)
    now_clock.advance(120)  # verified later than the OCSP response was made
    assert "Signature is Valid." in pdfsig(path, nss_db)
    reader = PdfFileReader(BytesIO(pdf))
    dss = reader.root["/DSS"]
    assert len(dss["/OCSPs"]) >= 1 or len(dss.get("/CRLs", [])) >= 1
    report = verify(path, ctx=ctx)
    assert report.ok, report.text()
    (status,) = report.signatures
    assert status.pades_level == "B-LT"
    assert status.modified_after_signing is False  # the DSS revision is allowed


def test_a_dead_tsa_is_a_timestamp_error(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, now_clock: ManualClock
) -> None:
    settings_ = pki.settings(
        tmp_path / "data", pades_level="B-T", tsa_url="http://127.0.0.1:9/evs/tsa/tsa"
    )
    signer = load_signer(settings_)
    with pytest.raises(TimestampError):
        sign_pdf(invoice_docs.pdf, signer, signing_time=now_clock.now())


def test_ecdsa_pdf_signature_is_valid_for_pdfsig(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, nss_db: str, now_clock: ManualClock
) -> None:
    signer = signer_from_files(key_pem=pki.ec_key, cert_pem=pki.ec_cert, chain_pem=pki.interm_pem)
    evidence = b'{"consent": "otp"}'
    pdf = sign_pdf(
        invoice_docs.pdf,
        signer,
        signing_time=now_clock.now(),
        box=invoice_docs.box,
        attachments=[("evidence.json", "application/json", evidence, "Supplement")],
    )
    (spec_ref,) = PdfFileReader(BytesIO(pdf)).root["/AF"]
    spec = spec_ref.get_object()
    assert spec["/AFRelationship"] == "/Supplement"
    assert spec["/EF"]["/F"].get_object().data == evidence
    path = tmp_path / "ec.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path, nss_db)
    assert "Signature is Valid." in out, out
    ctx = Context(settings=pki.settings(tmp_path / "data"), clock=now_clock)
    report = verify(path, ctx=ctx)
    (status,) = report.signatures
    assert status.ok
    assert status.algorithm == "ECDSA-SHA256"
    assert report.embedded_xml is not None
    assert not report.embedded_xml.present  # an invoice PDF must carry its XML
    assert not report.ok


@pytest.fixture(scope="module")
def signed_pdf(pki: TestPKI, invoice_docs: InvoiceDocs) -> bytes:
    signer = signer_from_files(key_pem=pki.ec_key, cert_pem=pki.ec_cert, chain_pem=pki.interm_pem)
    now = datetime.now(UTC)
    xml = sign_invoice_xml(invoice_docs.xml, signer, signing_time=now)
    return sign_pdf(
        invoice_docs.pdf, signer, signing_time=now, box=invoice_docs.box, embedded_xml=xml
    )


def test_a_revision_appended_after_signing_is_reported(
    pki: TestPKI, signed_pdf: bytes, tmp_path: Path, now_clock: ManualClock
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed_pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    path = tmp_path / "appended.pdf"
    path.write_bytes(out.getvalue())
    ctx = Context(settings=pki.settings(tmp_path / "data"), clock=now_clock)
    report = verify(path, ctx=ctx)
    assert not report.ok
    (status,) = report.signatures
    assert status.intact  # the signed revision itself is untouched...
    assert status.modified_after_signing is True  # ...but the file was changed afterwards
    assert "modified after signing: YES" in report.text()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.floats(0, 1, exclude_max=True), delta=st.integers(1, 255))
def test_any_changed_signed_byte_fails(
    pki: TestPKI, signed_pdf: bytes, tmp_path: Path, where: float, delta: int
) -> None:
    reader = PdfFileReader(BytesIO(signed_pdf))
    (emb,) = reader.embedded_regular_signatures
    _a, b, c, d = (int(v) for v in emb.sig_object["/ByteRange"])
    covered = b + d
    offset = int(where * covered)
    position = offset if offset < b else c + (offset - b)
    tampered = bytearray(signed_pdf)
    tampered[position] = (tampered[position] + delta) % 256
    ctx = Context(settings=pki.settings(tmp_path / "data"))
    report = verify(bytes(tampered), ctx=ctx)
    assert not report.ok, position
