"""The monthly batch's signed-invoice pipeline: throughput, baselines, memory and scaling.

"Ours" is :func:`evservice.batch.run_batch` itself, on demo input
(``write_demo_csv``), exactly as ``evservice invoices batch`` runs it: the
validation pass, then chunks on worker processes (fonts and key loaded once per
worker), each chunk numbered in one transaction with its ``invoice.issued``
events, every invoice's tax-authority XML signed (XMLDSig), its A4 PDF drawn
with the VietQR code and PAdES-signed with the signed XML attached, the
documents stored a hundred at a time (one flush to disk, one transaction with
the ``invoice.signed`` events), anomalies checked, an audit checkpoint at the
end. A fresh SQLite store (or PostgreSQL with ``--postgres``) per run, with the
development key.

Figures printed (all from this run, on this machine):

1. where one invoice's time goes, step by step, in one process (the chunked
   steps divided by the chunk's size);
2. the whole pipeline in one process against two baselines on ``--baseline``
   rows: (a) the obvious build -- one transaction and one fsynced file pair per
   invoice, reportlab platypus layout, a ``qrcode`` PNG, stock pyHanko signing
   with an RSA key loaded from PKCS#12 per call (``SimpleSigner.load_pkcs12`` +
   ``signers.sign_pdf``); (b) WeasyPrint HTML -> PDF, then the same stock
   pyHanko signing. The baselines number, store and audit each invoice through
   our public one-invoice API, so the ratios compare whole pipelines; the
   document part alone is compared too;
3. ``run_batch`` over ``--invoices`` rows with each worker count of
   ``--workers``: invoices/s (wall clock, the whole run), CPU ms per invoice of
   the workers, and peak RSS per worker (sampled with psutil);
4. with ``--memory N``: one worker over N rows, peak RSS and RSS at 10 % and at
   the end, against the peak at ``--invoices`` rows;
5. scaling: invoices/s with each worker count against one worker.

``--data-dir`` puts the stores and documents in a folder of your choice (default:
the system's temporary folder); creating files costs very different amounts on
different filesystems, so the folder is printed.

Needs the ``bench`` extra for the baselines: ``pip install -e '.[bench]'``.

Run:  .venv/bin/python bench/bench_batch.py --invoices 2000 [--memory 20000] [--workers 1,2]
      [--baseline 100] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
      [--data-dir DIR]

On a shared machine compare the ratios, which come from the same run, rather
than absolute rates; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from evservice._context import Context
from evservice.batch import (
    BatchOptions,
    BatchPeriod,
    MeterRow,
    Rejection,
    SubscriptionRow,
    read_batch_csv,
    run_batch,
    write_demo_csv,
)
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import (
    Buyer,
    Invoice,
    InvoiceDraft,
    bill_subscription,
    invoice_to_xml,
    load_tariffs,
    price_reading,
    record_invoice,
    record_invoices,
    render_documents,
    render_invoice_pdf,
)
from evservice.invoices._documents import (
    _payment_lines,
    payment_code,
    store_documents,
    store_many_documents,
)
from evservice.money import format_vnd
from evservice.signing import load_signer, sign_invoice_xml, sign_pdf
from evservice.vn import amount_in_words

COMMAND = ".venv/bin/python bench/bench_batch.py"
PERIOD = BatchPeriod(2026, 10)
ISSUE_DATE = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
PASSWORD = b"bench"
CHUNK = 100  # the batch's default chunk size
SELLER = {
    "name": "Tổng công ty Điện lực TP Hà Nội - Công ty Điện lực Hoàn Kiếm",
    "tax_code": "0100101114",
    "address": "Số 69 Đinh Tiên Hoàng, phường Hoàn Kiếm, Hà Nội",
    "phone": "19001288",
    "bank_account": "0011001234567",
    "bank_name": "Vietcombank",
}
Row = MeterRow | SubscriptionRow


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url or f"sqlite:///{data_dir / 'store.db'}",
        seller_name=SELLER["name"],
        seller_tax_code=SELLER["tax_code"],
        seller_address=SELLER["address"],
        seller_phone=SELLER["phone"],
        payee_bank_bin="970436",
        payee_account="0011001234567",
        payee_name="TONG CONG TY DIEN LUC TP HA NOI",
        _env_file=None,  # type: ignore[call-arg]
    )


# -- the invoice of one row (stages and baselines) -------------------------------------

_TARIFFS: dict[str, Any] = {}


def _draft(row: Row) -> InvoiceDraft:
    """Price ``row`` and make its draft (meters by tier, subscriptions by the day)."""
    tariffs = _TARIFFS.get("book")
    if tariffs is None:
        tariffs = _TARIFFS["book"] = load_tariffs(None)
    buyer: dict[str, Any] = {"address": row.address, "customer_code": row.customer_id}
    if row.tax_code:
        buyer |= {"name": row.name, "tax_code": row.tax_code}
    else:
        buyer["person_name"] = row.name
    if isinstance(row, MeterRow):
        reading = {
            "meter_id": row.meter_id,
            "period_start": row.period_start,
            "period_end": row.period_end,
            "kwh": row.kwh,
            "households": row.households,
        }
        lines = list(price_reading(reading, tariff_code=row.tariff_code, tariffs=tariffs).lines)
        key = f"meter:{row.meter_id}"
    else:
        plan = {
            "code": row.plan_code,
            "name": row.plan_name,
            "monthly_fee": row.monthly_fee,
            "vat_rate": row.vat_rate,
        }
        lines = [bill_subscription(plan, row.period_start, row.period_end)]
        key = f"plan:{row.plan_code}"
    return InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": ISSUE_DATE,
            "seller": SELLER,
            "buyer": Buyer.model_validate(buyer),
            "lines": lines,
            "reference": f"bench:{PERIOD}:{row.customer_id}:{key}",
        }
    )


def _input(path: Path, count: int, seed: int) -> tuple[Path, list[Row]]:
    write_demo_csv(path, customers=count, period=PERIOD, seed=seed)
    rows = [r for r in read_batch_csv(path, PERIOD) if not isinstance(r, Rejection)]
    return path, rows


# -- run_batch with its workers watched --------------------------------------------------


@dataclass
class _Watch:
    """Peak RSS and CPU time of every process below this one, sampled by a thread."""

    interval: float = 0.1
    peak_kb: dict[int, int] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    rss_kb: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                with child.oneshot():
                    # Pool workers are forked from the fork server: their parent is not
                    # this process (the fork server and the resource tracker are ours).
                    if child.ppid() == os.getpid():
                        continue
                    times = child.cpu_times()
                    rss = child.memory_info().rss // 1024
                    peak = self._peak_kb(child.pid) or rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if not rss:
                continue  # exiting: its last figures stand
            self.cpu[child.pid] = times.user + times.system
            self.rss_kb[child.pid] = rss
            self.peak_kb[child.pid] = max(self.peak_kb.get(child.pid, 0), peak)

    @staticmethod
    def _peak_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    @contextlib.contextmanager
    def watching(self) -> Iterator[_Watch]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


@dataclass
class RunResult:
    workers: int
    invoices: int
    wall: float
    cpu: float  # the workers' CPU seconds
    peak_rss_kb: dict[int, int]
    rss_at_10: dict[int, int]
    rss_at_end: dict[int, int]

    @property
    def rate(self) -> float:
        return self.invoices / self.wall


@contextlib.contextmanager
def _database(admin_url: str | None, label: str) -> Iterator[str | None]:
    """None (SQLite in the data folder), or a fresh PostgreSQL database dropped afterwards."""
    if admin_url is None:
        yield None
        return
    import sqlalchemy as sa

    from evservice.store import _engine

    name = f"evs_bench_{label}_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        for key in [k for k in _engine._engines if k[1] == url]:
            _engine._engines.pop(key).dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _batch(
    csv: Path, rows: int, workers: int, base: Path, label: str, postgres: str | None = None
) -> RunResult:
    """``run_batch`` on ``csv`` with ``workers`` processes, in a fresh store; watched."""
    data_dir = base / label
    data_dir.mkdir(parents=True)
    with _database(postgres, label) as url:
        ctx = Context(settings=_settings(data_dir, url), clock=ManualClock(NOW))
        watch = _Watch()
        at_10: dict[int, int] = {}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase == "issue" and total and not at_10 and done >= total // 10:
                watch.sample()
                at_10.update(watch.rss_kb)

        options = BatchOptions(
            workers=workers, issue_date=ISSUE_DATE, series="C26TAA", progress=progress
        )
        with watch.watching():
            summary = run_batch(csv, PERIOD, ctx=ctx, options=options)
        assert summary.issued == rows, (summary.issued, summary.rejected)
        ctx.engine.dispose()
    workers_seen = {pid for pid in watch.cpu if pid in at_10} or set(watch.cpu)
    return RunResult(
        workers=workers,
        invoices=summary.issued,
        wall=summary.elapsed_seconds,
        cpu=sum(watch.cpu[p] for p in workers_seen),
        peak_rss_kb={p: watch.peak_kb[p] for p in workers_seen},
        rss_at_10={p: at_10.get(p, 0) for p in workers_seen},
        rss_at_end={p: watch.rss_kb[p] for p in workers_seen},
    )


# -- stages in one process --------------------------------------------------------------


def _stages(rows: Sequence[Row], base: Path) -> dict[str, float]:
    """ms per invoice and step in this process, as the batch runs them (after a warm-up)."""
    data_dir = base / "stages"
    ctx = Context(settings=_settings(data_dir), clock=ManualClock(NOW))
    signer = load_signer(ctx.settings)
    render_documents(record_invoice(_draft(rows[0]), ctx=ctx).invoice, ctx)  # warm up
    rows = rows[1:]
    times: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], Any], per: int = 1) -> Any:
        start = time.perf_counter()
        out = fn()
        times.setdefault(name, []).append((time.perf_counter() - start) * 1e3 / per)
        return out

    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        drafts = [timed("price + draft", lambda row=row: _draft(row)) for row in chunk]
        issued = timed(
            f"record_invoices ({CHUNK} per transaction)",
            lambda d=drafts: record_invoices(d, ctx=ctx),  # type: ignore[misc]
            len(drafts),
        )
        documents = []
        for one in issued:
            invoice = one.invoice
            xml = timed("XML", lambda i=invoice: invoice_to_xml(i))
            signed = timed("XMLDSig", lambda x=xml: sign_invoice_xml(x, signer, signing_time=NOW))
            code = payment_code(invoice, ctx)  # None when nothing is payable (credit)
            payload = None if code is None else code.payload()
            lines = [] if code is None else _payment_lines(code, invoice, ctx)
            rendered = timed(
                "PDF render (with QR)",
                lambda i=invoice, p=payload, q=lines: render_invoice_pdf(
                    i, qr_payload=p, qr_lines=q
                ),
            )
            pdf = timed(
                "PAdES",
                lambda r=rendered, s=signed, i=invoice: sign_pdf(
                    r.pdf, signer, signing_time=NOW, box=r.signature_box, embedded_xml=s,
                    xml_filename=f"{i.label}.xml", reason=f"Hóa đơn {i.label}",
                ),
            )  # fmt: skip
            documents.append((one, signed, pdf))
        timed(
            f"store_many_documents ({CHUNK} at once)",
            lambda d=documents: store_many_documents(d, ctx=ctx),  # type: ignore[misc]
            len(documents),
        )
    ctx.engine.dispose()
    # Chunked steps: the median over chunks (each already divided by its size).
    return {name: statistics.median(values) for name, values in times.items()}


# -- baselines --------------------------------------------------------------------------


class _Baseline:
    """The same invoices, stored and audited the same way, with the obvious document build."""

    def __init__(self, base: Path, kind: str) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        from evservice.signing import dev_key_paths, init_dev_keys

        self.kind = kind
        self.ctx = Context(settings=_settings(base / f"baseline-{kind}"), clock=ManualClock(NOW))
        init_dev_keys(self.ctx.settings)
        paths = dev_key_paths(self.ctx.settings)
        ours = load_signer(self.ctx.settings)
        key = serialization.load_pem_private_key(paths.signer_key.read_bytes(), None)
        self.p12 = base / f"baseline-{kind}.p12"
        self.p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"bench", key, ours.certificate, list(ours.chain),  # type: ignore[arg-type]
                serialization.BestAvailableEncryption(PASSWORD),
            )
        )  # fmt: skip
        self.signer = ours  # XML signing is the same code in every pipeline

    def documents(self, invoice: Invoice) -> tuple[bytes, bytes]:
        xml = sign_invoice_xml(invoice_to_xml(invoice), self.signer, signing_time=NOW)
        code = payment_code(invoice, self.ctx)  # None when nothing is payable (credit)
        payload = None if code is None else code.payload()
        if self.kind == "a":
            pdf, box = _platypus_pdf(invoice, payload)
        else:
            pdf, box = _weasyprint_pdf(invoice, payload)
        return xml, _stock_sign(pdf, box, xml, invoice.label, self.p12)

    def issue(self, row: Row) -> None:
        issued = record_invoice(_draft(row), ctx=self.ctx)
        xml, pdf = self.documents(issued.invoice)
        store_documents(issued, xml, pdf, ctx=self.ctx)


def _stock_sign(
    pdf: bytes, box: tuple[int, int, int, int], xml: bytes, label: str, p12: Path
) -> bytes:
    """Stock pyHanko: the PKCS#12 loaded per call, XML embedded, default stamp, no size hint."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSWORD)
    assert signer is not None
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    embed_file(
        writer,
        FileSpec(
            file_spec_string=f"{label}.xml",
            embedded_data=EmbeddedFileObject.from_file_data(writer, xml, mime_type="text/xml"),
            af_relationship=generic.pdf_name("/Source"),
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )
    spec = fields.SigFieldSpec("Signature1", on_page=0, box=box)
    return bytes(signers.sign_pdf(writer, meta, signer=signer, new_field_spec=spec).getvalue())


def _money(value: Any) -> str:
    return format_vnd(value)


def _table_data(invoice: Invoice) -> list[list[str]]:
    rows = [
        ["STT", "Tên hàng hóa, dịch vụ", "ĐVT", "Số lượng", "Đơn giá", "Thành tiền", "Thuế suất"]
    ]
    for n, line in enumerate(invoice.draft.lines, 1):
        rows.append(
            [
                str(n),
                line.name,
                line.unit or "",
                str(line.quantity or ""),
                str(line.unit_price or ""),
                _money(line.line_amount()),
                line.vat_rate or "",
            ]
        )
    return rows


def _qr_png(payload: str | None) -> BytesIO:
    """The QR as a PNG (a blank one when nothing is payable)."""
    import qrcode
    from PIL import Image

    png = BytesIO()
    if payload is None:
        Image.new("1", (1, 1), 1).save(png, format="PNG")
    else:
        qrcode.make(payload, error_correction=qrcode.constants.ERROR_CORRECT_M).save(png)
    png.seek(0)
    return png


def _platypus_pdf(invoice: Invoice, payload: str | None) -> tuple[bytes, tuple[int, int, int, int]]:
    """Baseline (a): platypus flowables, a Table, and the QR as a qrcode PNG image."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from evservice.pdf import register_fonts

    fonts = register_fonts()
    body = ParagraphStyle("body", fontName=fonts.regular, fontSize=8.5, leading=11)
    bold = ParagraphStyle("bold", parent=body, fontName=fonts.bold)
    title = ParagraphStyle("title", parent=bold, fontSize=16, leading=20, alignment=1)
    draft = invoice.draft
    totals = invoice.totals
    png = _qr_png(payload)
    story: list[Any] = [
        Paragraph(draft.title.upper(), title),
        Paragraph(f"Ký hiệu: {draft.template}{draft.series} Số: {invoice.number:08d}", body),
        Paragraph(
            f"Ngày {draft.issue_date:%d} tháng {draft.issue_date:%m} năm {draft.issue_date:%Y}",
            body,
        ),
        Spacer(1, 6),
        Paragraph(f"Đơn vị bán hàng: {draft.seller.name}", bold),
        Paragraph(f"Mã số thuế: {draft.seller.tax_code}", body),
        Paragraph(f"Địa chỉ: {draft.seller.address}", body),
        Spacer(1, 6),
        Paragraph(f"Người mua: {draft.buyer.person_name or draft.buyer.name or ''}", bold),
        Paragraph(f"Địa chỉ: {draft.buyer.address or ''}", body),
        Spacer(1, 6),
    ]
    data = [[Paragraph(c, body) for c in row] for row in _table_data(invoice)]
    table = Table(data, colWidths=[22, 200, 40, 50, 62, 76, 48], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey)]))
    story += [
        table,
        Spacer(1, 6),
        Paragraph(f"Cộng tiền hàng: {_money(totals.before_tax)}", body),
        Paragraph(f"Tiền thuế GTGT: {_money(totals.tax)}", body),
        Paragraph(f"Tổng cộng tiền thanh toán: {_money(totals.payable)}", bold),
        Paragraph(f"Số tiền viết bằng chữ: {amount_in_words(totals.payable)}.", body),
        Spacer(1, 6),
        Table(
            [[Image(png, width=32 * mm, height=32 * mm), Spacer(62 * mm, 22 * mm)]],
            colWidths=[60 * mm, 70 * mm],
        ),
    ]
    out = BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue(), (380, 60, 556, 123)


_HTML = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 14mm }} body {{ font-family: 'DejaVu Sans'; font-size: 8.5pt }}
h1 {{ text-align: center; color: #14337f; font-size: 16pt }}
table {{ border-collapse: collapse; width: 100% }}
td, th {{ border: 0.5pt solid #aaa; padding: 2pt }} .r {{ text-align: right }}
</style></head><body>
<h1>{title}</h1><p style="text-align:center">Ký hiệu: {series} Số: {number:08d} - Ngày {day}</p>
<p><b>Đơn vị bán hàng: {seller}</b><br>Mã số thuế: {tax}<br>Địa chỉ: {seller_address}</p>
<p><b>Người mua: {buyer}</b><br>Địa chỉ: {buyer_address}</p>
<table><tr>{head}</tr>{rows}</table>
<p class="r">Cộng tiền hàng: {before}<br>Tiền thuế GTGT: {tax_amount}<br>
<b>Tổng cộng tiền thanh toán: {payable}</b></p><p>Số tiền viết bằng chữ: {words}.</p>
<img src="data:image/png;base64,{qr}" style="width:32mm;height:32mm">
</body></html>"""


def _weasyprint_pdf(
    invoice: Invoice, payload: str | None
) -> tuple[bytes, tuple[int, int, int, int]]:
    """Baseline (b): the invoice as HTML (QR as a PNG data URI), WeasyPrint to PDF."""
    from html import escape

    import weasyprint

    draft = invoice.draft
    totals = invoice.totals
    data = _table_data(invoice)
    png = _qr_png(payload)
    html = _HTML.format(
        title=escape(draft.title.upper()),
        series=f"{draft.template}{draft.series}",
        number=invoice.number,
        day=f"{draft.issue_date:%d/%m/%Y}",
        seller=escape(draft.seller.name),
        tax=draft.seller.tax_code,
        seller_address=escape(draft.seller.address),
        buyer=escape(draft.buyer.person_name or draft.buyer.name or ""),
        buyer_address=escape(draft.buyer.address or ""),
        head="".join(f"<th>{escape(c)}</th>" for c in data[0]),
        rows="".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in data[1:]
        ),
        before=_money(totals.before_tax),
        tax_amount=_money(totals.tax),
        payable=_money(totals.payable),
        words=escape(amount_in_words(totals.payable)),
        qr=base64.b64encode(png.getvalue()).decode(),
    )
    return weasyprint.HTML(string=html).write_pdf(), (380, 60, 556, 123)


def _serial(issue: Callable[[Row], None], rows: Iterable[Row]) -> tuple[float, int]:
    """Seconds and count for ``issue`` over ``rows`` in this process (first row warms up)."""
    rows = list(rows)
    issue(rows[0])
    start = time.perf_counter()
    for row in rows[1:]:
        issue(row)
    return time.perf_counter() - start, len(rows) - 1


def _ours_in_one_process(csv: Path, base: Path) -> tuple[float, int]:
    """``run_batch`` with no worker process (``workers=0``), fonts and key already loaded."""
    data_dir = base / "serial-ours"
    ctx = Context(settings=_settings(data_dir), clock=ManualClock(NOW))
    warm = _draft(next(r for r in read_batch_csv(csv, PERIOD) if not isinstance(r, Rejection)))
    render_documents(Invoice(id=uuid.uuid4(), draft=warm, number=1,
                             lookup_code="ABCD2345EFGH", issued_at=NOW), ctx)  # fmt: skip
    options = BatchOptions(workers=0, issue_date=ISSUE_DATE, series="C26TAA")
    summary = run_batch(csv, PERIOD, ctx=ctx, options=options)
    ctx.engine.dispose()
    return summary.elapsed_seconds, summary.issued


# -- main -------------------------------------------------------------------------------


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, e.g. 1,2")
    parser.add_argument("--baseline", type=int, default=100, help="rows per baseline run")
    parser.add_argument("--memory", type=int, default=0, help="also one worker over N invoices")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--data-dir", type=Path, help="where stores and documents go")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="run the worker runs on fresh PostgreSQL databases made through this URL "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) instead of SQLite",
    )
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    command = (
        f"{COMMAND} --invoices {args.invoices} --workers {args.workers} "
        f"--baseline {args.baseline}"
        + (f" --memory {args.memory}" if args.memory else "")
        + (f" --postgres {args.postgres}" if args.postgres else "")
        + (f" --data-dir {args.data_dir}" if args.data_dir else "")
    )
    print(f"command: {command}")
    print(f"cpus: {os.cpu_count()}   load average at start: {os.getloadavg()}")
    print(f"python {sys.version.split()[0]}")

    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evs-bench-batch-", dir=args.data_dir) as tmp:
        base = Path(tmp)
        print(f"data folder: {base}")
        csv, rows = _input(base / "input.csv", args.invoices, args.seed)
        print(f"demo input: {len(rows)} rows ({sum(isinstance(r, MeterRow) for r in rows)} meters)")
        sample_csv, sample = _input(base / "sample.csv", args.baseline + 1, args.seed + 2)

        stages = _stages(sample, base)
        print(f"\nper invoice, one process, {len(sample) - 1} invoices (median):")
        for name, ms in stages.items():
            print(f"  {name:40s} {ms:7.2f} ms")
        print(f"  {'sum':40s} {sum(stages.values()):7.2f} ms")

        print(f"\nwhole pipeline in one process, {args.baseline} invoices each:")
        results = {"ours": _ours_in_one_process(sample_csv, base)}
        docs: dict[str, float] = {}
        docs_ctx = Context(settings=_settings(base / "docs"), clock=ManualClock(NOW))
        invoices = [record_invoice(_draft(r), ctx=docs_ctx).invoice for r in sample[:21]]
        for kind in ("a", "b"):
            try:
                baseline = _Baseline(base, kind)
                results[kind] = _serial(baseline.issue, sample)
            except ImportError as exc:
                print(f"  baseline ({kind}) skipped: {exc} (pip install -e '.[bench]')")
                continue
            docs[kind] = _per_doc(lambda i, b=baseline: b.documents(i), invoices)
        docs["ours"] = _per_doc(lambda i: render_documents(i, docs_ctx), invoices)
        names = {
            "ours": "ours (run_batch, workers=0)",
            "a": "(a) platypus + qrcode PNG + stock pyHanko",
            "b": "(b) WeasyPrint + stock pyHanko",
        }
        ours_rate = results["ours"][1] / results["ours"][0]
        for key, (seconds, count) in results.items():
            rate = count / seconds
            ratio = f"   ours = {ours_rate / rate:5.1f} x this" if key != "ours" else ""
            print(f"  {names[key]:44s} {rate:7.1f} invoices/s  {1e3 / rate:7.1f} ms each{ratio}")
        if docs:
            print(f"  documents only (XML+sign+PDF+QR+PAdES), median of {len(invoices) - 1}:")
            for key, ms in docs.items():
                ratio = f"   ours = {ms / docs['ours']:5.1f} x faster" if key != "ours" else ""
                print(f"    {names[key]:42s} {ms:7.2f} ms{ratio}")
        sizes = [p.stat().st_size for p in (base / "serial-ours").rglob("*.pdf")]
        if sizes:
            print(f"  our signed PDF: {statistics.mean(sizes) / 1024:.1f} KiB on average")

        store = "PostgreSQL" if args.postgres else "SQLite"
        print(f"\nrun_batch over {args.invoices} rows (fresh {store} store each run):")
        runs: dict[int, RunResult] = {}
        for count in workers:
            run = _batch(csv, len(rows), count, base, f"w{count}", args.postgres)
            runs[count] = run
            cpu_ms = run.cpu / run.invoices * 1e3
            print(
                f"  {count} worker(s): {run.rate:7.1f} invoices/s wall ({run.wall:.1f} s), "
                f"{run.rate / count:6.1f} per worker; workers' CPU {cpu_ms:5.2f} ms/invoice "
                f"(= {1e3 / cpu_ms:5.1f} invoices/s per busy core); peak RSS per worker "
                f"{', '.join(_mb(v) for v in run.peak_rss_kb.values())}"
            )
        if 1 in runs:
            for count, run in runs.items():
                if count != 1:
                    print(f"  scaling {count} workers / 1 worker: {run.rate / runs[1].rate:4.2f} x")

        if args.memory:
            big_csv, big = _input(base / f"input-{args.memory}.csv", args.memory, args.seed + 1)
            memory = _batch(big_csv, len(big), 1, base, "memory", args.postgres)
            print(
                f"\nmemory, 1 worker, {memory.invoices} invoices: peak RSS "
                f"{', '.join(_mb(v) for v in memory.peak_rss_kb.values())}; RSS at 10 % "
                f"{', '.join(_mb(v) for v in memory.rss_at_10.values())}, at the end "
                f"{', '.join(_mb(v) for v in memory.rss_at_end.values())} "
                f"({memory.rate:.1f} invoices/s)"
            )
            if 1 in runs:
                small = max(runs[1].peak_rss_kb.values())
                large = max(memory.peak_rss_kb.values())
                print(
                    f"  peak at {args.invoices}: {_mb(small)}, at {memory.invoices}: "
                    f"{_mb(large)} (ratio {large / small:.2f})"
                )
    print(f"\nload average at end: {os.getloadavg()}")
    print(f"reproduce: {command}")
    return 0


def _per_doc(fn: Callable[[Invoice], Any], invoices: Sequence[Invoice]) -> float:
    fn(invoices[0])
    samples = []
    for invoice in invoices[1:]:
        start = time.perf_counter()
        fn(invoice)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


if __name__ == "__main__":
    sys.exit(main())
