"""Signing cost per invoice, XML and PDF: ours against stock pyHanko usage, in the same run.

Ours: ``load_signer`` once (the key parsed once, ``LoadedKeySigner``), a fixed
``bytes_reserved`` (pyHanko signs once), the signed XML attached and the
visible stamp drawn.

Stock: what a straightforward pyHanko integration does per invoice: load the
PKCS#12 file, then ``signers.sign_pdf`` with ``PdfSignatureMetadata`` and a
visible field (pyHanko's default stamp), no ``bytes_reserved`` (so pyHanko does
a dry-run signature to size the CMS blob), the XML attached with
``embed_file``; stock ``SimpleSigner.sign_raw`` re-parses the private key on
each signature. The XML baseline is the same XMLDSig code fed by a stock
``SimpleSigner`` loaded from the PKCS#12 file per invoice.

Run:  .venv/bin/python bench/bench_signing.py [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from evservice.config import Settings
from evservice.invoices import Invoice, InvoiceDraft, invoice_to_xml, render_invoice_pdf
from evservice.signing import (
    DocumentSigner,
    init_dev_keys,
    sign_invoice_xml,
    sign_pdf,
    signer_from_files,
)

PASSWORD = b"bench"


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
                {
                    "name": f"Điện sinh hoạt bậc {i}",
                    "unit": "kWh",
                    "quantity": "50",
                    "unit_price": "2050",
                    "vat_rate": "8%",
                }
                for i in range(1, 7)
            ],
        }
    )
    return Invoice(
        id=uuid.uuid4(),
        draft=draft,
        number=1,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, 3, 0, tzinfo=UTC),
    )


def _time(fn: Callable[[], object], n: int) -> float:
    """Median seconds per call over ``n`` calls (after one warm-up)."""
    fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


class _StockXmlSigner:
    """Feeds our XMLDSig code from a stock pyHanko SimpleSigner (key re-parsed per signature)."""

    def __init__(self, p12: Path, template: DocumentSigner) -> None:
        self.stock = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSWORD)
        self.certificate = template.certificate
        self.chain = template.chain
        self.xml_signature_method = template.xml_signature_method
        self.xml_key_info = template.xml_key_info

    def raw_sign(self, data: bytes) -> bytes:
        return bytes(asyncio.run(self.stock.async_sign_raw(data, "sha256")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20, help="invoices per measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        paths, _ = init_dev_keys(settings)
        key = serialization.load_pem_private_key(paths.signer_key.read_bytes(), None)
        cert = signer_from_files(key_pem=paths.signer_key, cert_pem=paths.signer_cert).certificate
        p12 = Path(tmp) / "signer.p12"
        p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"bench",
                key,  # type: ignore[arg-type]
                cert,
                None,
                serialization.BestAvailableEncryption(PASSWORD),
            )
        )
        ours = signer_from_files(pkcs12_path=p12, password=PASSWORD)
        invoice = _invoice()
        rendered = render_invoice_pdf(invoice)
        xml = invoice_to_xml(invoice)
        now = datetime.now(UTC)
        signed_xml = sign_invoice_xml(xml, ours, signing_time=now)
        box = rendered.signature_box

        def our_xml() -> bytes:
            return sign_invoice_xml(xml, ours, signing_time=now)

        def stock_xml() -> bytes:
            stock = _StockXmlSigner(p12, ours)
            return sign_invoice_xml(xml, stock, signing_time=now)  # type: ignore[arg-type]

        def our_pdf() -> bytes:
            return sign_pdf(rendered.pdf, ours, signing_time=now, box=box, embedded_xml=signed_xml)

        def stock_pdf() -> bytes:
            signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSWORD)
            writer = IncrementalPdfFileWriter(BytesIO(rendered.pdf))
            embed_file(
                writer,
                FileSpec(
                    file_spec_string="invoice.xml",
                    embedded_data=EmbeddedFileObject.from_file_data(writer, signed_xml),
                    af_relationship=generic.pdf_name("/Source"),
                ),
            )
            meta = signers.PdfSignatureMetadata(
                field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES
            )
            spec = fields.SigFieldSpec(
                "Signature1", on_page=box.page, box=tuple(map(int, box.rect))
            )
            out = signers.sign_pdf(writer, meta, signer=signer, new_field_spec=spec)
            return bytes(out.getvalue())

        # one run of each first, so that a broken variant fails loudly before timing
        for fn in (our_xml, stock_xml, our_pdf, stock_pdf):
            fn()
        t_our_xml = _time(our_xml, args.n)
        t_stock_xml = _time(stock_xml, args.n)
        t_our_pdf = _time(our_pdf, args.n)
        t_stock_pdf = _time(stock_pdf, args.n)

    cmd = f".venv/bin/python bench/bench_signing.py --n {args.n}"
    print(f"signing cost per invoice (median of {args.n}, RSA-2048, PAdES B-B)")
    print(f"  XML  ours {t_our_xml * 1000:8.2f} ms   stock {t_stock_xml * 1000:8.2f} ms   "
          f"stock/ours = {t_stock_xml / t_our_xml:5.1f}x")  # fmt: skip
    print(f"  PDF  ours {t_our_pdf * 1000:8.2f} ms   stock {t_stock_pdf * 1000:8.2f} ms   "
          f"stock/ours = {t_stock_pdf / t_our_pdf:5.1f}x")  # fmt: skip
    print(f"  reproduce: {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
