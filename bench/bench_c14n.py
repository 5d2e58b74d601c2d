"""Canonicalisation of an element with many attributes: our C14N against libxml2's.

libxml2 (through lxml, the path XML verification used before) inserts each attribute
into a sorted linked list from its head, so one element with n attributes costs n^2;
``evservice.signing._c14n`` sorts once. Both canonicalise the same ``TToan`` element
with n attributes in ascending order (libxml2's worst case) and must give the same
bytes (and, first, a typical bill's ``DLHDon``, where libxml2's C code is the faster:
ours is Python). libxml2 is timed only up to ``--baseline-max`` attributes (at 200,000 it runs
for minutes); the ratio is per size. Finally ``verify`` on a signed invoice carrying
such an element: refused by the attribute limit before any canonicalisation.

Run:  .venv/bin/python bench/bench_c14n.py [--sizes 2000,20000,200000] [--baseline-max 20000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from lxml import etree

from evservice.signing._c14n import canonicalize
from evservice.signing._xmldsig import _c14n, parse_xml

COMMAND = ".venv/bin/python bench/bench_c14n.py"


def _element(n: int) -> etree._Element:
    attributes = " ".join(f'a{i:06d}="v"' for i in range(n))
    root = parse_xml(f'<HDon><DLHDon Id="x"><TToan {attributes}/></DLHDon></HDon>'.encode())
    return root[0]


def _best(run: Callable[[], bytes], repeat: int) -> tuple[float, bytes]:
    best, out = float("inf"), b""
    for _ in range(repeat):
        started = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - started)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,200000")
    parser.add_argument("--baseline-max", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"command: {COMMAND} --sizes {args.sizes} --baseline-max {args.baseline_max}")
    _typical_bill(args.repeat)
    print(f"{'attributes':>10} {'ours (s)':>10} {'libxml2 (s)':>12} {'libxml2/ours':>13}")
    for n in sizes:
        element = _element(n)
        ours, ours_bytes = _best(lambda e=element: canonicalize(e), args.repeat)
        if n <= args.baseline_max:
            theirs, their_bytes = _best(lambda e=element: _c14n(e), 1)
            assert ours_bytes == their_bytes, "the two canonical forms differ"
            print(f"{n:>10} {ours:>10.3f} {theirs:>12.3f} {theirs / ours:>12.1f}x")
        else:
            print(f"{n:>10} {ours:>10.3f} {'(skipped)':>12} {'':>13}")
    _verify_figure(max(sizes))


def _typical_bill(repeat: int) -> None:
    """Our C14N and libxml2's on the DLHDon of a bill as the batch writes it."""
    import uuid
    from datetime import UTC, date, datetime

    from evservice.invoices import Invoice, InvoiceDraft, invoice_to_xml

    line = {"name": "Điện", "unit": "kWh", "quantity": "50", "unit_price": "1984"}
    draft = InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": date(2026, 10, 31),
            "seller": {"name": "Điện lực", "tax_code": "0100100079", "address": "Hải Dương"},
            "buyer": {"person_name": "Nguyễn An", "address": "Hải Dương"},
            "lines": [line | {"vat_rate": "8%"}] * 6,
        }
    )
    bill = Invoice(
        id=uuid.UUID(int=1),
        draft=draft,
        number=1,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, tzinfo=UTC),
    )
    content = parse_xml(invoice_to_xml(bill))[0]
    loops = 200
    ours, _ = _best(lambda: b"".join(canonicalize(content) for _ in range(loops)), repeat)
    theirs, _ = _best(lambda: b"".join(_c14n(content) for _ in range(loops)), repeat)
    count = sum(1 for _ in content.iter())
    print(
        f"a bill's DLHDon ({count} elements): ours {ours / loops * 1e6:.0f} us, "
        f"libxml2 {theirs / loops * 1e6:.0f} us (ours/libxml2 {ours / theirs:.1f}x)"
    )


def _verify_figure(n: int) -> None:
    """``verify`` of a signed invoice carrying one element with n attributes."""
    from datetime import UTC, datetime
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from evservice import Context, Settings, verify
    from evservice.clock import ManualClock
    from evservice.signing import load_signer, sign_invoice_xml

    with TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), _env_file=None)  # type: ignore[call-arg]
        signer = load_signer(settings)
        when = datetime(2026, 11, 1, tzinfo=UTC)
        unsigned = b'<HDon><DLHDon Id="x"><TTChung/></DLHDon><DSCKS><NBan/><NMua/></DSCKS></HDon>'
        signed = sign_invoice_xml(unsigned, signer, signing_time=when)
        attributes = " ".join(f'a{i:06d}="v"' for i in range(n))
        data = signed.replace(b"<NMua/>", f"<NMua><X {attributes}/></NMua>".encode())
        ctx = Context(settings=settings, clock=ManualClock(when))
        started = time.perf_counter()
        report = verify(data, ctx=ctx)
        took = time.perf_counter() - started
        print(f"verify with {n} attributes on one element: {took:.3f} s, {report.problems[0]}")


if __name__ == "__main__":
    main()
