"""Matching bank transfers to receivables, and applying the money, a chunk per transaction.

The rules, in order, for each transfer:

1. Seen before (same :attr:`BankTransaction.key`, in the store or earlier in the
   same import): ``duplicate``, nothing applied. The key is the table's primary
   key, so two imports racing each other cannot both apply it either: the
   loser's insert fails, its chunk rolls back and is retried, and then it sees a
   duplicate.
2. A valid payment reference in the memo that names a receivable: ``applied``.
   A replaced invoice's reference is followed to its replacement. What exceeds
   the amount still due is credit: of the plan in the batch's credit ledger
   (:class:`evservice.batch.BatchCredit`, before VAT, in the invoice's own
   proportion of tax) for subscription bills, else held for the customer's next
   bill (``reconcile_credit``). Partial payments leave the bill ``partly_paid``.
3. Otherwise (no reference, a mistyped one, an unknown one): a receivable of a
   customer the transfer names (``customer_hint``, or a word of the memo equal
   to a customer id) whose outstanding amount equals the transfer exactly is
   proposed: ``needs_review``, never applied automatically
   (:func:`apply_reviewed` applies it once an operator agrees).
4. Else ``unmatched``.

Every application appends an audit event (``payment.applied``,
``payment.credited``) in the transaction that applies it. Reads are a handful of
``IN`` queries per chunk, writes are executemany statements; the naive
one-query-per-transfer way is ``bench/bench_reconcile.py``'s baseline.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from evservice._context import Context, resolve
from evservice.audit import NewEvent, record_many
from evservice.batch import BatchCredit
from evservice.errors import NotFoundError, StoreError, ValidationError
from evservice.money import round_dong
from evservice.payments import reference as payment_reference
from evservice.reconcile._receivables import APPLICATIONS, CREDITS, RECEIVABLES, status_of
from evservice.reconcile._sql import insert_ignoring
from evservice.reconcile._statements import BankTransaction, Statement
from evservice.reconcile._tables import ReconcileTransaction
from evservice.store import is_postgres, transaction

__all__ = [
    "TRANSACTIONS",
    "Outcome",
    "ReconcileReport",
    "apply_reviewed",
    "reconcile",
]

TRANSACTIONS: sa.Table = ReconcileTransaction.__table__  # type: ignore[attr-defined]
_BATCH_CREDIT: sa.Table = BatchCredit.__table__  # type: ignore[attr-defined]

_CHUNK = 2000
_ATTEMPTS = 5
_WORD = re.compile(r"[0-9A-Za-z_-]{4,50}")
_OPEN = ("open", "partly_paid")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one transfer (``status``: applied, needs_review, unmatched, duplicate)."""

    key: str
    bank_ref: str
    amount: Decimal
    status: str
    reason: str
    invoice_id: str | None = None
    reference: str | None = None
    applied: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)


@dataclass
class ReconcileReport:
    """Counts by status and reason, the money applied and carried as credit, the outcomes."""

    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    applied: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, outcome: Outcome, keep: bool) -> None:
        self.counts[outcome.status] += 1
        self.reasons[outcome.reason] += 1
        self.applied += outcome.applied
        self.credit += outcome.credit
        if keep:
            self.outcomes.append(outcome)

    def summary(self) -> str:
        parts = [f"{k} {self.counts[k]}" for k in ("applied", "needs_review", "unmatched")]
        parts.append(f"duplicate {self.counts['duplicate']}")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)}")
        return ", ".join(parts) + f"; applied {self.applied} d, credit {self.credit} d"

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "reasons": dict(self.reasons),
            "applied": str(self.applied),
            "credit": str(self.credit),
            "skipped": [{"where": w, "reason": r} for w, r in self.skipped],
        }


class _Retry(StoreError):
    """Another import stored some of this chunk's transfers meanwhile; do the chunk again."""


def reconcile(
    transactions: Iterable[BankTransaction] | Statement,
    *,
    ctx: Context | None = None,
    actor: str = "system",
    keep_outcomes: bool = True,
    chunk_size: int = _CHUNK,
    dry_run: bool = False,
) -> ReconcileReport:
    """Match and apply ``transactions`` (or a :class:`Statement`'s); see the module rules.

    ``dry_run`` reports what would happen and writes nothing (a preview of a
    statement before it is applied); its chunks see each other's duplicates but
    not each other's payments, so a bill paid twice across two chunks of one
    preview shows as paid twice.
    """
    ctx = resolve(ctx)
    if not 1 <= chunk_size <= 10_000:
        raise ValidationError("chunk_size", "must be between 1 and 10000")
    report = ReconcileReport()
    seen: set[str] = set()  # keys of earlier chunks (a preview writes none of them)
    if isinstance(transactions, Statement):
        report.skipped = list(transactions.skipped)
        transactions = transactions.transactions
    for chunk in _chunks(transactions, chunk_size):
        for attempt in range(_ATTEMPTS):
            try:
                outcomes = _reconcile_chunk(ctx, chunk, actor, dry_run, seen)
                break
            except _Retry:
                if attempt == _ATTEMPTS - 1:
                    raise
        for outcome in outcomes:
            report.add(outcome, keep_outcomes)
    return report


def _chunks(items: Iterable[BankTransaction], size: int) -> Iterator[list[BankTransaction]]:
    chunk: list[BankTransaction] = []
    for item in items:
        if not isinstance(item, BankTransaction):
            raise ValidationError("transactions", "must be BankTransaction values")
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True, slots=True)
class _Transfer:
    """What applying needs of a transfer (a stored one has no account any more)."""

    key: str
    bank_ref: str
    amount: Decimal
    source: str


@dataclass(slots=True)
class _Bill:
    """A receivable as read for this chunk, changed in memory, written back once."""

    invoice_id: str
    reference: str
    label: str
    customer_id: str
    plan_code: str | None
    period: str
    due_date: Any
    amount_due: int
    before_tax: int
    paid: int
    status: str
    replaced_by: str | None
    dirty: bool = False

    @property
    def outstanding(self) -> int:
        return self.amount_due - self.paid


def _bills(session: Session, where: Any, lock: bool) -> list[_Bill]:
    query = sa.select(*[RECEIVABLES.c[name] for name in _BILL_COLUMNS]).where(where)
    if lock:
        query = query.with_for_update()
    return [_Bill(*row) for row in session.execute(query)]


_BILL_COLUMNS = (
    "invoice_id",
    "reference",
    "label",
    "customer_id",
    "plan_code",
    "period",
    "due_date",
    "amount_due",
    "before_tax",
    "paid",
    "status",
    "replaced_by",
)


class _Chunk:
    """The reads, decisions and writes of one chunk, inside one store transaction."""

    def __init__(self, session: Session, now: datetime, actor: str, lock: bool) -> None:
        self.session = session
        self.now = now
        self.actor = actor
        self.lock = lock
        self.by_ref: dict[str, _Bill] = {}
        self.by_id: dict[str, _Bill] = {}
        self.by_customer: dict[str, list[_Bill]] = {}
        self.applications: list[dict[str, Any]] = []
        self.events: list[NewEvent] = []
        self.plan_credit: Counter[tuple[str, str]] = Counter()
        self.held_credit: Counter[str] = Counter()
        self.periods: dict[tuple[str, str], str] = {}

    def load(self, refs: set[str], customers: set[str]) -> None:
        for start in range(0, len(refs), 1000):
            part = sorted(refs)[start : start + 1000]
            for bill in _bills(self.session, RECEIVABLES.c.reference.in_(part), self.lock):
                self._keep(bill)
        self._follow_replacements()
        wanted = sorted(customers)
        for start in range(0, len(wanted), 1000):
            part = wanted[start : start + 1000]
            # By customer only: with the status in the WHERE clause SQLite may walk the
            # status index, which names nearly every open bill of the store.
            for bill in _bills(self.session, RECEIVABLES.c.customer_id.in_(part), self.lock):
                if bill.status in _OPEN:
                    bill = self._keep(bill)
                    self.by_customer.setdefault(bill.customer_id, []).append(bill)

    def _keep(self, bill: _Bill) -> _Bill:
        known = self.by_id.get(bill.invoice_id)
        if known is not None:
            return known
        self.by_id[bill.invoice_id] = bill
        self.by_ref[bill.reference] = bill
        return bill

    def _follow_replacements(self) -> None:
        for _ in range(20):  # a chain of replacements is short; a loop would be a bug
            missing = {
                b.replaced_by
                for b in self.by_id.values()
                if b.replaced_by and b.replaced_by not in self.by_id
            }
            if not missing:
                return
            where = RECEIVABLES.c.invoice_id.in_(sorted(missing))
            for bill in _bills(self.session, where, self.lock):
                self._keep(bill)

    def live(self, bill: _Bill) -> _Bill:
        seen = 0
        while bill.status == "replaced" and bill.replaced_by in self.by_id and seen < 20:
            bill = self.by_id[bill.replaced_by]
            seen += 1
        return bill

    def apply(self, tx: _Transfer, bill: _Bill, reason: str, ref: str | None) -> Outcome:
        amount = int(tx.amount)
        original = bill
        bill = self.live(bill)
        if bill is not original:
            reason = f"{reason} of a replaced invoice"
        on_bill = max(0, min(amount, bill.outstanding))
        rest = amount - on_bill
        bill.paid += on_bill
        bill.status = status_of(bill.amount_due, bill.paid)
        bill.dirty = True
        if on_bill:
            self._application(tx.key, bill, "payment", on_bill, tx.source)
        if rest:
            self._credit(bill, rest)
            self._application(tx.key, bill, "credit", rest, tx.source)
            reason = f"{reason}, overpaid"
        elif bill.status == "partly_paid":
            reason = f"{reason}, partly paid"
        return Outcome(
            tx.key,
            tx.bank_ref,
            tx.amount,
            "applied",
            reason,
            bill.invoice_id,
            ref,
            Decimal(on_bill),
            Decimal(rest),
        )

    def _application(self, key: str, bill: _Bill, kind: str, amount: int, source: str) -> None:
        self.applications.append(
            {
                "transaction_key": key,
                "invoice_id": bill.invoice_id,
                "kind": kind,
                "amount": amount,
                "applied_at": self.now,
            }
        )
        data = {"transaction": key, "amount": amount, "status": bill.status, "source": source}
        name = "payment.applied" if kind == "payment" else "payment.credited"
        self.events.append(NewEvent(name, bill.invoice_id, self.actor, self.now, data))

    def _credit(self, bill: _Bill, rest: int) -> None:
        if bill.plan_code:
            # The plan's ledger counts before VAT: keep the bill's own tax proportion.
            ratio = Decimal(bill.before_tax) / bill.amount_due if bill.amount_due else Decimal(1)
            key = (bill.customer_id, bill.plan_code)
            self.plan_credit[key] += int(round_dong(rest * ratio))
            self.periods[key] = bill.period
        else:
            self.held_credit[bill.customer_id] += rest

    def propose(self, tx: _Transfer, words: Sequence[str], why: str) -> Outcome | None:
        amount = int(tx.amount)
        for customer in words:
            for bill in self.by_customer.get(customer, ()):
                if bill.status in _OPEN and bill.outstanding == amount:
                    reason = f"{why}; amount and customer match"
                    return Outcome(
                        tx.key, tx.bank_ref, tx.amount, "needs_review", reason, bill.invoice_id
                    )
        return None

    def write(self, transactions: Sequence[dict[str, Any]]) -> None:
        session = self.session
        if transactions:
            inserted = _insert_new(session, transactions)
            if inserted != len(transactions):
                raise _Retry("some transfers were stored by another import meanwhile")
        dirty = [b for b in self.by_id.values() if b.dirty]
        if dirty:
            session.execute(
                sa.update(RECEIVABLES)
                .where(RECEIVABLES.c.invoice_id == sa.bindparam("b_id"))
                .values(
                    paid=sa.bindparam("b_paid"),
                    status=sa.bindparam("b_status"),
                    updated_at=sa.bindparam("b_at"),
                ),
                [
                    {"b_id": b.invoice_id, "b_paid": b.paid, "b_status": b.status, "b_at": self.now}
                    for b in dirty
                ],
            )
        if self.applications:
            session.execute(sa.insert(APPLICATIONS), self.applications)
        self._write_credit()
        record_many(session, self.events)

    def _write_credit(self) -> None:
        if self.plan_credit:
            _add_balances(
                self.session,
                _BATCH_CREDIT,
                ("customer_id", "plan_code"),
                {k: v for k, v in self.plan_credit.items() if v},
                self.now,
                self.periods,
            )
        if self.held_credit:
            held: dict[tuple[str, ...], int] = {(c,): v for c, v in self.held_credit.items() if v}
            _add_balances(self.session, CREDITS, ("customer_id",), held, self.now, None)


def _insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert transfers, skipping keys stored meanwhile; how many were inserted."""
    statement = insert_ignoring(session, TRANSACTIONS)
    # RETURNING with many rows (SQLAlchemy's "insertmanyvalues") names exactly the
    # rows inserted; executemany's rowcount is not reliable across drivers.
    result = session.execute(statement.returning(TRANSACTIONS.c.key), list(rows))
    return len(result.all())


def _add_balances(
    session: Session,
    table: sa.Table,
    key_columns: tuple[str, ...],
    amounts: Mapping[tuple[str, ...], int],
    now: datetime,
    periods: Mapping[tuple[str, str], str] | None,
) -> None:
    """Add ``amounts`` to the balances of ``table`` (rows locked; missing ones inserted)."""
    if not amounts:
        return
    first = table.c[key_columns[0]]
    customers = sorted({k[0] for k in amounts})
    query = sa.select(*[table.c[c] for c in key_columns], table.c.balance).where(
        first.in_(customers)
    )
    found = {
        tuple(row[:-1]): int(row[-1]) for row in session.execute(query.with_for_update()).all()
    }
    for key, amount in sorted(amounts.items()):
        values: dict[str, Any] = {"balance": found.get(key, 0) + amount, "updated_at": now}
        if periods is not None:
            values["period"] = periods[key]  # type: ignore[index]
        match = sa.and_(*[table.c[c] == v for c, v in zip(key_columns, key, strict=True)])
        if key in found:
            session.execute(sa.update(table).where(match).values(**values))
        else:
            session.execute(
                sa.insert(table).values(**dict(zip(key_columns, key, strict=True)), **values)
            )


def _words(tx: BankTransaction) -> list[str]:
    words = [tx.customer_hint] if tx.customer_hint else []
    words += _WORD.findall(tx.memo)
    return list(dict.fromkeys(w for w in words if w))


@dataclass(slots=True)
class _Incoming:
    """A transfer of the chunk with what is worked out once: key, references, words."""

    tx: BankTransaction
    key: str
    valid: list[str]
    mistyped: bool
    words: list[str] | None = None

    @classmethod
    def of(cls, tx: BankTransaction) -> _Incoming:
        valid: list[str] = []
        mistyped = False
        for candidate in payment_reference.find(tx.memo):
            if candidate.valid:
                valid.append(candidate.text)
            else:
                mistyped = True
        return cls(tx, tx.key, valid, mistyped)

    def transfer(self) -> _Transfer:
        return _Transfer(self.key, self.tx.bank_ref, self.tx.amount, self.tx.source)


def _reconcile_chunk(
    ctx: Context,
    chunk: Sequence[BankTransaction],
    actor: str,
    dry_run: bool = False,
    seen: set[str] | None = None,
) -> list[Outcome]:
    """One chunk in one transaction: read what it needs, decide every transfer, write.

    ``dry_run`` decides without writing anything (the transaction is rolled back).
    """
    now = ctx.clock.now()
    items = [_Incoming.of(tx) for tx in chunk]
    refs = {r for item in items for r in item.valid}
    with transaction(ctx.engine) as session:
        stored: set[str] = set()
        for start in range(0, len(items), 1000):
            part = [item.key for item in items[start : start + 1000]]
            query = sa.select(TRANSACTIONS.c.key).where(TRANSACTIONS.c.key.in_(part))
            stored.update(session.execute(query).scalars())
        work = _Chunk(session, now, actor, lock=is_postgres(ctx.engine) and not dry_run)
        work.load(refs, set())
        # Customers are read only for the transfers that no reference settles.
        needy: set[str] = set()
        for item in items:
            if item.key not in stored and not any(r in work.by_ref for r in item.valid):
                item.words = _words(item.tx)
                needy.update(item.words)
        work.load(set(), needy)
        outcomes, rows = _decide(work, items, stored, set() if seen is None else seen)
        if dry_run:
            session.rollback()
        else:
            work.write(rows)
    return outcomes


def _decide(
    work: _Chunk, items: Sequence[_Incoming], stored: set[str], seen: set[str]
) -> tuple[list[Outcome], list[dict[str, Any]]]:
    outcomes: list[Outcome] = []
    rows: list[dict[str, Any]] = []
    for item in items:
        tx = item.tx
        if item.key in stored or item.key in seen:
            outcomes.append(Outcome(item.key, tx.bank_ref, tx.amount, "duplicate", "seen before"))
            continue
        seen.add(item.key)
        bill = next((work.by_ref[r] for r in item.valid if r in work.by_ref), None)
        if bill is not None:
            outcome = work.apply(item.transfer(), bill, "reference", bill.reference)
        else:
            why = (
                "unknown reference"
                if item.valid
                else ("mistyped reference" if item.mistyped else "no reference")
            )
            ref = item.valid[0] if item.valid else None
            outcome = work.propose(item.transfer(), item.words or [], why) or Outcome(
                item.key, tx.bank_ref, tx.amount, "unmatched", why, None, ref
            )
        outcomes.append(outcome)
        rows.append(_transaction_row(tx, item.key, outcome, work.now))
    return outcomes, rows


def _transaction_row(
    tx: BankTransaction, key: str, outcome: Outcome, now: datetime
) -> dict[str, Any]:
    return {
        "key": key,
        "source": tx.source[:20],
        "bank_ref": tx.bank_ref[:100],
        "booked_on": tx.booked_on,
        "amount": int(tx.amount),
        "memo": tx.memo[:500],
        "reference": outcome.reference,
        "status": outcome.status,
        "reason": outcome.reason[:100],
        "invoice_id": outcome.invoice_id,
        "received_at": now,
    }


def apply_reviewed(
    transaction_key: str,
    invoice_id: str | None = None,
    *,
    ctx: Context | None = None,
    actor: str = "operator",
) -> Outcome:
    """Apply a ``needs_review`` (or ``unmatched``) transfer to an invoice an operator chose.

    ``invoice_id`` defaults to the proposed one. Raises :class:`NotFoundError`
    for an unknown transfer or invoice, :class:`ValidationError` if the transfer
    was applied already.
    """
    ctx = resolve(ctx)
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        row = session.execute(
            sa.select(TRANSACTIONS).where(TRANSACTIONS.c.key == transaction_key).with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no bank transaction {transaction_key[:40]!r}")
        if row.status == "applied":
            raise ValidationError("transaction_key", "the transfer was applied already")
        target = invoice_id or row.invoice_id
        if not target:
            raise ValidationError("invoice_id", "give the invoice: nothing was proposed")
        work = _Chunk(session, now, actor, lock=is_postgres(ctx.engine))
        for bill in _bills(session, RECEIVABLES.c.invoice_id == target, work.lock):
            work._keep(bill)
        work._follow_replacements()
        if target not in work.by_id:
            raise NotFoundError(f"no receivable for invoice {target}")
        tx_key = str(row.key)
        tx = _Transfer(tx_key, str(row.bank_ref), Decimal(row.amount), str(row.source))
        outcome = work.apply(tx, work.by_id[target], "reviewed", None)
        session.execute(
            sa.update(TRANSACTIONS)
            .where(TRANSACTIONS.c.key == tx_key)
            .values(status="applied", reason=outcome.reason[:100], invoice_id=outcome.invoice_id)
        )
        work.write([])
    return outcome
