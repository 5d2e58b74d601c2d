"""What the customer portal answers per second: invoice lookups and OTP confirmations.

A real uvicorn server (one worker, its own process, access log off, rate
limits raised out of the way) on loopback serves a store of 10^5 invoices;
client threads in this process keep ``--concurrency`` requests in flight for a
bounded time per phase and time each request:

* baseline: ``GET /api/v1/health`` (routing, middleware, JSON; no store), at
  each concurrency level like the lookup;
* lookup: the HTML lookup page, ``POST /hoa-don`` with CSRF token, a random
  lookup code of the 10^5 and the seller's tax code (store lookup by the
  unique code, the draft parsed back, the page rendered);
* lookup, first view of a documented invoice: the same page for invoices that
  have their signed PDF, each looked up once, so the verification of both
  signatures runs (later views reuse it for ``verification_cache_seconds``);
* confirm: ``POST /c/<token>`` on the contract page, four wrong codes then the
  right one per contract (every one a write transaction with its audit event;
  the last one consents).

The store is built through the public bulk APIs: ``invoices.record_invoices``
(2,000 drafts per transaction), ``invoices.ensure_many_documents`` for the
documented sample, ``contracts.create`` and ``request_consent`` for the
contracts (codes read from a ``MemoryChannel``). Target: lookup p99 < 50 ms on
one worker with 10^5 invoices.

Before the phases, 100 untimed lookups warm the server up. The machine's load
average is printed: on a shared machine the absolute figures move with it, the
ratios to the baseline much less.

Run:  .venv/bin/python bench/bench_web.py [--invoices 100000] [--documented 150]
          [--contracts 150] [--seconds 4] [--concurrency 1,4] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from evservice import Context, Settings
from evservice.clock import VN_TZ
from evservice.contracts import create, get, request_consent
from evservice.delivery import MemoryChannel
from evservice.invoices import ensure_many_documents, record_invoices

COMMAND = ".venv/bin/python bench/bench_web.py"
SELLER_TAX_CODE = "0100101114"

SERVER = """
import sys
import uvicorn
from evservice import Context, Settings
from evservice.web import PortalSettings, create_app

import logging
logging.getLogger("evservice").setLevel(logging.ERROR)  # no refused-code warnings on stderr
settings = Settings(data_dir=sys.argv[1], _env_file=None)
big = 10**9
app = create_app(
    Context(settings=settings),
    PortalSettings(requests_per_minute=big, lookups_per_minute=big, confirms_per_window=big),
)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=False, log_level="warning")
"""


def settings_for(data_dir: Path, port: int) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir,
        portal_url=f"http://127.0.0.1:{port}/",
        otp_max_sends_per_recipient=10**6,
        otp_max_sends_per_subject=10**6,
        _env_file=None,
    )


def invoice_draft(i: int, today: str, series: str) -> dict[str, Any]:
    kwh = 50 + i % 300
    return {
        "series": series,
        "issue_date": today,
        "reference": f"bench-web:{i}",
        "seller": {
            "name": "Điện lực Hà Nội",
            "tax_code": SELLER_TAX_CODE,
            "address": "69 Đinh Tiên Hoàng",
        },
        "buyer": {"person_name": f"Khách hàng {i}", "address": f"{i} Hào Nam, Đống Đa"},
        "lines": [
            {
                "name": "Điện sinh hoạt",
                "unit": "kWh",
                "quantity": str(kwh),
                "unit_price": "1984",
                "vat_rate": "8%",
            }
        ],
        "payment": {"bank_bin": "970436", "account": "0011001234567", "account_name": "EVN HANOI"},
    }


def contract_draft(i: int, today: str) -> dict[str, Any]:
    return {
        "provider": {
            "name": "Tổng công ty Điện lực TP Hà Nội",
            "tax_code": SELLER_TAX_CODE,
            "address": "69 Đinh Tiên Hoàng, Hoàn Kiếm, Hà Nội",
            "representative": "Nguyễn Văn Đức",
            "representative_email": "daidien@evnhanoi.example",
            "payment": {"bank_bin": "970436", "account": "0011001234567"},
        },
        "customer": {
            "name": f"Khách hàng {i}",
            "address": "12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
            "phone": f"0912{i:06d}",
        },
        "terms": {
            "kind": "electricity",
            "service_address": "12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
            "meter_id": f"PD{i:010d}",
            "households": 1,
            "deposit": "0",
        },
        "start_date": today,
        "reference": f"bench-web-contract:{i}",
    }


@dataclass
class Store:
    codes: list[str]
    documented: list[str]
    confirms: list[tuple[str, str, str, int]]  # (path, code, sha256, expected status)
    build_seconds: dict[str, float] = field(default_factory=dict)


def build_store(ctx: Context, invoices: int, documented: int, contracts: int) -> Store:
    today = datetime.now(VN_TZ).date()
    series = f"C{today.year % 100:02d}TAA"
    store = Store([], [], [])
    t0 = time.perf_counter()
    issued = []
    for start in range(0, invoices, 2000):
        drafts = [
            invoice_draft(i, today.isoformat(), series)
            for i in range(start, min(invoices, start + 2000))
        ]
        issued.extend(record_invoices(drafts, ctx=ctx))
        print(f"  recorded {len(issued)} invoices", end="\r", flush=True)
    store.build_seconds["record_invoices"] = time.perf_counter() - t0
    store.codes = [one.lookup_code for one in issued]
    t0 = time.perf_counter()
    sample = random.Random(7).sample(issued, min(documented, len(issued)))
    store.documented = [one.lookup_code for one in ensure_many_documents(sample, ctx=ctx)]
    store.build_seconds["ensure_many_documents"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    channel = MemoryChannel()
    wrong_first, right_last = [], []
    for i in range(contracts):
        contract = create(contract_draft(i, today.isoformat()), ctx=ctx)
        request_consent(contract.number, channel="sms", delivery=channel, ctx=ctx)
        text = channel.sent[-1].text or ""
        code = re.search(r": (\d{6})\.", text)
        link = re.search(r"/c/([A-Za-z0-9_-]+)", text)
        assert code is not None, text
        assert link is not None, text
        sha = get(contract.number, ctx=ctx).document_sha256 or ""
        path = f"/c/{link.group(1)}"
        wrong = f"{(int(code.group(1)) + 1) % 10**6:06d}"
        wrong_first += [(path, wrong, sha, 422)] * 4
        right_last.append((path, code.group(1), sha, 303))
    store.confirms = wrong_first + right_last
    store.build_seconds["contracts"] = time.perf_counter() - t0
    print()
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


@dataclass
class Phase:
    name: str
    latencies: list[float]
    statuses: Counter[int]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: int) -> float:
        return (
            statistics.quantiles(self.latencies, n=100)[q - 1] * 1000
            if len(self.latencies) > 1
            else 0.0
        )


def csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', client.get(path).text)
    assert found, path
    return found.group(1)


Request = Callable[[httpx.Client, str], httpx.Response]


def run_phase(
    name: str,
    base: str,
    work: Iterator[Any],
    make: Callable[[httpx.Client, Any], httpx.Response],
    seconds: float,
    concurrency: int,
    setup_path: str = "/hoa-don",
) -> Phase:
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            client.headers["x-csrf"] = csrf(client, setup_path)
            while time.monotonic() < deadline:
                with lock:
                    item = next(work, None)
                if item is None:
                    return
                t = time.perf_counter()
                response = make(client, item)
                spent = time.perf_counter() - t
                with lock:
                    latencies.append(spent)
                    statuses[response.status_code] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return Phase(name, latencies, statuses, time.perf_counter() - t0)


def forever(items: list[Any], seed: int) -> Iterator[Any]:
    rng = random.Random(seed)
    while True:
        yield rng.choice(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--documented", type=int, default=150)
    parser.add_argument("--contracts", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=4.0, help="per phase (6 phases)")
    parser.add_argument(
        "--concurrency", default="1,4", help="requests in flight: baseline and lookup at each"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="build (and keep) the store here"
    )
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-web-"))
    port = free_port()
    ctx = Context(settings=settings_for(data_dir, port))
    print(
        f"building the store in {data_dir}: {args.invoices} invoices, "
        f"{args.documented} with documents, {args.contracts} contracts"
    )
    store = build_store(ctx, args.invoices, args.documented, args.contracts)
    for step, spent in store.build_seconds.items():
        print(f"  {step}: {spent:.1f} s")
    server = start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    levels = [int(x) for x in str(args.concurrency).split(",")]
    most = max(levels)

    def lookup(client: httpx.Client, code: str) -> httpx.Response:
        data = {
            "csrf": client.headers["x-csrf"],
            "lookup_code": code,
            "seller_tax_code": SELLER_TAX_CODE,
        }
        return client.post("/hoa-don", data=data)

    def confirm(client: httpx.Client, item: tuple[str, str, str, int]) -> httpx.Response:
        data = {"csrf": client.headers["x-csrf"], "code": item[1], "document_sha256": item[2]}
        return client.post(item[0], data=data)

    def health(client: httpx.Client, _: object) -> httpx.Response:
        return client.get("/api/v1/health")

    pairs: list[tuple[Phase, Phase]] = []
    try:
        warm = forever(store.codes, 99)
        run_phase("warm-up", base, (next(warm) for _ in range(100)), lookup, 60, 2)
        for level in levels:
            baseline = run_phase(
                f"baseline GET /api/v1/health, c={level}",
                base,
                iter(int, 1),
                health,
                args.seconds,
                level,
            )
            looked = run_phase(
                f"lookup page, random of {len(store.codes)}, c={level}",
                base,
                forever(store.codes, level),
                lookup,
                args.seconds,
                level,
            )
            pairs.append((baseline, looked))
        first = run_phase(
            f"lookup, first view (verifies PDF+XML), c={most}",
            base,
            iter(store.documented),
            lookup,
            args.seconds,
            most,
        )
        confirms = run_phase(
            f"OTP confirm POST /c/<token>, c={most}",
            base,
            iter(store.confirms),
            confirm,
            args.seconds,
            most,
        )
    finally:
        server.terminate()
        server.wait(20)
    print()
    print(f"{'phase':52} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'n':>7}  statuses")
    phases = [p for pair in pairs for p in pair] + [first, confirms]
    for p in phases:
        figures = f"{p.rate:8.1f} {p.pct(50):8.2f} {p.pct(99):8.2f} {len(p.latencies):7d}"
        print(f"{p.name:52} {figures}  {dict(p.statuses)}")
    print()
    top = pairs[-1][0]
    for baseline, looked in pairs:
        print(
            f"{looked.name}: {looked.rate / baseline.rate:.2f}x the baseline's req/s, "
            f"p99 {looked.pct(99) / max(baseline.pct(99), 1e-9):.1f}x the baseline's"
        )
    for p in (first, confirms):
        print(
            f"{p.name}: {p.rate / top.rate:.2f}x the baseline's req/s (c={most}), "
            f"p99 {p.pct(99) / max(top.pct(99), 1e-9):.1f}x"
        )
    for _, looked in pairs:
        verdict = "met" if looked.pct(99) < 50 else "NOT met"
        figure = f"{looked.pct(99):.1f} ms"
        print(f"target lookup p99 < 50 ms on 1 worker ({looked.name}): {verdict} ({figure})")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"reproduce: {COMMAND} --invoices {args.invoices} --documented {args.documented} "
        f"--contracts {args.contracts} --seconds {args.seconds:g} --concurrency {args.concurrency}"
    )
    if args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
