"""A process the kill tests SIGKILL at random moments: a writer or a sequencer, forever.

``python -m tests.audit._killable writer URL DATA_DIR START`` queues one event
per transaction (``data.n`` counting up from START) and prints each committed
``n``; ``... sequencer URL DATA_DIR`` integrates in small batches without
pause. Both run until they are killed.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path


def main(argv: list[str]) -> None:
    from evservice._context import Context
    from evservice.audit import SequencerOptions, record, run_sequencer
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
