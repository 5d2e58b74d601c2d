"""Code run in spawned processes by the concurrency tests (importable, no pytest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def append_worker(
    url: str, data_dir: str, worker: int, count: int, barrier: Any, checkpoints: bool
) -> list[str]:
    """Append ``count`` events (some one by one, some three at a time) once all workers are ready.

    Returns the ids of the events this worker queued, in its order. A worker
    with ``checkpoints`` publishes a checkpoint after each transaction (which
    integrates the queue first), racing the appenders and the other workers'
    sequencer runs; every worker runs one sequencer batch after every third
    transaction, so several sequencers race for the integration lock.
    """
    from evservice._context import Context
    from evservice.audit import NewEvent, publish_checkpoint, record, record_many
    from evservice.audit._sequencer import integrate_batch
    from evservice.clock import ManualClock
    from evservice.config import Settings
    from evservice.store import get_engine, transaction

    settings = Settings(data_dir=Path(data_dir), database_url=url, _env_file=None)  # type: ignore[call-arg]
    clock = ManualClock(datetime(2026, 11, 1, 2, 0, tzinfo=UTC) + timedelta(microseconds=worker))
    ctx = Context(settings=settings, clock=clock)
    # The parent migrated the store; skip re-running Alembic in every worker.
    engine = ctx.__dict__["engine"] = get_engine(url)
    with engine.connect() as conn:  # open a connection before the race starts
        conn.exec_driver_sql("SELECT 1")
    barrier.wait(timeout=120)
    ids: list[str] = []
    transactions = 0
    done = 0
    while done < count:
        with transaction(engine) as session:
            if done % 4 == 3 and done + 3 <= count:
                events = [
                    NewEvent("otp.sent", f"w{worker}-{done + k}", "system", clock.now(), {"k": k})
                    for k in range(3)
                ]
                ids.extend(r.id for r in record_many(session, events))
                done += 3
            else:
                rec = record(
                    session,
                    type="invoice.issued",
                    subject=f"w{worker}-{done}",
                    actor="system",
                    at=clock.now(),
                    data={"worker": worker, "n": done},
                )
                ids.append(rec.id)
                done += 1
        transactions += 1
        if checkpoints:
            publish_checkpoint(ctx)
        elif transactions % 3 == 0:
            integrate_batch(ctx)
    return ids


def warm_up() -> int:
    """Import the library once in a pool worker, before any timed or racing work."""
    import os

    import evservice.audit  # noqa: F401

    return os.getpid()
