"""What issuing a chunk gives back: each row's outcome, and the sums a chunk reports.

A worker sends back only sums and flags (:class:`ChunkResult`), never the
invoices themselves; the run merges the chunks' :class:`Tally` into the summary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from evservice.batch._anomalies import Anomaly
from evservice.batch._drafts import Bill
from evservice.batch._input import MeterRow, Rejection, Row
from evservice.invoices import IssuedInvoice
from evservice.money import ZERO

__all__ = ["ChunkResult", "Outcome", "Tally"]


@dataclass(frozen=True)
class Outcome:
    row: Row
    bill: Bill
    issued: IssuedInvoice


@dataclass
class Tally:
    """Counts and sums of issued rows; chunks make their own and the run merges them."""

    issued: int = 0
    already_issued: int = 0
    meters: int = 0
    subscriptions: int = 0
    by_rate: dict[str, list[Decimal]] = field(default_factory=dict)  # [amount, tax]
    by_tier: dict[int, list[Decimal]] = field(default_factory=dict)  # [kwh, amount]
    credit_used: Decimal = ZERO
    first_number: int | None = None
    last_number: int | None = None
    deliveries: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        issued = outcome.issued
        if issued.created:
            self.issued += 1
            number = issued.number
            self.first_number = min(self.first_number or number, number)
            self.last_number = max(self.last_number or number, number)
        else:
            self.already_issued += 1
        totals = issued.invoice.totals
        for group in totals.by_rate:
            sums = self.by_rate.setdefault(group.rate, [ZERO, ZERO])
            sums[0] += group.amount
            sums[1] += group.tax or ZERO
        if isinstance(outcome.row, MeterRow):
            self.meters += 1
        else:
            self.subscriptions += 1
            self.credit_used += totals.trade_discount
        if outcome.bill.priced is not None:
            for segment in outcome.bill.priced.segments:
                for charge in segment.tiers:
                    sums = self.by_tier.setdefault(charge.tier, [ZERO, ZERO])
                    sums[0] += charge.kwh
                    sums[1] += charge.amount

    def merge(self, other: Tally) -> None:
        self.issued += other.issued
        self.already_issued += other.already_issued
        self.meters += other.meters
        self.subscriptions += other.subscriptions
        for rate, (amount, tax) in other.by_rate.items():
            sums = self.by_rate.setdefault(rate, [ZERO, ZERO])
            sums[0] += amount
            sums[1] += tax
        for tier, (kwh, amount) in other.by_tier.items():
            sums = self.by_tier.setdefault(tier, [ZERO, ZERO])
            sums[0] += kwh
            sums[1] += amount
        self.credit_used += other.credit_used
        numbers = [n for n in (self.first_number, other.first_number) if n is not None]
        self.first_number = min(numbers) if numbers else None
        numbers = [n for n in (self.last_number, other.last_number) if n is not None]
        self.last_number = max(numbers) if numbers else None
        self.deliveries.update(other.deliveries)


@dataclass
class ChunkResult:
    """What a worker sends back: never the invoices themselves, only sums and flags."""

    done: int = 0
    tally: Tally = field(default_factory=Tally)
    anomalies: list[Anomaly] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: Rows numbered whose documents could not be made (they stay pending).
    pending: list[Rejection] = field(default_factory=list)
    error: str | None = None  # our errors travel as text: their classes need keyword args
