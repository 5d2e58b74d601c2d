"""Tampering with the stored log directly in the database is found and the row is named.

Each test fills a log, changes one thing with SQL as someone with database
access could, and expects :func:`verify_log` to fail and point at the row.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import publish_checkpoint, verify_log
from evservice.audit._log import EVENTS, HEAD, NODES, QUEUE, event_from_row
from evservice.audit._merkle import MemoryTree

from .conftest import Append

Sql = Callable[..., None]
N = 20


@pytest.fixture
def log(ctx: Context, append: Append) -> Context:
    append(N, per_tx=5)
    assert verify_log(ctx).ok
    return ctx


def _shift(sql: Sql, start: int, by: int) -> None:
    """Renumber rows idx >= start by ``by`` (in two steps: the key is unique)."""
    sql("update audit_event set idx = idx + 1000000 where idx >= :s", s=start)
    sql("update audit_event set idx = idx - 1000000 + :b where idx >= 1000000", b=by)


def _kinds(ctx: Context) -> list[tuple[str, int | None]]:
    result = verify_log(ctx)
    assert not result.ok
    assert "NOT intact" in result.summary()
    return [(p.kind, p.index) for p in result.problems]


def test_edited_field_names_the_row(log: Context, raw_sql: Sql) -> None:
    raw_sql("update audit_event set actor = 'operator:mallory' where idx = 5")
    assert _kinds(log) == [("edited", 5)]
    assert verify_log(log).first_bad_index == 5


def test_edited_data_and_time_are_found(log: Context, raw_sql: Sql) -> None:
    raw_sql(
        "update audit_event set data = replace(data, :old, :new) where idx = 7",
        old='"n":7',
        new='"n":70',
    )
    with log.engine.begin() as conn:  # through the column type, so both back ends store it
        conn.execute(
            sa.update(EVENTS)
            .where(EVENTS.c.idx == 11)
            .values(at=datetime(2026, 11, 1, 2, 0, 30, tzinfo=UTC))
        )
    assert _kinds(log) == [("edited", 7), ("edited", 11)]


def test_edited_schema_version_is_found(log: Context, raw_sql: Sql) -> None:
    raw_sql("update audit_event set v = 2 where idx = 0")
    assert _kinds(log) == [("edited", 0)]


def test_deleted_row_is_named(log: Context, raw_sql: Sql) -> None:
    raw_sql("delete from audit_event where idx = 4")
    assert _kinds(log) == [("deleted", 4)]


def test_deleted_last_row_is_named(log: Context, raw_sql: Sql) -> None:
    raw_sql("delete from audit_event where idx = :i", i=N - 1)
    assert _kinds(log) == [("deleted", N - 1)]


def _forged_row(ctx: Context, idx: int) -> dict[str, object]:
    with ctx.engine.connect() as conn:
        template = conn.execute(sa.select(EVENTS).where(EVENTS.c.idx == 3)).one()
    row = dict(template._mapping)
    row.update(idx=idx, event_id="00000000-0000-4000-8000-000000000000", subject="inv-forged")
    return row


def test_inserted_row_at_the_end_is_named(log: Context) -> None:
    forged = _forged_row(log, N)
    with log.engine.begin() as conn:
        conn.execute(sa.insert(EVENTS).values(**forged))
    assert _kinds(log) == [("inserted", N)]


def test_inserted_row_in_the_middle_is_named(log: Context, raw_sql: Sql) -> None:
    forged = _forged_row(log, 6)
    _shift(raw_sql, 6, 1)
    with log.engine.begin() as conn:
        conn.execute(sa.insert(EVENTS).values(**forged))
    kinds = _kinds(log)
    assert kinds[0] == ("inserted", 6)
    assert ("inserted", N) in kinds  # the last real event now sits past the log's size


def test_deleted_row_with_renumbering_is_named(log: Context, raw_sql: Sql) -> None:
    raw_sql("delete from audit_event where idx = 9")
    _shift(raw_sql, 10, -1)
    kinds = _kinds(log)
    assert kinds[0] == ("deleted", 9)


def test_swapped_rows_are_named(log: Context, raw_sql: Sql) -> None:
    raw_sql("update audit_event set idx = 1000 where idx = 12")
    raw_sql("update audit_event set idx = 12 where idx = 13")
    raw_sql("update audit_event set idx = 13 where idx = 1000")
    result = verify_log(log)
    assert [(p.kind, p.index) for p in result.problems] == [("reordered", 12)]
    assert "rows 12 and 13" in result.summary()


def test_tampered_node_is_named(log: Context, raw_sql: Sql) -> None:
    raw_sql("update audit_node set hash = :h where level = 2 and idx = 1", h=b"\x01" * 32)
    assert _kinds(log) == [("node", 4)]


def test_tampered_head_is_found(log: Context, raw_sql: Sql) -> None:
    with log.engine.begin() as conn:
        frontier = conn.execute(sa.select(HEAD.c.frontier)).scalar_one()
        raw = bytes(frontier)
        # Flip the last byte: writing a fixed value would change nothing 1 time in 256.
        conn.execute(sa.update(HEAD).values(frontier=raw[:-1] + bytes([raw[-1] ^ 0xFF])))
    assert _kinds(log) == [("head", None)]


def _rewrite_consistently(ctx: Context, edit_idx: int) -> None:
    """Edit one event and recompute every stored hash and the head, as a careful attacker."""
    with ctx.engine.begin() as conn:
        conn.execute(
            sa.update(EVENTS).where(EVENTS.c.idx == edit_idx).values(actor="operator:mallory")
        )
        rows = conn.execute(sa.select(EVENTS).order_by(EVENTS.c.idx)).all()
        tree = MemoryTree()
        for row in rows:
            tree.append_leaf(event_from_row(row).leaf_hash)
        conn.execute(sa.delete(NODES))
        conn.execute(
            sa.insert(NODES),
            [{"level": lv, "idx": i, "hash": h} for (lv, i), h in tree.nodes.items()],
        )
        conn.execute(sa.update(HEAD).values(size=tree.size, frontier=tree.frontier.to_bytes()))


def test_consistent_rewrite_is_caught_by_the_signed_checkpoint(log: Context) -> None:
    before = publish_checkpoint(log)
    _rewrite_consistently(log, 3)
    result = verify_log(log)
    assert not result.ok
    assert [p.kind for p in result.problems] == ["checkpoint"]
    assert f"size {before.size}" in result.summary()


def test_consistent_rewrite_is_caught_by_a_checkpoint_kept_outside(
    log: Context, raw_sql: Sql
) -> None:
    kept = publish_checkpoint(log).note
    raw_sql("delete from audit_checkpoint")  # the attacker also removes the stored copies
    _rewrite_consistently(log, 8)
    alone = verify_log(log)  # inside the store, only the missing checkpoints tell ...
    assert [p.kind for p in alone.problems] == ["no-checkpoint"]
    assert "no checkpoint" in alone.summary()
    assert "no external checkpoint was given" in alone.summary()
    result = verify_log(log, checkpoints=[kept])  # ... the auditor's copy names the rewrite
    assert not result.ok
    assert "given checkpoint #1" in result.summary()
    assert "no external checkpoint" not in result.summary()
    assert "events do not hash to the root signed by the given checkpoint #1" in result.summary()


def test_truncated_log_is_caught_by_a_later_checkpoint(log: Context, raw_sql: Sql) -> None:
    publish_checkpoint(log)
    raw_sql("delete from audit_event where idx >= 15")
    raw_sql("delete from audit_node where idx >= 0 and level = 0 and idx >= 15")
    with log.engine.begin() as conn:
        rows = conn.execute(sa.select(EVENTS).order_by(EVENTS.c.idx)).all()
        tree = MemoryTree()
        for row in rows:
            tree.append_leaf(event_from_row(row).leaf_hash)
        conn.execute(sa.update(HEAD).values(size=tree.size, frontier=tree.frontier.to_bytes()))
    result = verify_log(log)
    assert not result.ok
    assert "events were removed" in result.summary()


def test_forged_checkpoint_row_is_found(log: Context, raw_sql: Sql) -> None:
    cp = publish_checkpoint(log)
    forged = cp.note.replace(f"\n{N}\n", f"\n{N - 1}\n")
    raw_sql("update audit_checkpoint set note = :n", n=forged)
    result = verify_log(log)
    assert [p.kind for p in result.problems] == ["checkpoint"]
    assert "does not verify" in result.summary()


@pytest.mark.parametrize("chunk_size", [1, 3, 7])
def test_small_chunks_give_the_same_verdict(log: Context, raw_sql: Sql, chunk_size: int) -> None:
    """Problems that straddle chunk boundaries are named the same way."""
    publish_checkpoint(log)
    raw_sql("update audit_event set actor = 'operator:mallory' where idx = 2")
    raw_sql("delete from audit_event where idx = 6")
    raw_sql("update audit_event set idx = 1000 where idx = 11")
    raw_sql("update audit_event set idx = 11 where idx = 12")
    raw_sql("update audit_event set idx = 12 where idx = 1000")
    whole = verify_log(log)
    chunked = verify_log(log, chunk_size=chunk_size)
    assert [(p.kind, p.index) for p in chunked.problems] == [
        (p.kind, p.index) for p in whole.problems
    ]
    assert [(p.kind, p.index) for p in whole.problems if p.index is not None] == [
        ("edited", 2),
        ("deleted", 6),
        ("reordered", 11),
    ]
    assert chunked.rows == whole.rows == N - 1


# -- issue 19 item 8: each kind of damage named as what it is ------------------------


def test_deleting_every_checkpoint_fails_with_no_checkpoint(log: Context, raw_sql: Sql) -> None:
    assert verify_log(log).checkpoints_checked >= 1  # the sequencer signed one
    raw_sql("delete from audit_checkpoint")
    result = verify_log(log)
    assert [(p.kind, p.index) for p in result.problems] == [("no-checkpoint", None)]
    assert "no checkpoint:" in result.summary()


def test_the_summary_says_whether_an_external_checkpoint_was_given(log: Context) -> None:
    kept = publish_checkpoint(log).note
    assert "no external checkpoint was given" in verify_log(log).summary()
    given = verify_log(log, checkpoints=[kept])
    assert given.ok, given.summary()
    assert "no external checkpoint" not in given.summary()


def test_an_external_checkpoint_whose_stored_copy_was_deleted(log: Context, raw_sql: Sql) -> None:
    kept = publish_checkpoint(log)
    raw_sql("delete from audit_checkpoint where size = :s", s=kept.size)
    result = verify_log(log, checkpoints=[kept.note])
    assert not result.ok
    assert "has no stored copy: the stored checkpoint was deleted" in result.summary()


def test_an_emptied_log_is_reported_not_raised(log: Context, raw_sql: Sql) -> None:
    raw_sql("delete from audit_event")
    raw_sql("delete from audit_node")
    result = verify_log(log)
    assert [p.kind for p in result.problems] == ["emptied"]
    assert "holds no events, but its head records 20" in result.summary()
    raw_sql("update audit_log_head set size = 0, frontier = :f", f=b"")  # head reset too
    result = verify_log(log)
    assert not result.ok
    assert "emptied" in [p.kind for p in result.problems]
    assert "events were removed" in result.summary()
    raw_sql("delete from audit_log_head")  # and the head row itself
    result = verify_log(log)
    assert not result.ok
    assert "the log head row is missing" in result.summary()


def test_an_edited_leaf_hash_is_a_node_not_an_event(log: Context, raw_sql: Sql) -> None:
    raw_sql("update audit_node set hash = :h where level = 0 and idx = 6", h=b"\x02" * 32)
    assert _kinds(log) == [("node", 6)]
    assert "stored leaf hash (0, 6) was edited" in verify_log(log).summary()


def test_an_edited_last_leaf_hash_is_told_by_the_checkpoint(
    ctx: Context, append: Append, raw_sql: Sql
) -> None:
    append(5)  # leaf 4 has no sibling: only the signed checkpoint can vouch for the event
    raw_sql("update audit_node set hash = :h where level = 0 and idx = 4", h=b"\x02" * 32)
    assert _kinds(ctx) == [("node", 4)]


def test_an_event_rewritten_with_its_leaf_is_named_rewritten(log: Context, raw_sql: Sql) -> None:
    raw_sql("update audit_event set actor = 'operator:mallory' where idx = 9")
    with log.engine.begin() as conn:
        row = conn.execute(sa.select(EVENTS).where(EVENTS.c.idx == 9)).one()
        conn.execute(
            sa.update(NODES)
            .where(NODES.c.level == 0, NODES.c.idx == 9)
            .values(hash=event_from_row(row).leaf_hash)
        )
    kinds = _kinds(log)
    assert kinds == [("rewritten", 8)]


def test_a_stale_queue_and_an_event_both_queued_and_logged(log: Context, raw_sql: Sql) -> None:
    with log.engine.begin() as conn:
        row = conn.execute(sa.select(EVENTS).where(EVENTS.c.idx == 3)).one()._asdict()
        row.pop("idx")
        conn.execute(sa.insert(QUEUE).values(**row))  # integrated, yet still queued
    result = verify_log(log)
    assert [(p.kind, p.index) for p in result.problems] == [("queue", 3)]
    assert "is in the log and still queued" in result.summary()
    log.clock.advance(3600)  # type: ignore[attr-defined]  # an hour on, it is still there
    result = verify_log(log)
    assert [(p.kind, p.index) for p in result.problems] == [("queue", 3), ("queue", None)]
    assert "wait in the queue longer than 0:10:00" in result.summary()
    raw_sql("delete from audit_queue")
    assert verify_log(log).ok
