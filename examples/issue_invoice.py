"""Issue one residential electricity bill, the way an integrator would.

Run it with a data directory (created if missing), or without one to use a
temporary directory::

    python examples/issue_invoice.py ./evservice-data

It prices a meter reading with EVN's tiered residential tariff, issues the
invoice (gapless number, lookup code, tax authority XML and PDF written under
the data directory, one row in the SQLite store there) and prints where
everything is. Running it again with the same data directory issues nothing
new: the draft's ``reference`` makes issuing idempotent.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from evservice import Context, Settings, SystemClock
from evservice.clock import vn_date
from evservice.invoices import MeterReading, get, issue, price_meter_reading
from evservice.money import format_vnd


def main(argv: list[str]) -> int:
    # 1. Settings. Everything else has a working default: the store is a SQLite
    #    file in the data directory. In production, set EVSERVICE_DATA_DIR,
    #    EVSERVICE_DATABASE_URL (PostgreSQL), signing keys, ... in the environment.
    data_dir = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="evservice-"))
    ctx = Context(settings=Settings(data_dir=data_dir), clock=SystemClock())

    # 2. The reading to bill: the 30 days up to yesterday. An invoice is dated in
    #    Vietnam local time and never in the future; its series carries the year.
    today = vn_date(ctx.clock.now())
    period_end = today - timedelta(days=1)
    reading = MeterReading(
        meter_id="PD0100123456",
        period_start=period_end - timedelta(days=29),
        period_end=period_end,
        kwh=237,
    )

    # 3. Price it: one invoice line per tier (Bậc 1: 0 - 50 kWh at 1,984 dong, ...),
    #    with the prices and the VAT rate in force over the period (tariffs are data).
    lines = price_meter_reading(reading, ctx=ctx)

    # 4. The draft. Amounts are Decimals or strings, never floats. ``reference`` is
    #    your idempotency key: customer and billing period.
    customer = "PA01000001"
    draft = {
        "series": f"C{today.year % 100:02d}TAA",  # C = coded, 26 = year, T, AA = ours
        "issue_date": today,
        "reference": f"{customer}-{period_end:%Y-%m}",
        "seller": {
            "name": "Tổng công ty Điện lực miền Bắc - Công ty Điện lực Hải Dương",
            "tax_code": "0100100079",
            "address": "Số 33 Đại lộ Hồ Chí Minh, thành phố Hải Dương",
            "phone": "19006769",
        },
        "buyer": {
            "person_name": "Nguyễn Thị Ánh Tuyết",  # a household: no tax code
            "customer_code": customer,
            "address": "Số 1 phố Đông Hải, Hải Dương",
        },
        "lines": lines,
        "payment": {"bank_bin": "970436", "account": "0011004000000", "account_name": "EVN NPC"},
        "extra": {"Mã công tơ": reading.meter_id, "Kỳ": f"{period_end:%m/%Y}"},
    }

    # 5. Issue: number + row in one transaction, then the XML and PDF files.
    #    Bad input raises evservice.ValidationError naming the field.
    issued = issue(draft, ctx=ctx)
    verb = "issued" if issued.created else "already issued"
    print(f"{verb} {issued.label} ({reading.kwh} kWh)")
    print(f"lookup code  {issued.lookup_code}")
    print(f"total        {format_vnd(issued.invoice.totals.payable)} VND")
    print(f"xml          {issued.xml_path}")
    print(f"pdf          {issued.pdf_path}")
    print(f"store        {ctx.settings.db_url}")

    # 6. Customers (and your support staff) find it again by its lookup code.
    found = get(issued.lookup_code, ctx=ctx)
    print(f"found again  {found.label} [{found.status.value}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
