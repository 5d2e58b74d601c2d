"""What an invoice's XML and PDF cost per document in the monthly batch.

For a typical residential electricity bill (four tiers, a fee, a note) and for
a 200-line invoice: writing the tax-authority XML, parsing it back, and
rendering the A4 PDF, without and with the payment QR code (the batch draws
it, with the payee lines and the lookup URL). Figures are medians of single
calls (the machine may be shared: the median ignores the disturbed calls).
Baselines measured in the same run on the same machine:

* XML: lxml parsing and re-serialising the very same bytes (the floor any
  lxml-based writer/parser pays);
* PDF: the very same page (same layout code, same positions, same fonts,
  compressed streams) drawn on a plain reportlab canvas, which is how the
  invoice was rendered before our own writer (evservice.pdf._write).

Then the signed bill as the batch makes it (``render_documents``: XML,
XMLDSig, PDF, PAdES with the development signer): the median time and the
file's size, its parts (each font program, the page content, the attached
XML, the CMS), against the same page drawn on reportlab's canvas and signed
the same way (reportlab's subsets keep TrueType hinting, and the stamp then
embeds a font of its own).

Run:  .venv/bin/python bench/bench_invoice_documents.py [--count 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from evservice import Context, Settings
from evservice.clock import ManualClock
from evservice.invoices import (
    Invoice,
    InvoiceDraft,
    invoice_to_xml,
    parse_invoice_xml,
    render_documents,
    render_invoice_pdf,
)
from evservice.invoices._pdf import draw_invoice
from evservice.invoices._pdfpen import SIZE
from evservice.payments import payment_lines, vietqr_for_invoice
from evservice.pdf import register_fonts
from evservice.signing import load_signer, sign_invoice_xml, sign_pdf

COMMAND = ".venv/bin/python bench/bench_invoice_documents.py"


def _invoice(lines: int) -> Invoice:
    items: list[dict[str, Any]] = [
        {
            "name": "Điện sinh hoạt bậc 1 (0 - 50 kWh)",
            "unit": "kWh",
            "quantity": "50",
            "unit_price": "1984",
            "vat_rate": "8%",
        },
        {
            "name": "Điện sinh hoạt bậc 2 (51 - 100 kWh)",
            "unit": "kWh",
            "quantity": "50",
            "unit_price": "2050",
            "vat_rate": "8%",
        },
        {
            "name": "Điện sinh hoạt bậc 3 (101 - 200 kWh)",
            "unit": "kWh",
            "quantity": "100",
            "unit_price": "2380",
            "vat_rate": "8%",
        },
        {
            "name": "Điện sinh hoạt bậc 4 (201 - 300 kWh)",
            "unit": "kWh",
            "quantity": "37",
            "unit_price": "2998",
            "vat_rate": "8%",
        },
        {"name": "Phí dịch vụ thu hộ", "amount": "10000", "vat_rate": "KCT"},
        {"kind": 4, "name": "Kỳ hóa đơn tháng 10/2026: chỉ số cũ 12.345, chỉ số mới 12.582"},
    ]
    items += [
        {
            "name": f"Dịch vụ giá trị gia tăng số {i}",
            "unit": "Gói",
            "quantity": "1",
            "unit_price": "12500",
            "vat_rate": "10%",
        }
        for i in range(max(0, lines - len(items)))
    ]
    draft = InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": date(2026, 10, 31),
            "seller": {
                "name": "Tổng công ty Điện lực miền Bắc - Công ty Điện lực Hải Dương",
                "tax_code": "0100100079",
                "address": "Số 33 Đại lộ Hồ Chí Minh, phường Nguyễn Trãi, thành phố Hải Dương",
            },
            "buyer": {
                "person_name": "Nguyễn Thị Ánh Tuyết",
                "customer_code": "PA01000001",
                "address": "Số 1 Ngõ 2 Phố Đông Hải, phường Đống Đa, Hải Dương",
            },
            "lines": items[:lines],
            "payment": {
                "bank_bin": "970436",
                "account": "0011004000000",
                "account_name": "EVN NPC",
            },
        }
    )
    return Invoice(
        id=uuid.uuid4(),
        draft=draft,
        number=123,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, 3, tzinfo=UTC),
    )


def qr_arguments(invoice: Invoice) -> dict[str, Any]:
    """What the batch passes with the payment code (see invoices._documents.render_documents)."""
    payee = invoice.draft.payment
    assert payee is not None
    code = vietqr_for_invoice(
        payee, invoice.totals.payable, series=invoice.draft.series, number=invoice.number
    )
    return {
        "qr_payload": code.payload(),
        "qr_lines": payment_lines(code, payee.account_name),
        "lookup_url": "https://tracuu.evservice.example/",
    }


def reportlab_pdf(invoice: Invoice, **extra: Any) -> bytes:
    """The same page drawn on a plain reportlab canvas: the baseline.

    tests/pdf/test_write.py checks that it has every position and word of ours.
    """
    fonts = register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=A4,
        pageCompression=1,
        invariant=1,
        lang="vi-VN",
        initialFontName=fonts.regular,
        initialFontSize=SIZE,
    )
    draw_invoice(canvas, invoice, **extra)
    canvas.save()
    return buffer.getvalue()


def _per_item(run: Callable[[], object], count: int, repeat: int) -> float:
    """Median seconds of one call, over ``count * repeat`` calls (after a few warm-up calls)."""
    for _ in range(3):
        run()
    times = []
    for _ in range(count * repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _parts(pdf: bytes) -> list[tuple[str, int]]:
    """What the signed file holds, with the stored (compressed) size of each part in bytes."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    parts: list[tuple[str, int]] = []
    seen: set[int] = set()

    def fonts(resources: Any, where: str) -> None:
        listed = resources.get("/Font")
        if listed is None:
            return
        listed = listed.get_object()  # reportlab's is an indirect object
        for name in sorted(listed):
            ref = listed.raw_get(name)
            if ref.idnum in seen:
                parts.append((f"{where} font {name} (the page's)", 0))
                continue
            seen.add(ref.idnum)
            font = ref.get_object()
            program = font["/FontDescriptor"]["/FontFile2"].get_object()
            unicode = font["/ToUnicode"].get_object()
            base = str(font["/BaseFont"]).lstrip("/")
            parts.append((f"{where} font {base}", len(program.encoded_data)))
            parts.append((f"{where} {base} ToUnicode", len(unicode.encoded_data)))

    for page in reader.root["/Pages"]["/Kids"]:
        page = page.get_object()
        parts.append(("page content", len(page["/Contents"].get_object().encoded_data)))
        fonts(page["/Resources"], "page")
        for annot in page.get("/Annots", []):
            form = annot.get_object()["/AP"]["/N"].get_object()
            parts.append(("stamp appearance", len(form.encoded_data)))
            fonts(form["/Resources"], "stamp")
            cms = annot.get_object()["/V"].raw_get("/Contents")
            parts.append(("CMS (hex, with its reserved space)", 2 * len(bytes(cms)) + 2))
    for spec in reader.root.get("/AF", []):
        embedded = spec.get_object()["/EF"]["/F"].get_object()
        parts.append(("attached XML", len(embedded.encoded_data)))
    return parts


def signed_bill(count: int, repeat: int) -> None:
    """render_documents for the bill, against reportlab's canvas signed the same way."""
    invoice = _invoice(6)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        ctx = Context(settings=settings, clock=ManualClock(datetime(2026, 10, 31, 3, tzinfo=UTC)))
        ours = _per_item(lambda: render_documents(invoice, ctx), count, repeat)
        _, pdf = render_documents(invoice, ctx)
        signer = load_signer(settings)
        rendered = render_invoice_pdf(invoice, **qr_arguments(invoice))

        def baseline() -> bytes:
            xml = sign_invoice_xml(invoice_to_xml(invoice), signer, signing_time=ctx.clock.now())
            return sign_pdf(
                reportlab_pdf(invoice, **qr_arguments(invoice)),
                signer,
                signing_time=ctx.clock.now(),
                box=rendered.signature_box,
                embedded_xml=xml,
                xml_filename="invoice.xml",
            )

        theirs = _per_item(baseline, count, repeat)
        base_pdf = baseline()
    print(f"\nsigned bill (render_documents: XML + XMLDSig + PDF + PAdES, {len(pdf)} bytes):")
    print(
        f"  documents   {ours * 1e3:8.3f} ms  ({1 / ours:8.0f}/s)"
        f"  = {ours / theirs:5.2f} x the same page on reportlab's canvas, signed"
        f" ({theirs * 1e3:.3f} ms)"
    )
    print(
        f"  our signed PDF: {len(pdf) / 1024:.1f} KiB; reportlab's canvas signed the same way:"
        f" {len(base_pdf) / 1024:.1f} KiB"
    )
    for label, data in (("ours", pdf), ("reportlab's", base_pdf)):
        print(f"  {label}, its parts in bytes (compressed):")
        for kind, length in _parts(data):
            print(f"    {kind:58s} {length:7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="documents per timing")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    register_fonts()
    print(f"command: {COMMAND} --count {args.count} --repeat {args.repeat}")
    for lines in (6, 200):
        invoice = _invoice(lines)
        xml = invoice_to_xml(invoice)
        count = args.count if lines < 50 else max(1, args.count // 10)
        write = _per_item(lambda inv=invoice: invoice_to_xml(inv), count, args.repeat)
        read = _per_item(lambda data=xml: parse_invoice_xml(data), count, args.repeat)
        lxml_floor = _per_item(
            lambda data=xml: etree.tostring(etree.fromstring(data)), count, args.repeat
        )
        pdf = _per_item(lambda inv=invoice: render_invoice_pdf(inv), count, args.repeat)
        pdf_base = _per_item(lambda inv=invoice: reportlab_pdf(inv), count, args.repeat)
        extra = qr_arguments(invoice)
        qr = _per_item(lambda i=invoice, kw=extra: render_invoice_pdf(i, **kw), count, args.repeat)
        qr_base = _per_item(lambda i=invoice, kw=extra: reportlab_pdf(i, **kw), count, args.repeat)
        rendered = render_invoice_pdf(invoice, **extra)
        size, base_size = len(rendered.pdf), len(reportlab_pdf(invoice, **extra))
        print(f"\n{lines} lines ({len(xml)} bytes of XML, {rendered.page_count} PDF page(s)):")
        print(
            f"  XML write   {write * 1e3:8.3f} ms  ({1 / write:8.0f}/s)"
            f"  = {write / lxml_floor:5.1f} x lxml parse+serialise ({lxml_floor * 1e3:.3f} ms)"
        )
        print(
            f"  XML parse   {read * 1e3:8.3f} ms  ({1 / read:8.0f}/s)"
            f"  = {read / lxml_floor:5.1f} x lxml parse+serialise"
        )
        print(
            f"  PDF render  {pdf * 1e3:8.3f} ms  ({1 / pdf:8.0f}/s)"
            f"  = {pdf / pdf_base:5.2f} x the same page on reportlab's canvas"
            f" ({pdf_base * 1e3:.3f} ms)"
        )
        print(
            f"  PDF + QR    {qr * 1e3:8.3f} ms  ({1 / qr:8.0f}/s)"
            f"  = {qr / qr_base:5.2f} x the same page on reportlab's canvas"
            f" ({qr_base * 1e3:.3f} ms); {size} bytes against {base_size}"
        )
    signed_bill(args.count, args.repeat)


if __name__ == "__main__":
    main()
