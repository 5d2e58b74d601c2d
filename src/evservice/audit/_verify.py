"""Verify the whole stored log: re-hash every event, rebuild the tree, compare.

``verify_log`` never trusts a stored hash on its own. It streams the events in
index order, a chunk at a time, recomputes each leaf from the stored fields,
rebuilds the tree with the same frontier code the appenders use, and compares

* each recomputed leaf with the stored leaf (names edited, reordered, inserted
  and deleted rows);
* each subtree it completes with the stored node (names tampered nodes);
* the rebuilt root at every signed checkpoint's size with the root that the
  checkpoint signs (catches a rewrite that also recomputed the stored hashes);
* the final frontier with the stored log head;
* the queue: no event waits longer than ``max_queue_age``, and no queued
  event is also in the log (it would be integrated twice);
* the domain rows, through ``domain_checks`` that the domains provide
  (``invoices.audit_check`` compares each invoice's amount, draft and
  document hashes with its events).

A leaf that disagrees with its event is told apart: when the tree above it
(the stored parent, or a signed checkpoint) agrees with the *event*, the stored
leaf hash was edited (``node``); otherwise the event was (``edited``). A
subtree mismatch whose parent still agrees is an edited ``node``; one whose
ancestors all disagree means events beneath it were rewritten together with
their lower hashes (``rewritten``).

A log with events but no stored checkpoint fails (``no-checkpoint``): the
sequencer signs one after its first batch, so none left means they were
deleted. Checkpoints kept outside the store (``checkpoints=``) are the only
defence against a consistent rewrite of everything stored; the summary says
when none was given.

Memory stays O(chunk + log n + checkpoints): the log is never loaded whole.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from evservice._context import Context, resolve
from evservice.audit._checkpoint import iter_checkpoints
from evservice.audit._keys import check_origin, log_public_key_string
from evservice.audit._log import EVENTS, NODES, QUEUE, event_from_row, read_head
from evservice.audit._merkle import EMPTY_ROOT, Frontier, NodeKey
from evservice.audit._offline import NoteError, open_checkpoint
from evservice.errors import StoreError, ValidationError
from evservice.store import is_postgres

__all__ = ["DomainCheck", "LogProblem", "LogVerification", "verify_log"]

_MISSING = b"\x00" * 32
_MAX_OBSERVATIONS = 10_000


@dataclass(frozen=True)
class LogProblem:
    """One thing wrong with the log. ``index`` names the row (or leaf) when there is one.

    Kinds: ``edited``, ``deleted``, ``inserted``, ``reordered`` (event rows),
    ``rewritten`` (events and their lower hashes rewritten together), ``node``
    (a stored subtree or leaf hash edited, the events intact), ``head`` (the
    stored size/frontier, or its row missing), ``emptied`` (no events left
    where the log had some), ``checkpoint`` (a signed checkpoint disagrees,
    does not verify, or its stored copy is gone), ``no-checkpoint`` (events but
    no stored checkpoint at all), ``queue`` (an event waits too long, or is
    both queued and in the log), ``domain`` (a domain row disagrees with its
    events, or has none).
    """

    kind: str
    index: int | None
    detail: str

    def __str__(self) -> str:
        where = f" at index {self.index}" if self.index is not None else ""
        return f"{self.kind}{where}: {self.detail}"


@dataclass(frozen=True)
class LogVerification:
    """The outcome of :func:`verify_log`: ``ok`` only if nothing was wrong."""

    ok: bool
    size: int
    rows: int
    root: bytes
    checkpoints_checked: int
    problems: tuple[LogProblem, ...] = ()
    warnings: tuple[str, ...] = ()
    more_problems: int = 0
    notes: tuple[str, ...] = ()
    queued: int = 0

    @property
    def first_bad_index(self) -> int | None:
        """The lowest row index named by a problem, if any."""
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None

    def summary(self) -> str:
        """The verdict, then one line per problem (and warnings)."""
        if self.ok:
            head = (
                f"audit log intact: {self.rows} events re-hashed, root {self.root.hex()} "
                f"at size {self.size}, {self.checkpoints_checked} signed checkpoint(s) match, "
                f"{self.queued} event(s) queued"
            )
        else:
            count = len(self.problems) + self.more_problems
            head = (
                f"audit log NOT intact: {count} problem(s) in {self.rows} rows (size {self.size})"
            )
        lines = [head, *(f"  {p}" for p in self.problems)]
        if self.more_problems:
            lines.append(f"  ... and {self.more_problems} more")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


@dataclass
class _Target:
    size: int
    root: bytes
    label: str


@dataclass
class _State:
    """Mutable state of one verification run."""

    size: int
    max_problems: int
    problems: list[LogProblem] = field(default_factory=list)
    more: int = 0
    warnings: list[str] = field(default_factory=list)
    observations: list[tuple[int, int | None, str]] = field(default_factory=list)
    bad_leaves: list[int] = field(default_factory=list)
    targets: dict[int, list[_Target]] = field(default_factory=dict)
    checked: int = 0
    notes: list[str] = field(default_factory=list)
    matched_sizes: list[int] = field(default_factory=list)
    leaf_node_edited: set[int] = field(default_factory=set)
    node_mismatches: dict[NodeKey, str] = field(default_factory=dict)
    skipped_nodes: set[NodeKey] = field(default_factory=set)
    unmatched: list[_Target] = field(default_factory=list)

    def add(self, kind: str, index: int | None, detail: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(LogProblem(kind, index, detail))
        else:
            self.more += 1


def _collect_checkpoints(
    conn: Connection, state: _State, origin: str, vkey: str, external: Sequence[str]
) -> None:
    """Verify every stored (and given) checkpoint's signature; keep their roots as targets."""
    notes: list[tuple[str, str, int | None, bytes | None]] = []
    stored_roots: dict[int, bytes] = {}
    for stored in iter_checkpoints(conn):
        if stored.origin != origin:
            state.warnings.append(
                f"checkpoint at size {stored.size} has origin {stored.origin!r}, not checked"
            )
            continue
        stored_roots[stored.size] = stored.root_hash
        notes.append(
            (f"stored checkpoint at size {stored.size}", stored.note, stored.size, stored.root_hash)
        )
    if state.size > 0 and not stored_roots:
        state.add(
            "no-checkpoint",
            None,
            f"no checkpoint: the log has {state.size} events but no stored signed checkpoint "
            "(the sequencer signs one after its first batch): they were deleted",
        )
    if not external:
        state.notes.append(
            "no external checkpoint was given: the log was checked only against the "
            "checkpoints stored with it (give an auditor's copy with --checkpoint)"
        )
    for n, note in enumerate(external):
        notes.append((f"given checkpoint #{n + 1}", note, None, None))
    for label, note, row_size, row_root in notes:
        try:
            opened = open_checkpoint(note, vkey)
        except NoteError as exc:
            state.add("checkpoint", None, f"{label} does not verify: {exc}")
            continue
        if row_size is not None and (opened.size != row_size or opened.root_hash != row_root):
            state.add("checkpoint", None, f"{label}: the stored row differs from its signed note")
        if row_size is None and opened.size > 0:
            kept = stored_roots.get(opened.size)
            if kept is None:
                state.add(
                    "checkpoint",
                    None,
                    f"{label} (size {opened.size}) has no stored copy: the stored checkpoint "
                    "was deleted",
                )
            elif kept != opened.root_hash:
                state.add(
                    "checkpoint",
                    None,
                    f"{label} (size {opened.size}) signs another root than the stored one",
                )
        if opened.size > state.size:
            state.add(
                "emptied" if state.size == 0 else "checkpoint",
                None,
                f"{label} signs size {opened.size} but the log has only {state.size} events: "
                "events were removed",
            )
            continue
        state.targets.setdefault(opened.size, []).append(
            _Target(opened.size, opened.root_hash, label)
        )


def _check_targets(state: _State, tree: Frontier) -> None:
    for target in state.targets.get(tree.size, ()):
        state.checked += 1
        if tree.root() == target.root:
            state.matched_sizes.append(tree.size)
            continue
        first_bad = state.bad_leaves[0] if state.bad_leaves else None
        if first_bad is not None and first_bad < tree.size:
            # The damage named at that row explains it; one problem, not two.
            state.notes.append(
                f"the {target.label} does not match the events either (first bad row: {first_bad})"
            )
            continue
        state.unmatched.append(target)  # named at the end, when node damage is known


def _name_unmatched(state: _State) -> None:
    """A checkpoint the events do not reach: its own problem, unless damage below explains it."""
    for target in state.unmatched:
        below = [lo for (level, idx) in state.node_mismatches if (lo := idx << level) < target.size]
        if below:
            state.notes.append(
                f"the {target.label} does not match the events either (first bad row: {min(below)})"
            )
            continue
        state.add(
            "checkpoint", None, f"the events do not hash to the root signed by the {target.label}"
        )


def _stored_range(conn: Connection, level: int, lo: int, hi: int) -> dict[int, bytes]:
    rows = conn.execute(
        sa.select(NODES.c.idx, NODES.c.hash).where(
            NODES.c.level == level, NODES.c.idx >= lo, NODES.c.idx <= hi
        )
    )
    return {int(r.idx): bytes(r.hash) for r in rows}


def _compare_nodes(conn: Connection, state: _State, pending: list[tuple[int, int, bytes]]) -> None:
    """Compare completed subtrees (level >= 1) with the stored nodes, level by level.

    Mismatches are kept in ``state.node_mismatches`` and named at the end
    (:func:`_name_nodes`), when their parents are known. A level-1 node over one
    bad leaf that still matches says that the leaf's stored hash was edited,
    not its event.
    """
    by_level: dict[int, list[tuple[int, bytes]]] = {}
    for level, idx, h in pending:
        by_level.setdefault(level, []).append((idx, h))
    for level, items in sorted(by_level.items()):
        stored = _stored_range(conn, level, items[0][0], items[-1][0])
        for idx, h in items:
            lo, hi = idx << level, (idx + 1) << level
            pos = bisect.bisect_left(state.bad_leaves, lo)
            got = stored.get(idx)
            if pos < len(state.bad_leaves) and state.bad_leaves[pos] < hi:
                bad = state.bad_leaves[pos : bisect.bisect_left(state.bad_leaves, hi)]
                if level == 1 and len(bad) == 1 and got == h:
                    state.leaf_node_edited.add(bad[0])
                state.skipped_nodes.add((level, idx))
                continue  # a consequence of a bad leaf already named
            if got is None:
                state.node_mismatches[(level, idx)] = f"stored subtree ({level}, {idx}) is missing"
            elif got != h:
                state.node_mismatches[(level, idx)] = (
                    f"stored subtree ({level}, {idx}) differs from the events"
                )
    pending.clear()


def _name_nodes(state: _State, size: int) -> None:
    """Name each stored-subtree mismatch: an edited node, or the top of a rewrite below it."""
    mismatched = state.node_mismatches
    for level, idx in sorted(mismatched):
        parent = (level + 1, idx >> 1)
        lo, hi = idx << level, (idx + 1) << level
        if (level - 1, idx * 2) in mismatched or (level - 1, idx * 2 + 1) in mismatched:
            continue  # above a mismatch already named
        parent_complete = ((parent[1] + 1) << parent[0]) <= size
        if parent in mismatched:
            state.add(
                "rewritten",
                lo,
                f"events {lo}..{hi - 1} and their stored hashes up to level {level - 1} were "
                f"rewritten: stored subtree ({level}, {idx}) and every one above it disagree "
                "with them",
            )
        elif parent_complete and parent not in state.skipped_nodes:
            state.add("node", lo, f"{mismatched[(level, idx)]}; the tree above it agrees")
        elif any(s >= hi for s in state.matched_sizes):
            state.add("node", lo, f"{mismatched[(level, idx)]}; a signed checkpoint agrees")
        else:
            state.add("node", lo, mismatched[(level, idx)])


def _classify(state: _State) -> None:
    """Turn leaf mismatches into edited / inserted / deleted / reordered problems."""
    obs = sorted(state.observations)
    found = {i: j for i, j, _ in obs}
    done: set[int] = set()
    for pos, (i, j, name) in enumerate(obs):
        if i in done:
            continue
        done.add(i)
        if j is not None and found.get(j) == i and j not in done:
            done.add(j)
            state.add("reordered", i, f"rows {i} and {j} hold each other's events ({name})")
            continue
        run = 0
        step = -1 if j is None else (j - i)
        if step in (-1, 1):
            k = pos + 1
            while (
                k < len(obs)
                and obs[k][0] == i + run + 1
                and obs[k][1] == obs[k][0] + (-1 if j is None else step)
            ):
                run += 1
                done.add(obs[k][0])
                k += 1
        if j is None and run:
            state.add(
                "inserted",
                i,
                f"a row that the log never recorded ({name}); the {run} row(s) after it "
                "are shifted up by one",
            )
        elif j is None and (i in state.leaf_node_edited or any(s > i for s in state.matched_sizes)):
            state.add(
                "node",
                i,
                f"stored leaf hash (0, {i}) was edited; the event ({name}) agrees with the "
                "tree above it",
            )
        elif j is None:
            state.add(
                "edited", i, f"the stored fields no longer hash to the recorded leaf ({name})"
            )
        elif j == i + 1:
            state.add(
                "deleted",
                i,
                f"the event recorded at index {i} is missing; {run + 1} later row(s) were "
                "renumbered down to close the gap",
            )
        else:
            shifted = f" and {run} more row(s) shifted the same way" if run else ""
            state.add("reordered", i, f"holds the event recorded at index {j} ({name}){shifted}")


#: A check of one domain's rows against their events (see ``invoices.audit_check``).
DomainCheck = Callable[[Connection], Iterable[LogProblem]]


def verify_log(
    ctx: Context | None = None,
    *,
    checkpoints: Iterable[str] = (),
    chunk_size: int = 2000,
    max_problems: int = 100,
    time_skew: timedelta = timedelta(minutes=5),
    max_queue_age: timedelta = timedelta(minutes=10),
    domain_checks: Sequence[DomainCheck] = (),
) -> LogVerification:
    """Re-hash every stored event and check the log against itself and its checkpoints.

    ``checkpoints`` are extra signed checkpoint notes kept outside the store (by
    an auditor or a witness); they are checked like the stored ones, and each
    must still have its stored copy. A time going backwards by more than
    ``time_skew`` between consecutive rows is a warning (concurrent writers may
    be a little out of order; a forged row often is by much more). An event
    queued for longer than ``max_queue_age`` (by the context's clock) is a
    problem: no sequencer is running. ``domain_checks`` compare domain rows
    with their events inside the same snapshot.
    """
    if chunk_size < 1:
        raise ValidationError("chunk_size", "must be at least 1")
    ctx = resolve(ctx)
    origin = check_origin(ctx.settings.audit_origin)
    vkey = log_public_key_string(ctx.settings)
    engine = ctx.engine
    now = ctx.clock.now()
    try:
        conn_cm = engine.connect()
        if is_postgres(engine):
            conn_cm = conn_cm.execution_options(isolation_level="REPEATABLE READ")
        with conn_cm as conn:
            state, tree, rows = _verify(
                conn, origin, vkey, list(checkpoints), chunk_size, max_problems, time_skew
            )
            queued = _check_queue(conn, state, now, max_queue_age)
            for check in domain_checks:
                for problem in check(conn):
                    state.add(problem.kind, problem.index, problem.detail)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"reading the audit log failed: {type(exc).__name__}") from exc
    state.problems.sort(key=lambda p: (p.index is None, p.index or 0))
    return LogVerification(
        ok=not state.problems and not state.more,
        size=state.size,
        rows=rows,
        root=tree.root() if tree.size else EMPTY_ROOT,
        checkpoints_checked=state.checked,
        problems=tuple(state.problems),
        warnings=tuple(state.warnings),
        more_problems=state.more,
        notes=tuple(state.notes),
        queued=queued,
    )


def _check_queue(conn: Connection, state: _State, now: datetime, max_age: timedelta) -> int:
    """Nothing waits in the queue too long; nothing queued is also in the log already."""
    queued = int(conn.execute(sa.select(sa.func.count()).select_from(QUEUE)).scalar_one())
    if not queued:
        return 0
    oldest = conn.execute(sa.select(sa.func.min(QUEUE.c.at))).scalar_one()
    stale = int(
        conn.execute(
            sa.select(sa.func.count()).select_from(QUEUE).where(QUEUE.c.at < now - max_age)
        ).scalar_one()
    )
    if stale:
        state.add(
            "queue",
            None,
            f"{stale} event(s) wait in the queue longer than {max_age} (oldest from "
            f"{oldest.isoformat()}): no sequencer is integrating; run 'evservice audit sequence'",
        )
    twice = conn.execute(
        sa.select(QUEUE.c.event_id, EVENTS.c.idx)
        .join(EVENTS, EVENTS.c.event_id == QUEUE.c.event_id)
        .order_by(EVENTS.c.idx)
        .limit(10)
    ).all()
    for event_id, idx in twice:
        state.add(
            "queue",
            int(idx),
            f"event {event_id} is in the log and still queued: it was not removed from the "
            "queue when it was integrated",
        )
    return queued


def _read_head_or_none(conn: Connection) -> Frontier | None:
    try:
        return read_head(conn)
    except (StoreError, ValueError):
        return None


def _start(
    conn: Connection, origin: str, vkey: str, external: Sequence[str], max_problems: int
) -> tuple[Frontier | None, _State, Frontier, bool]:
    """The head, the checkpoints' targets, and whether the log was emptied."""
    stored_head = _read_head_or_none(conn)
    size = stored_head.size if stored_head is not None else 0
    state = _State(size=size, max_problems=max_problems)
    tree = Frontier()
    if stored_head is None:
        state.add("head", None, "the log head row is missing or unreadable")
    _collect_checkpoints(conn, state, origin, vkey, external)
    _check_targets(state, tree)  # checkpoints of the empty log
    if size and conn.execute(sa.select(EVENTS.c.idx).limit(1)).first() is None:
        state.add("emptied", None, f"the log holds no events, but its head records {size}")
        return stored_head, state, tree, True
    return stored_head, state, tree, False


def _verify(
    conn: Connection,
    origin: str,
    vkey: str,
    external: Sequence[str],
    chunk_size: int,
    max_problems: int,
    time_skew: timedelta,
) -> tuple[_State, Frontier, int]:
    """Stream the events in index order, rebuild the tree and name what disagrees.

    It is long because its two closures (``advance``, ``fill_gap``) share the
    tree being rebuilt, the completed nodes waiting for comparison and the
    chunk's stored leaves with the loop; apart, all of that would be passed around.
    """
    stored_head, state, tree, emptied = _start(conn, origin, vkey, external, max_problems)
    head = stored_head or Frontier()
    if emptied:
        return state, tree, 0
    pending: list[tuple[int, int, bytes]] = []
    rows_seen = 0
    last_idx: int | None = None
    last_at: datetime | None = None

    def advance(leaf: bytes) -> None:
        for level, idx, h in tree.append(leaf):
            if level:
                pending.append((level, idx, h))
        _check_targets(state, tree)

    def fill_gap(upto: int, stored: dict[int, bytes]) -> None:
        """Rows tree.size .. upto-1 are missing: name them, keep the tree going."""
        start = tree.size
        if upto <= start:
            return
        detail = "no row; the log recorded an event here"
        if upto - start > 1:
            detail = f"no rows for indexes {start}..{upto - 1}; the log recorded events there"
        state.add("deleted", start, detail)
        for missing in range(start, upto):
            state.bad_leaves.append(missing)
            advance(stored.get(missing, _MISSING))

    while True:
        query = sa.select(EVENTS).order_by(EVENTS.c.idx).limit(chunk_size)
        if last_idx is not None:
            query = query.where(EVENTS.c.idx > last_idx)
        rows = conn.execute(query).all()
        if not rows:
            break
        rows_seen += len(rows)
        last_idx = int(rows[-1].idx)
        lo, hi = max(tree.size - 1, 0), min(last_idx + 1, head.size - 1)
        stored = _stored_range(conn, 0, lo, hi) if hi >= lo else {}
        where_stored = {h: i for i, h in stored.items()}
        for row in rows:
            idx = int(row.idx)
            name = f"event {row.event_id}, {row.type} about {row.subject!r}"
            if idx < tree.size or idx >= head.size:
                state.add(
                    "inserted",
                    idx,
                    f"row beyond the log's {head.size} recorded events ({name})"
                    if idx >= head.size
                    else f"row outside the log's index range ({name})",
                )
                continue
            fill_gap(idx, stored)
            try:
                event = event_from_row(row)
                leaf = event.leaf_hash
            except (ValueError, TypeError, AttributeError) as exc:
                leaf = _MISSING
                state.warnings.append(f"row {idx} cannot be parsed: {type(exc).__name__}")
            if stored.get(idx) != leaf:
                state.bad_leaves.append(idx)
                if len(state.observations) < _MAX_OBSERVATIONS:
                    state.observations.append((idx, where_stored.get(leaf), name))
                else:
                    state.more += 1
            if last_at is not None and row.at is not None and row.at < last_at - time_skew:
                state.warnings.append(
                    f"row {idx} is dated {last_at - row.at} before the row preceding it"
                )
            last_at = row.at
            advance(leaf)
        _compare_nodes(conn, state, pending)
    while tree.size < head.size:  # rows missing at the end, a chunk at a time
        upto = min(tree.size + chunk_size, head.size)
        fill_gap(upto, _stored_range(conn, 0, tree.size, upto - 1))
        _compare_nodes(conn, state, pending)
    _compare_nodes(conn, state, pending)
    _name_nodes(state, tree.size)
    _name_unmatched(state)
    _classify(state)
    if (
        stored_head is not None
        and not state.bad_leaves
        and not state.node_mismatches
        and tree.to_bytes() != head.to_bytes()
    ):
        state.add("head", None, "the stored log head (size and frontier) differs from the events")
    return state, tree, rows_seen
