"""A process the kill tests SIGKILL at random moments: a writer or a sequencer, forever.

``python -m tests.audit._killable writer URL DATA_DIR START`` records one
event per transaction with ``record`` (``data.n`` counting up from START) and
prints each committed ``n``: on PostgreSQL it queues, on SQLite it appends in
place (or queues while the log is empty or events wait). ``... queuer URL
DATA_DIR START`` does the same through the queue on either back end.
``... sequencer URL DATA_DIR`` integrates in small batches without pause. All
run until they are killed.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path


def main(argv: list[str]) -> None:
    from evservice._context import Context
    from evservice.audit import NewEvent, SequencerOptions, record, run_sequencer
    from evservice.audit._log import queue_many
    from evservice.config import Settings
    from evservice.store import get_engine, transaction

    role, url, data_dir = argv[:3]
    settings = Settings(data_dir=Path(data_dir), database_url=url, _env_file=None)  # type: ignore[call-arg]
    ctx = Context(settings=settings)
    engine = ctx.__dict__["engine"] = get_engine(url)  # the test migrated it
    if role == "sequencer":
        options = SequencerOptions(
            batch_size=7, interval=timedelta(milliseconds=1), checkpoint_every=timedelta(0)
        )
        print("ready", flush=True)
        run_sequencer(ctx, options)
        return
    n = int(argv[3])
    print("ready", flush=True)
    while True:
        with transaction(engine) as session:
            if role == "queuer":
                event = NewEvent("invoice.issued", f"inv-{n}", "system", ctx.clock.now(), {"n": n})
                queue_many(session, [event])
            else:
                record(
                    session,
                    type="invoice.issued",
                    subject=f"inv-{n}",
                    actor="system",
                    at=ctx.clock.now(),
                    data={"n": n},
                )
        print(n, flush=True)
        n += 1


if __name__ == "__main__":
    main(sys.argv[1:])
