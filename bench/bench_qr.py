"""What a bill's QR code costs in the monthly batch, and what mask selection costs.

Per invoice: building the VietQR payload, making the QR matrix with segno's
automatic mask selection (the baseline: ISO/IEC 18004 evaluates all 8 masks)
and with the fixed mask evservice uses, and drawing the code as vector graphics
into a reportlab canvas. Then a mask study on the same payloads: how often the
automatic search picks each mask, and how far each fixed mask's penalty score
is from the best one. That study is why ``payments.DEFAULT_MASK`` is 0.

Run:  .venv/bin/python bench/bench_qr.py [--invoices 200] [--study 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

import segno
import segno.encoder
from reportlab.pdfgen.canvas import Canvas

from evservice.payments import DEFAULT_MASK, PayeeAccount, draw_qr, make_qr, vietqr_for_invoice

COMMAND = ".venv/bin/python bench/bench_qr.py"
BINS = ("970436", "970415", "970418", "970405", "970407", "970422", "970416", "970432")


def _invoices(count: int, seed: int = 2026) -> list[tuple[PayeeAccount, Decimal, int]]:
    rng = random.Random(seed)
    return [
        (
            PayeeAccount(rng.choice(BINS), str(rng.randint(10**9, 10**13 - 1))),
            Decimal(rng.randint(20_000, 9_000_000)),
            rng.randint(1, 99_999_999),
        )
        for _ in range(count)
    ]


def _per_item(run: Callable[[], object], items: int, repeat: int) -> float:
    """Best-of-``repeat`` seconds per item (the least disturbed run on a shared machine)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / items


def _study(payloads: Sequence[str]) -> tuple[list[int], list[float], list[float], float]:
    """Auto-picked mask counts, each fixed mask's mean / p95 penalty excess, mean best score."""
    picks = [0] * 8
    bests: list[int] = []
    excess: list[list[int]] = [[] for _ in range(8)]
    for payload in payloads:
        picks[make_qr(payload, mask=None).mask] += 1
        scores = []
        for mask in range(8):
            matrix = [bytearray(row) for row in make_qr(payload, mask=mask).matrix]
            scores.append(segno.encoder.evaluate_mask(matrix, len(matrix), len(matrix)))
        best = min(scores)
        bests.append(best)
        for mask in range(8):
            excess[mask].append(scores[mask] - best)
    means = [statistics.mean(x) for x in excess]
    p95 = [sorted(x)[int(0.95 * (len(x) - 1))] for x in excess]
    return picks, means, [float(v) for v in p95], statistics.mean(bests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--study", type=int, default=100, help="payloads in the mask study")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    invoices = _invoices(args.invoices)
    series = "C26TAA"

    def build() -> list[str]:
        return [
            vietqr_for_invoice(account, total, series=series, number=number).payload()
            for account, total, number in invoices
        ]

    payloads = build()
    n = len(payloads)
    versions = sorted({make_qr(p).version for p in payloads})
    lengths = [len(p) for p in payloads]

    t_build = _per_item(build, n, args.repeat)
    t_auto = _per_item(lambda: [make_qr(p, mask=None) for p in payloads], n, args.repeat)
    t_fixed = _per_item(lambda: [make_qr(p) for p in payloads], n, args.repeat)

    def draw_all(mask: int | None) -> None:
        canvas = Canvas(io.BytesIO())
        for i, payload in enumerate(payloads):
            draw_qr(canvas, payload, 40 + (i % 4) * 130, 40 + (i // 4 % 6) * 130, 113, mask=mask)
            if i % 24 == 23:
                canvas.showPage()

    t_draw_fixed = _per_item(lambda: draw_all(DEFAULT_MASK), n, args.repeat)
    t_draw_auto = _per_item(lambda: draw_all(None), n, args.repeat)
    t_path = max(t_draw_fixed - t_fixed, 0.0)

    print(
        f"bench_qr: {n} invoice payloads, {min(lengths)}-{max(lengths)} characters, "
        f"QR version(s) {versions} at level M, segno {segno.__version__}"
    )
    print(
        f"command: {COMMAND} --invoices {args.invoices} --study {args.study} --repeat {args.repeat}"
    )
    print("baseline: segno matrix with automatic mask selection (all 8 masks evaluated)")
    print()
    rows = [
        ("payload (vietqr_for_invoice + encode)", t_build),
        ("matrix, automatic mask [baseline]", t_auto),
        (f"matrix, fixed mask {DEFAULT_MASK}", t_fixed),
        ("vector path only (derived: draw - matrix)", t_path),
        (f"draw_qr total, fixed mask {DEFAULT_MASK}", t_draw_fixed),
        ("draw_qr total, automatic mask", t_draw_auto),
        ("per bill: payload + draw_qr (fixed)", t_build + t_draw_fixed),
    ]
    for label, seconds in rows:
        print(f"  {label:<42} {seconds * 1e3:8.3f} ms   x{seconds / t_auto:5.2f} of baseline")
    print()
    saved = (t_draw_auto - t_draw_fixed) * 30_000_000 / 3600
    print(
        f"mask selection costs {(t_auto - t_fixed) * 1e3:.2f} ms per invoice "
        f"({(t_auto - t_fixed) / t_auto:.0%} of the matrix); over 30 million bills the fixed "
        f"mask saves about {saved:.0f} CPU-hours"
    )

    def pdf_bytes(with_code: bool) -> int:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, pageCompression=1)
        if with_code:
            draw_qr(canvas, payloads[0], 40, 40, 113)
        canvas.showPage()
        canvas.save()
        return len(buffer.getvalue())

    print(
        f"PDF size of one drawn code (compressed page stream): "
        f"{pdf_bytes(True) - pdf_bytes(False)} bytes"
    )

    study = payloads[: args.study]
    picks, means, p95, mean_best = _study(study)
    print()
    print(
        f"mask study on {len(study)} payloads (penalty = ISO/IEC 18004 7.8.3 score, lower is "
        "better; excess = score - best of the 8 masks):"
    )
    for mask in range(8):
        marker = "  <- DEFAULT_MASK" if mask == DEFAULT_MASK else ""
        print(
            f"  mask {mask}: picked by the search {picks[mask]:4d}x   "
            f"mean excess {means[mask]:7.1f}   p95 excess {p95[mask]:6.0f}{marker}"
        )
    best_fixed = min(range(8), key=lambda m: means[m])
    print(
        f"mean best score {mean_best:.0f}; lowest mean excess among fixed masks: mask "
        f"{best_fixed} (+{means[best_fixed] / mean_best:.1%} of the best score)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
