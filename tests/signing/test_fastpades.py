"""The direct PAdES path for our own PDFs: same structure as pyHanko's, same verifiers agree.

Every check here runs real verifiers on the output: poppler's ``pdfsig``,
pyHanko's ``validate_pdf_signature`` and :func:`evservice.verify` (which reads
the embedded XML and the page text). The fallback to pyHanko is exercised with
PDFs the fast path must refuse.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_cms import CAdESSignedAttributeProviderSpec, PdfCMSSignedAttributes
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from evservice import Context, verify
from evservice.clock import ManualClock
from evservice.errors import DocumentError
from evservice.invoices import invoice_to_xml, render_invoice_pdf
from evservice.pdf import MARKER, fixed_font, register_fonts
from evservice.signing import (
    DocumentSigner,
    load_signer,
    sign_invoice_xml,
    sign_pdf,
    signer_from_files,
)
from evservice.signing._fastpades import fast_sign_pdf
from evservice.signing._pades import _sign_with_pyhanko
from evservice.signing._trust import to_asn1

from .conftest import P12_PASSWORD, InvoiceDocs, TestPKI, make_invoice
from .test_pdf_signing import pdfsig

WHEN = datetime(2026, 10, 31, 3, 0, tzinfo=UTC)


def _fast(pdf: bytes) -> bool:
    """True if the last revision was written by the direct path (pyHanko names itself)."""
    info = PdfFileReader(BytesIO(pdf)).trailer["/Info"].get_object()
    return "pyHanko" not in str(info.get("/Producer", ""))


def _raw(value: Any) -> bytes:
    raw = getattr(value, "original_bytes", value)
    return raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)


def _pyhanko_status(pdf: bytes, pki: TestPKI) -> Any:
    reader = PdfFileReader(BytesIO(pdf))
    context = ValidationContext(
        trust_roots=[to_asn1_pem(pki.root_pem)], allow_fetching=False, revocation_mode="soft-fail"
    )
    return [validate_pdf_signature(emb, context) for emb in reader.embedded_regular_signatures]


def to_asn1_pem(path: Path) -> Any:
    from cryptography import x509

    return to_asn1(x509.load_pem_x509_certificate(path.read_bytes()))


@pytest.fixture(scope="module")
def nss(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("nss-fast")
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    return f"sql:{db}"


@pytest.fixture
def rsa_ctx(pki: TestPKI, tmp_path: Path) -> Context:
    return Context(settings=pki.settings(tmp_path / "data"), clock=ManualClock(WHEN))


def _sign(signer: DocumentSigner, docs: InvoiceDocs, **extra: Any) -> tuple[bytes, bytes]:
    xml = sign_invoice_xml(docs.xml, signer, signing_time=WHEN)
    pdf = sign_pdf(
        docs.pdf,
        signer,
        signing_time=WHEN,
        box=docs.box,
        embedded_xml=xml,
        xml_filename="1C26TAA-42.xml",
        reason="Hóa đơn 1C26TAA-00000042",
        **extra,
    )
    return xml, pdf


def test_our_pdf_takes_the_direct_path_and_every_verifier_accepts_it(
    pki: TestPKI, invoice_docs: InvoiceDocs, rsa_ctx: Context, tmp_path: Path, nss: str
) -> None:
    signer = load_signer(rsa_ctx.settings)
    xml, pdf = _sign(signer, invoice_docs, location="Hải Dương")
    assert _fast(pdf)
    assert pdf.startswith(invoice_docs.pdf)  # an incremental update, the original untouched
    path = tmp_path / "fast.pdf"
    path.write_bytes(pdf)

    out = pdfsig(path, nss)
    assert "Signature is Valid." in out, out
    assert "ETSI.CAdES.detached" in out
    assert "Total document signed" in out

    (status,) = _pyhanko_status(pdf, pki)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.signer_reported_dt == WHEN  # /M, not a signed attribute (PAdES)

    report = verify(path, ctx=rsa_ctx)
    assert report.ok, report.text()
    (sig,) = report.signatures
    assert sig.pades_level == "B-B"
    assert sig.modified_after_signing is False
    assert sig.tax_code == "0100100079"
    embedded = report.embedded_xml
    assert embedded is not None
    assert embedded.ok
    assert embedded.filename == "1C26TAA-42.xml"
    assert embedded.relationship == "Source"
    assert embedded.same_as_signed is True
    assert embedded.totals is not None
    assert embedded.totals.ok is True

    reader = PdfFileReader(BytesIO(pdf))
    root = reader.root
    assert root["/AcroForm"]["/SigFlags"] == 3
    (field,) = [f.get_object() for f in root["/AcroForm"]["/Fields"]]
    assert field["/FT"] == "/Sig"
    assert field["/F"] == 132
    assert [int(v) for v in field["/Rect"]] == [
        round(v)
        for v in invoice_docs.box.rect  # the reserved box, in whole points
    ]
    assert "/N" in field["/AP"]
    page = reader.root["/Pages"]["/Kids"][invoice_docs.box.page].get_object()
    assert [a.get_object() for a in page["/Annots"]] == [field]
    sig_dict = field["/V"]
    assert sig_dict["/Filter"] == "/Adobe.PPKLite"
    assert str(sig_dict["/Reason"]) == "Hóa đơn 1C26TAA-00000042"
    assert str(sig_dict["/Location"]) == "Hải Dương"
    (spec_ref,) = root["/AF"]
    spec = spec_ref.get_object()
    assert spec["/EF"]["/F"].get_object().data == xml


def test_a_long_invoice_is_signed_on_its_last_page(
    pki: TestPKI, rsa_ctx: Context, tmp_path: Path, nss: str
) -> None:
    base = make_invoice()
    line = base.draft.lines[0]
    draft = base.draft.model_copy(update={"lines": [line] * 90})
    invoice = base.model_copy(update={"draft": draft})
    rendered = render_invoice_pdf(invoice, qr_payload="000201010211")
    assert rendered.page_count >= 3
    signer = load_signer(rsa_ctx.settings)
    xml = sign_invoice_xml(invoice_to_xml(invoice), signer, signing_time=WHEN)
    pdf = sign_pdf(
        rendered.pdf, signer, signing_time=WHEN, box=rendered.signature_box, embedded_xml=xml
    )
    assert _fast(pdf)
    reader = PdfFileReader(BytesIO(pdf))
    last = reader.root["/Pages"]["/Kids"][rendered.page_count - 1].get_object()
    (widget,) = [a.get_object() for a in last["/Annots"]]
    assert widget["/FT"] == "/Sig"
    path = tmp_path / "long.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid." in pdfsig(path, nss)
    report = verify(path, ctx=rsa_ctx)
    assert report.ok, report.text()


def test_both_paths_write_the_same_attachment_structure(
    invoice_docs: InvoiceDocs, rsa_ctx: Context
) -> None:
    signer = load_signer(rsa_ctx.settings)
    xml = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)
    evidence = b'{"consent": "otp"}'
    common: dict[str, Any] = {
        "embedded_xml": xml,
        "xml_filename": "b.xml",
        "reason": None,
        "location": None,
        "attachments": [("a-evidence.json", "application/json", evidence, "Supplement")],
    }
    fast = sign_pdf(invoice_docs.pdf, signer, signing_time=WHEN, box=invoice_docs.box, **common)
    slow = _sign_with_pyhanko(invoice_docs.pdf, signer, when=WHEN, box=None, **common)
    assert _fast(fast)
    assert not _fast(slow)

    def shape(pdf: bytes) -> list[tuple[str, ...]]:
        root = PdfFileReader(BytesIO(pdf)).root
        pairs = root["/Names"]["/EmbeddedFiles"]["/Names"]
        listed = [str(pairs[i]) for i in range(0, len(pairs), 2)]
        rows = []
        for ref in root["/AF"]:
            spec = ref.get_object()
            stream = spec["/EF"]["/F"].get_object()
            params = stream["/Params"]
            rows.append(
                (
                    str(spec["/F"]),
                    str(spec["/UF"]),
                    str(spec["/AFRelationship"]),
                    str(stream["/Subtype"]),
                    str(params["/Size"]),
                    _raw(params["/CheckSum"]).hex(),
                    stream.data.decode(),
                    "desc" if "/Desc" in spec else "-",
                )
            )
        return [tuple(listed), *sorted(rows)]

    assert shape(fast) == shape(slow)


def test_the_stamp_is_drawn_in_the_signature_box(
    invoice_docs: InvoiceDocs, rsa_ctx: Context
) -> None:
    signer = load_signer(rsa_ctx.settings)
    _, pdf = _sign(signer, invoice_docs)
    assert _fast(pdf)
    scale = 2
    doc = pdfium.PdfDocument(pdf)
    doc.init_forms()  # pdfium draws a signature widget's appearance only with forms on
    try:
        page = doc[invoice_docs.box.page]
        image = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
        height = page.get_height()
        page.close()
    finally:
        doc.close()
    x1, y1, x2, y2 = invoice_docs.box.rect

    def greens(left: float, bottom: float, right: float, top: float) -> int:
        box = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
        data = image.crop(tuple(int(v) for v in box)).tobytes()
        pixels = zip(data[0::3], data[1::3], data[2::3], strict=True)
        return sum(1 for r, g, b in pixels if g > r + 40 and g > b + 30)

    assert greens(x1, y1, x2, y2) > 500  # frame, signer and time, in the stamp's green
    assert greens(x1 - 150, y1, x1 - 10, y2) == 0  # nothing green outside the box


def _stamp(pdf: bytes) -> tuple[int, bytes]:
    """The stamp's font object number and its appearance's content."""
    reader = PdfFileReader(BytesIO(pdf))
    (field,) = [f.get_object() for f in reader.root["/AcroForm"]["/Fields"]]
    form = field["/AP"]["/N"].get_object()
    return form["/Resources"]["/Font"].raw_get("/EvsStamp").idnum, form.data


def _page_fonts(pdf: bytes, page: int) -> dict[str, int]:
    reader = PdfFileReader(BytesIO(pdf))
    fonts = reader.root["/Pages"]["/Kids"][page].get_object()["/Resources"]["/Font"]
    return {str(name): fonts.raw_get(name).idnum for name in fonts}


def _stamp_sign(pdf: bytes, pki: TestPKI, box: Any, text: str) -> bytes:
    out = fast_sign_pdf(
        pdf,
        _module_signer(pki),
        when=WHEN,
        page=box.page,
        rect=tuple(round(v) for v in box.rect),  # type: ignore[arg-type]
        stamp_text=text,
        stamp_font=register_fonts().regular,
    )
    assert out is not None
    (status,) = _pyhanko_status(out, pki)
    assert status.intact
    assert status.valid
    return out


def test_the_stamp_draws_with_the_pages_own_font(
    invoice_docs: InvoiceDocs, rsa_ctx: Context
) -> None:
    """On our invoice the stamp uses the page's fixed DejaVu Sans subset: no font is added."""
    signer = load_signer(rsa_ctx.settings)
    _, pdf = _sign(signer, invoice_docs)
    assert _fast(pdf)
    font = fixed_font(register_fonts().regular)
    number, content = _stamp(pdf)
    assert number == _page_fonts(pdf, invoice_docs.box.page)[f"/{font.tag}"]
    update = pdf[len(invoice_docs.pdf) :]
    assert b"/FontFile2" not in update
    assert b"/Type /Font" not in update
    # The appearance's strings are in the page font's codes: they decode to the stamp's lines.
    by_code = {code: char for char, code in font.codes.items()}
    shown = [bytes.fromhex(h.decode()) for h in re.findall(rb"<([0-9A-F]+)> Tj", content)]
    lines = ["".join(by_code[b] for b in line) for line in shown]
    assert len(lines) > 2  # wrapped to the box
    assert " ".join(lines) == f"Ký bởi: {signer.signer_name} Ký ngày: 31/10/2026 10:00:00 (GMT+7)"
    rows = subprocess.run(["pdffonts", "-"], input=pdf, capture_output=True, check=True)
    assert len(rows.stdout.decode().splitlines()[2:]) == 3  # the page's three faces, no other


def test_a_stamp_beyond_the_pages_font_embeds_its_own_subset(
    invoice_docs: InvoiceDocs, pki: TestPKI
) -> None:
    pdf = _stamp_sign(invoice_docs.pdf, pki, invoice_docs.box, "Ký bởi: Øster Ωmega")
    number, _ = _stamp(pdf)
    assert number not in _page_fonts(pdf, invoice_docs.box.page).values()
    assert number > int(PdfFileReader(BytesIO(invoice_docs.pdf)).trailer["/Size"])  # added
    assert pdf[len(invoice_docs.pdf) :].count(b"/FontFile2") == 1
    font = PdfFileReader(BytesIO(pdf)).get_object(generic.Reference(number, 0))
    assert font["/FontDescriptor"]["/FontFile2"].get_object().data


@pytest.mark.parametrize("part", ["dictionary", "descriptor", "program", "to-unicode"])
def test_a_page_font_not_exactly_ours_is_not_used_by_the_stamp(
    invoice_docs: InvoiceDocs, pki: TestPKI, part: str
) -> None:
    """One byte changed in any of the font's four objects: the stamp embeds its own font."""
    pdf = invoice_docs.pdf
    font = fixed_font(register_fonts().regular)
    number = _page_fonts(pdf, invoice_docs.box.page)[f"/{font.tag}"]
    dictionary = PdfFileReader(BytesIO(pdf)).get_object(generic.Reference(number, 0))
    target = {
        "dictionary": number,
        "descriptor": dictionary.raw_get("/FontDescriptor").idnum,
        "program": dictionary["/FontDescriptor"].raw_get("/FontFile2").idnum,
        "to-unicode": dictionary.raw_get("/ToUnicode").idnum,
    }[part]
    start = pdf.index(b"\n%d 0 obj\n" % target) + 1
    changed = bytearray(pdf)
    if part in ("program", "to-unicode"):  # a byte inside the compressed stream
        at = pdf.index(b"stream\n", start) + 7 + 40
        changed[at] ^= 0x01
    else:  # a digit: the first width, or the stem width
        key = b"/Widths [ " if part == "dictionary" else b"/StemV "
        at = pdf.index(key, start) + len(key)
        assert chr(pdf[at]).isdigit()
        changed[at] = ord("1") if pdf[at] != ord("1") else ord("2")
    assert len(changed) == len(pdf)
    assert bytes(changed) != pdf
    out = _stamp_sign(bytes(changed), pki, invoice_docs.box, "Ký bởi: Công ty Điện lực")
    stamp, _ = _stamp(out)
    assert stamp != number
    assert out[len(pdf) :].count(b"/FontFile2") == 1
    # The untouched file takes the page's font for the same stamp.
    assert _stamp(_stamp_sign(pdf, pki, invoice_docs.box, "Ký bởi: Công ty Điện lực"))[0] == number


def test_b_t_gets_the_tsa_token_on_the_direct_path(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, nss: str
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings_ = pki.settings(tmp_path / "data", pades_level="B-T", tsa_url=pki.tsa_url)
    ctx = Context(settings=settings_, clock=clock)
    signer = load_signer(settings_)
    xml = sign_invoice_xml(invoice_docs.xml, signer, signing_time=clock.now())
    pdf = sign_pdf(
        invoice_docs.pdf, signer, signing_time=clock.now(), box=invoice_docs.box, embedded_xml=xml
    )
    assert _fast(pdf)
    path = tmp_path / "bt.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid." in pdfsig(path, nss)
    report = verify(path, ctx=ctx)
    assert report.ok, report.text()
    (status,) = report.signatures
    assert status.pades_level == "B-T"
    assert status.timestamp is not None
    assert status.timestamp.valid
    assert status.timestamp.trusted
    assert status.signing_time_source == "timestamp"


def test_ecdsa_and_an_invisible_signature_on_the_direct_path(
    pki: TestPKI, invoice_docs: InvoiceDocs, tmp_path: Path, nss: str
) -> None:
    signer = signer_from_files(key_pem=pki.ec_key, cert_pem=pki.ec_cert, chain_pem=pki.interm_pem)
    lengths: set[int] = set()
    for second in range(40):  # DER ECDSA values vary in length: the padding must absorb it
        when = WHEN.replace(second=second)
        xml = sign_invoice_xml(invoice_docs.xml, signer, signing_time=when)
        pdf = sign_pdf(invoice_docs.pdf, signer, signing_time=when, embedded_xml=xml)
        assert _fast(pdf)
        (emb,) = PdfFileReader(BytesIO(pdf)).embedded_regular_signatures
        length = len(emb.signed_data["signer_infos"][0]["signature"].native)
        if length not in lengths:
            lengths.add(length)
            (status,) = _pyhanko_status(pdf, pki)
            assert status.intact
            assert status.valid
        if len(lengths) == 2:
            break
    assert len(lengths) == 2
    path = tmp_path / "ec.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid." in pdfsig(path, nss)
    field = PdfFileReader(BytesIO(pdf)).root["/AcroForm"]["/Fields"][0].get_object()
    assert [int(v) for v in field["/Rect"]] == [0, 0, 0, 0]
    assert "/AP" not in field
    report = verify(
        path, ctx=Context(settings=pki.settings(tmp_path / "d"), clock=ManualClock(WHEN))
    )
    assert report.ok, report.text()


def test_the_cms_carries_pyhankos_pades_attributes(
    invoice_docs: InvoiceDocs, rsa_ctx: Context, pki: TestPKI
) -> None:
    signer = load_signer(rsa_ctx.settings)
    _, pdf = _sign(signer, invoice_docs)
    (emb,) = PdfFileReader(BytesIO(pdf)).embedded_regular_signatures
    signed_data = emb.signed_data
    (info,) = signed_data["signer_infos"]
    types = [attr["type"].native for attr in info["signed_attrs"]]
    assert types == ["content_type", "message_digest", "signing_certificate_v2"]
    assert "signing_time" not in types  # PAdES: the time is /M
    assert info["digest_algorithm"]["algorithm"].native == "sha256"
    subjects = {c.chosen.subject.human_friendly for c in signed_data["certificates"]}
    assert any("HẢI DƯƠNG" in s for s in subjects)
    assert any("Issuing CA" in s for s in subjects)
    assert not info["unsigned_attrs"].native


def test_pdfs_we_did_not_make_or_already_signed_go_through_pyhanko(
    invoice_docs: InvoiceDocs, rsa_ctx: Context, pki: TestPKI
) -> None:
    signer = load_signer(rsa_ctx.settings)
    _, once = _sign(signer, invoice_docs)
    assert fast_sign_pdf(once, signer, when=WHEN) is None  # a second revision
    twice = sign_pdf(once, signer, signing_time=WHEN, box=invoice_docs.box)
    assert not _fast(twice)
    statuses = _pyhanko_status(twice, pki)
    assert len(statuses) == 2
    assert all(s.intact and s.valid for s in statuses)

    other = pdfium.PdfDocument.new()  # a PDF from another producer (pdfium)
    other.new_page(595, 842).close()
    out = BytesIO()
    other.save(out)
    other.close()
    _left_to_pyhanko(out.getvalue(), signer, pki)


def _left_to_pyhanko(pdf: bytes, signer: DocumentSigner, pki: TestPKI) -> None:
    """The direct path refuses ``pdf``; signing it still works, through pyHanko."""
    assert fast_sign_pdf(pdf, signer, when=WHEN) is None
    signed = sign_pdf(pdf, signer, signing_time=WHEN)
    assert not _fast(signed)
    (status,) = _pyhanko_status(signed, pki)
    assert status.intact
    assert status.valid


def test_a_signer_whose_attributes_vary_beyond_the_digest_is_left_to_pyhanko(
    invoice_docs: InvoiceDocs, pki: TestPKI
) -> None:
    signer = signer_from_files(key_pem=pki.ec_key, cert_pem=pki.ec_cert, chain_pem=pki.interm_pem)
    # CAdES (not PAdES) attributes carry signing-time: a template cannot be reused.
    signer.signer.signed_attr_prov_spec = CAdESSignedAttributeProviderSpec(
        attr_settings=PdfCMSSignedAttributes(),
        signing_cert=signer.signer.signing_cert,
        is_pades=False,
        timestamper=None,
    )
    assert fast_sign_pdf(invoice_docs.pdf, signer, when=WHEN) is None
    pdf = sign_pdf(invoice_docs.pdf, signer, signing_time=WHEN)
    assert not _fast(pdf)


def test_a_duplicate_attachment_name_is_refused(
    invoice_docs: InvoiceDocs, rsa_ctx: Context
) -> None:
    signer = load_signer(rsa_ctx.settings)
    with pytest.raises(DocumentError, match=r"invoice\.xml"):
        sign_pdf(
            invoice_docs.pdf,
            signer,
            signing_time=WHEN,
            embedded_xml=b"<a/>",
            attachments=[("invoice.xml", "text/xml", b"<b/>", "Data")],
        )


@pytest.fixture(scope="module")
def rsa_signed(pki: TestPKI, invoice_docs: InvoiceDocs) -> bytes:
    signer = signer_from_files(
        pkcs12_path=pki.rsa_p12, password=P12_PASSWORD.encode(), chain_pem=pki.interm_pem
    )
    xml = sign_invoice_xml(invoice_docs.xml, signer, signing_time=WHEN)
    pdf = sign_pdf(
        invoice_docs.pdf, signer, signing_time=WHEN, box=invoice_docs.box, embedded_xml=xml
    )
    assert _fast(pdf)
    return pdf


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.floats(0, 1, exclude_max=True), delta=st.integers(1, 255))
def test_any_changed_byte_of_a_direct_signature_is_detected(
    pki: TestPKI, rsa_signed: bytes, tmp_path: Path, where: float, delta: int
) -> None:
    (emb,) = PdfFileReader(BytesIO(rsa_signed)).embedded_regular_signatures
    _a, b, c, d = (int(v) for v in emb.sig_object["/ByteRange"])
    offset = int(where * (b + d))
    position = offset if offset < b else c + (offset - b)
    tampered = bytearray(rsa_signed)
    tampered[position] = (tampered[position] + delta) % 256
    report = verify(bytes(tampered), ctx=Context(settings=pki.settings(tmp_path / "data")))
    assert not report.ok, position


def test_a_revision_appended_to_a_direct_signature_is_reported(
    pki: TestPKI, rsa_signed: bytes, tmp_path: Path
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(rsa_signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(180)
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)
    report = verify(out.getvalue(), ctx=Context(settings=pki.settings(tmp_path / "data")))
    assert not report.ok
    (status,) = report.signatures
    assert status.intact
    assert status.modified_after_signing is True


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_input_never_crashes_the_direct_path(
    invoice_docs: InvoiceDocs, pki: TestPKI, data: st.DataObject
) -> None:
    signer = _module_signer(pki)
    pdf = invoice_docs.pdf
    cut = data.draw(st.integers(0, len(pdf)))
    junk = data.draw(st.binary(max_size=64))
    mode = data.draw(st.sampled_from(["truncate", "insert", "tail"]))
    if mode == "truncate":
        damaged = pdf[:cut]
    elif mode == "insert":
        damaged = pdf[:cut] + junk + pdf[cut:]
    else:
        damaged = pdf[: len(pdf) - 300] + junk + pdf[len(pdf) - 300 :]
    try:
        out = fast_sign_pdf(damaged, signer, when=WHEN)
    except DocumentError:
        return
    if out is not None:  # accepted: then it must be a valid signature over the input
        (status,) = _pyhanko_status(out, pki)
        assert status.intact
        assert status.valid


_SIGNERS: dict[str, DocumentSigner] = {}


def _module_signer(pki: TestPKI) -> DocumentSigner:
    key = str(pki.dir)
    if key not in _SIGNERS:
        _SIGNERS[key] = signer_from_files(
            key_pem=pki.ec_key, cert_pem=pki.ec_cert, chain_pem=pki.interm_pem
        )
    return _SIGNERS[key]


# -- which files the direct path takes: our writer's (its marker), reportlab's, nothing else.


def _font_programs(pdf: bytes) -> list[bytes]:
    reader = PdfFileReader(BytesIO(pdf))
    fonts = reader.root["/Pages"]["/Kids"][0].get_object()["/Resources"]["/Font"]
    return [
        fonts[name].get_object()["/FontDescriptor"]["/FontFile2"].get_object().data
        for name in sorted(fonts)
    ]


def test_our_writers_marker_and_nothing_else_opens_the_direct_path(
    invoice_docs: InvoiceDocs, pki: TestPKI
) -> None:
    signer = _module_signer(pki)
    pdf = invoice_docs.pdf
    assert MARKER in pdf[:256]
    assert fast_sign_pdf(pdf, signer, when=WHEN) is not None
    # The same bytes without the marker (a comment of the same length) are not ours.
    _left_to_pyhanko(pdf.replace(MARKER, b"%" + b" " * (len(MARKER) - 1), 1), signer, pki)


def test_reportlab_pdfs_still_take_the_direct_path(pki: TestPKI, tmp_path: Path, nss: str) -> None:
    """The contracts are drawn by reportlab: one revision, a classic xref table."""
    buffer = BytesIO()
    page = Canvas(buffer, pagesize=A4, invariant=1)
    page.drawString(72, 720, "Hợp đồng")
    page.showPage()
    page.save()
    signer = _module_signer(pki)
    out = fast_sign_pdf(buffer.getvalue(), signer, when=WHEN)
    assert out is not None
    path = tmp_path / "contract.pdf"
    path.write_bytes(out)
    assert "Signature is Valid." in pdfsig(path, nss)
    # A visible stamp on it brings its own font: reportlab's page fonts are not ours.
    box = type("Box", (), {"page": 0, "rect": (300, 700, 476, 762)})()
    stamped = _stamp_sign(buffer.getvalue(), pki, box, "Ký bởi: Công ty Điện lực")
    assert stamped[len(buffer.getvalue()) :].count(b"/FontFile2") == 1
    path.write_bytes(stamped)
    assert "Signature is Valid." in pdfsig(path, nss)


@pytest.mark.parametrize("where", ["first entry", "last entry", "trailer"])
def test_bytes_inserted_into_the_xref_table_or_trailer_leave_it_to_pyhanko(
    invoice_docs: InvoiceDocs, pki: TestPKI, where: str
) -> None:
    pdf = invoice_docs.pdf
    xref = pdf.rindex(b"xref\n0 ")
    trailer = pdf.rindex(b"trailer")
    at = {
        "first entry": pdf.index(b"\n", xref + 5) + 1 + 20,
        "last entry": trailer - 10,
        "trailer": pdf.index(b"/Root", trailer),
    }[where]
    damaged = pdf[:at] + b"\x00\x00" + pdf[at:]
    assert fast_sign_pdf(damaged, _module_signer(pki), when=WHEN) is None


def test_different_customers_share_the_font_subsets_and_odd_letters_still_print() -> None:
    first = make_invoice(1)
    second_draft = make_invoice(2).draft.model_copy(
        update={
            "buyer": make_invoice(2).draft.buyer.model_copy(
                update={"person_name": "Ỹ Ửng Ặc Øster Ωmega"}  # Ø and Ω are not in the subsets
            )
        }
    )
    second = make_invoice(2).model_copy(update={"draft": second_draft})
    one = render_invoice_pdf(first).pdf
    two = render_invoice_pdf(second).pdf
    # The three fixed subsets are the same bytes; Ø and Ω get a small subset of their own.
    assert len(set(_font_programs(one))) == 3
    assert set(_font_programs(one)) < set(_font_programs(two))
    assert len(_font_programs(two)) == 4
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=two, capture_output=True, check=True
    ).stdout.decode()
    assert "Ỹ Ửng Ặc Øster Ωmega" in text
    assert (
        "Nguyễn Thị Ánh Tuyết"
        in subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=one, capture_output=True, check=True
        ).stdout.decode()
    )
