"""The sequencer: moves queued events into the log, a batch per short transaction.

Callers only insert into ``audit_queue`` (:func:`~evservice.audit.record`).
A sequencer integrates the queue in batches of up to ``batch_size`` events,
waking every ``interval`` when the queue is short. One batch is one
transaction that

1. takes the integration lock: ``pg_try_advisory_xact_lock`` on PostgreSQL
   (keyed on the schema, released by commit, rollback or the death of the
   connection); on SQLite the transaction's IMMEDIATE write lock;
2. deletes the oldest queued rows, ``RETURNING`` them;
3. gives them the next leaf indexes, computes their leaves and every subtree
   they complete, and writes events, nodes and the new head;
4. signs a checkpoint when the newest one is older than ``checkpoint_every``
   (so a deleted set of checkpoints is noticed by ``audit verify``).

Events a SQLite caller appended in place (:func:`~evservice.audit.record_many`)
reach the log without a batch; an idle sequencer looks once a second
(:func:`sign_if_due`) and signs a checkpoint when the log grew past the newest
one and that one is older than ``checkpoint_every``.

Because the delete from the queue and the insert into the log commit together,
a kill at any point leaves either the batch in the queue or in the log, never
both or neither; the next sequencer integrates it exactly once. Several
sequencers may run (in the batch process, in a server, ``evservice audit
sequence``); the lock lets exactly one integrate at a time, the others find it
taken and wait for their next turn.

:func:`wait_sequenced` and :func:`sequence_pending` integrate themselves when
no other sequencer holds the lock, so a caller that needs a leaf index (a proof
right after issuing, the checkpoint at the end of a batch) never depends on a
background process being up; their wait is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from evservice._context import Context, resolve
from evservice.audit import _checkpoint, _log
from evservice.audit._checkpoint import SignedCheckpoint, publish_head, sign_head
from evservice.audit._event import AuditRecord
from evservice.audit._log import (
    CHECKPOINTS,
    EVENTS,
    QUEUE,
    event_from_row,
    integrate_rows,
    read_head,
    reading,
)
from evservice.clock import ensure_aware
from evservice.errors import AuditPendingError, NotFoundError, StoreError, ValidationError
from evservice.store import transaction

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_IDLE_INTERVAL",
    "DEFAULT_INTERVAL",
    "Sequencer",
    "SequencerOptions",
    "consistency_proof",
    "inclusion_proof",
    "integrate_batch",
    "prove_consistency",
    "publish_checkpoint",
    "queue_length",
    "root_at",
    "run_sequencer",
    "sequence_pending",
    "sign_if_due",
    "wait_sequenced",
]

T = TypeVar("T")

#: Events integrated per transaction at most.
DEFAULT_BATCH_SIZE = 2000
#: How long a sequencer sleeps when the queue had less than a full batch.
DEFAULT_INTERVAL = timedelta(milliseconds=5)
#: How long a sequencer sleeps when it found the queue empty.
DEFAULT_IDLE_INTERVAL = timedelta(milliseconds=25)
#: A sequencer signs a checkpoint when the newest is older than this.
DEFAULT_CHECKPOINT_EVERY = timedelta(minutes=1)

_LOCK_SQL = sa.text("SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || :name))")
_LOCK_NAME = ".evservice.audit.sequencer"
_POLL = 0.005
#: How often an idle sequencer asks whether a checkpoint is due (seconds).
_CHECKPOINT_LOOK = 1.0


@dataclass(frozen=True)
class SequencerOptions:
    """How a sequencer batches: up to ``batch_size`` events, or what came in ``interval``.

    After a short batch it pauses ``interval``; after finding the queue empty,
    ``idle_interval`` (never shorter than ``interval``), so a steady stream is
    integrated every few milliseconds while an idle sequencer (the usual case
    on SQLite, where events are appended in place) looks less often.
    """

    batch_size: int = DEFAULT_BATCH_SIZE
    interval: timedelta = DEFAULT_INTERVAL
    checkpoint_every: timedelta | None = DEFAULT_CHECKPOINT_EVERY
    idle_interval: timedelta = DEFAULT_IDLE_INTERVAL

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 100_000:
            raise ValidationError("batch_size", "must be between 1 and 100000")
        if self.interval <= timedelta(0):
            raise ValidationError("interval", "must be positive")
        if self.idle_interval <= timedelta(0):
            raise ValidationError("idle_interval", "must be positive")
        if self.checkpoint_every is not None and self.checkpoint_every < timedelta(0):
            raise ValidationError("checkpoint_every", "must not be negative")


def _try_lock(conn: Connection) -> bool:
    """Take the integration lock for this transaction, or say that another sequencer has it."""
    if conn.dialect.name == "postgresql":
        return bool(conn.execute(_LOCK_SQL, {"name": _LOCK_NAME}).scalar_one())
    return True  # SQLite: the transaction began IMMEDIATE, so we hold the write lock


def integrate_batch(
    ctx: Context | None = None, options: SequencerOptions | None = None
) -> int | None:
    """Integrate one batch of queued events; the number integrated, or None if the lock is taken."""
    ctx = resolve(ctx)
    options = options or SequencerOptions()
    oldest = sa.select(QUEUE.c.seq).order_by(QUEUE.c.seq).limit(options.batch_size)
    take = sa.delete(QUEUE).where(QUEUE.c.seq.in_(oldest.scalar_subquery())).returning(*QUEUE.c)
    # One read when idle: no SQLite write lock, no PostgreSQL transaction.
    with reading(ctx.engine) as peek:
        if peek.execute(sa.select(QUEUE.c.seq).limit(1)).first() is None:
            return 0
    with transaction(ctx.engine) as session:
        conn = session.connection()
        if not _try_lock(conn):
            return None
        rows = sorted(conn.execute(take).all(), key=lambda r: int(r.seq))
        if not rows:
            return 0  # another sequencer took them; nothing was locked or written
        integrate_rows(conn, rows)
        if options.checkpoint_every is not None:
            sign_head(conn, ctx, older_than=options.checkpoint_every)
    return len(rows)


def _checkpoint_due(ctx: Context, every: timedelta) -> bool:
    """The log grew past its newest checkpoint, and that one is older than ``every`` (a read)."""
    origin = ctx.settings.audit_origin
    with reading(ctx.engine) as conn:
        size = read_head(conn).size
        newest = conn.execute(
            sa.select(CHECKPOINTS.c.size, CHECKPOINTS.c.published_at)
            .where(CHECKPOINTS.c.origin == origin)
            .order_by(CHECKPOINTS.c.size.desc())
            .limit(1)
        ).first()
    if newest is None:
        return size > 0
    return size > int(newest.size) and ctx.clock.now() - ensure_aware(newest.published_at) >= every


def sign_if_due(ctx: Context | None = None, options: SequencerOptions | None = None) -> bool:
    """Sign a checkpoint when the log grew without one for ``checkpoint_every``.

    For events that reached the log without a sequencer batch (SQLite appends
    in place): the sequencer still signs a checkpoint once a minute while the
    log grows. A read decides; the write lock is taken only to sign. True if
    it signed.
    """
    ctx = resolve(ctx)
    options = options or SequencerOptions()
    if options.checkpoint_every is None or not _checkpoint_due(ctx, options.checkpoint_every):
        return False
    with transaction(ctx.engine) as session:
        conn = session.connection()
        if not _try_lock(conn):
            return False
        return sign_head(conn, ctx, older_than=options.checkpoint_every) is not None


def queue_length(ctx: Context | None = None) -> int:
    """How many committed events wait in the queue."""
    with reading(resolve(ctx).engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(QUEUE)).scalar_one())


def _max_seq(conn: Connection) -> int | None:
    value = conn.execute(sa.select(sa.func.max(QUEUE.c.seq))).scalar_one_or_none()
    return None if value is None else int(value)


def _min_seq(conn: Connection) -> int | None:
    value = conn.execute(sa.select(sa.func.min(QUEUE.c.seq))).scalar_one_or_none()
    return None if value is None else int(value)


def sequence_pending(
    ctx: Context | None = None,
    *,
    timeout: timedelta = timedelta(seconds=60),
    options: SequencerOptions | None = None,
) -> int:
    """Integrate every event committed before the call (and return how many this call did).

    Integrates itself, batch after batch, while no other sequencer holds the
    lock; otherwise waits for that one. Raises :class:`AuditPendingError` when
    queued events remain after ``timeout``.
    """
    ctx = resolve(ctx)
    deadline = time.monotonic() + timeout.total_seconds()
    with reading(ctx.engine) as conn:
        target = _max_seq(conn)
    done = 0
    while target is not None:
        got = integrate_batch(ctx, options)
        if got:
            done += got
        with reading(ctx.engine) as conn:
            low = _min_seq(conn)
        if low is None or low > target:
            break
        if time.monotonic() > deadline:
            raise AuditPendingError(
                f"audit events are still queued after {timeout.total_seconds():g} s"
            )
        if got is None:
            time.sleep(_POLL)
    return done


def wait_sequenced(
    event_id: str, ctx: Context | None = None, *, timeout: timedelta = timedelta(seconds=30)
) -> AuditRecord:
    """The event ``event_id`` as it stands in the log, with its leaf index.

    Waits (at most ``timeout``) while it is queued, integrating the queue itself
    when no other sequencer is at work. Raises :class:`NotFoundError` for an id
    neither queued nor in the log, :class:`AuditPendingError` when time runs out.
    """
    if not isinstance(event_id, str) or not event_id:
        raise ValidationError("event_id", "must be the id record() returned")
    ctx = resolve(ctx)
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        with reading(ctx.engine) as conn:
            row = conn.execute(sa.select(EVENTS).where(EVENTS.c.event_id == event_id)).one_or_none()
            if row is not None:
                return event_from_row(row)
            queued = conn.execute(
                sa.select(QUEUE.c.seq).where(QUEUE.c.event_id == event_id)
            ).one_or_none()
        if queued is None:
            # Integrated between the two reads? Look once more before saying no.
            with reading(ctx.engine) as conn:
                row = conn.execute(
                    sa.select(EVENTS).where(EVENTS.c.event_id == event_id)
                ).one_or_none()
            if row is not None:
                return event_from_row(row)
            raise NotFoundError(f"no audit event {event_id!r} is queued or in the log")
        if time.monotonic() > deadline:
            raise AuditPendingError(
                f"audit event {event_id!r} is still queued after {timeout.total_seconds():g} s"
            )
        if integrate_batch(ctx) is None:
            time.sleep(_POLL)


def run_sequencer(
    ctx: Context | None = None,
    options: SequencerOptions | None = None,
    *,
    stop: threading.Event | None = None,
    once: bool = False,
) -> int:
    """Integrate the queue until ``stop`` is set (or, with ``once``, until it is empty).

    A full batch is followed at once by the next; a short one by a pause of
    ``options.interval``, an empty queue by ``options.idle_interval``. Returns
    the number of events this sequencer integrated.
    A failing store is retried after a pause, so a server's sequencer survives
    a database restart; ``once`` raises instead.
    """
    ctx = resolve(ctx)
    options = options or SequencerOptions()
    stop = stop or threading.Event()
    total = 0
    next_look = time.monotonic()
    while not stop.is_set():
        try:
            got = integrate_batch(ctx, options)
            if got == 0 and time.monotonic() >= next_look:
                next_look = time.monotonic() + _CHECKPOINT_LOOK
                sign_if_due(ctx, options)
        except StoreError:
            if once:
                raise
            stop.wait(1.0)
            continue
        total += got or 0
        if got == options.batch_size:
            continue
        if once and got is not None:
            break
        pause = options.interval if got else max(options.interval, options.idle_interval)
        stop.wait(pause.total_seconds())
    return total


class Sequencer:
    """A sequencer on a background thread, for a long-running process (server, batch).

    ``with Sequencer(ctx):`` runs one while the block runs; on leaving, it
    integrates what is left (bounded) and stops.
    """

    def __init__(self, ctx: Context | None = None, options: SequencerOptions | None = None) -> None:
        self.ctx = resolve(ctx)
        self.options = options or SequencerOptions()
        self.stopping = threading.Event()
        self.integrated = 0
        self.thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)

    def _run(self) -> None:
        self.integrated = run_sequencer(self.ctx, self.options, stop=self.stopping)

    def start(self) -> Sequencer:
        self.thread.start()
        return self

    def stop(self, *, drain: bool = True) -> None:
        """Stop the thread; with ``drain``, integrate what was queued before returning."""
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        if drain:
            sequence_pending(self.ctx, options=self.options)

    def __enter__(self) -> Sequencer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(drain=exc_type is None)


def publish_checkpoint(ctx: Context | None = None) -> SignedCheckpoint:
    """Integrate what is queued, then sign and store a checkpoint of the log.

    The checkpoint covers every event committed before the call (and only
    sequenced ones); if one was published at this size already, that one is
    returned.
    """
    ctx = resolve(ctx)
    sequence_pending(ctx)
    return publish_head(ctx)


def _caught_up(call: Callable[[], T], ctx: Context) -> T:
    """Run a proof; if it asks for a size beyond the log's, integrate the queue (bounded) and retry.

    The common case (a size the log has) costs nothing extra.
    """
    try:
        return call()
    except ValidationError:
        if queue_length(ctx) == 0:
            raise
        sequence_pending(ctx)
        return call()


def root_at(size: int | None = None, ctx: Context | None = None) -> bytes:
    """The RFC 6962 root of the log at ``size`` (default: now), waiting for queued events."""
    ctx = resolve(ctx)
    return _caught_up(lambda: _log.root_at(size, ctx), ctx)


def inclusion_proof(index: int, size: int | None = None, ctx: Context | None = None) -> list[bytes]:
    """The inclusion proof of event ``index`` at ``size`` (default: now), waiting for the queue."""
    ctx = resolve(ctx)
    return _caught_up(lambda: _log.inclusion_proof(index, size, ctx), ctx)


def consistency_proof(
    old_size: int, new_size: int | None = None, ctx: Context | None = None
) -> list[bytes]:
    """The consistency proof ``old_size -> new_size`` (default: now), waiting for the queue."""
    ctx = resolve(ctx)
    return _caught_up(lambda: _log.consistency_proof(old_size, new_size, ctx), ctx)


def prove_consistency(
    old_size: int, new_size: int | None = None, ctx: Context | None = None
) -> _checkpoint.ConsistencyProof:
    """:func:`evservice.audit._checkpoint.prove_consistency`, waiting for queued events first."""
    ctx = resolve(ctx)
    return _caught_up(lambda: _checkpoint.prove_consistency(old_size, new_size, ctx), ctx)
