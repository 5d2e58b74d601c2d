"""The stored log on SQLite and PostgreSQL: appends, proofs, checkpoints, keys."""

from __future__ import annotations

import stat
from datetime import datetime

import pytest
import sqlalchemy as sa

from evservice._context import Context
from evservice.audit import (
    EMPTY_ROOT,
    consistency_proof,
    ensure_log_key,
    get_checkpoint,
    inclusion_proof,
    latest_checkpoint,
    log_public_key_string,
    log_size,
    prove_consistency,
    publish_checkpoint,
    record,
    root_at,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_log,
)
from evservice.audit._keys import DEV_KEY_NAME
from evservice.audit._merkle import MemoryTree
from evservice.config import Settings
from evservice.errors import (
    AuditIntegrityError,
    ConfigurationError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from evservice.store import transaction

from .conftest import Append


def test_append_assigns_gapless_indexes_and_matches_memory_tree(
    ctx: Context, append: Append
) -> None:
    records = append(37, per_tx=4) + append(6)
    assert [r.index for r in records] == list(range(43))
    assert all(r.check() for r in records)
    mem = MemoryTree()
    for r in records:
        mem.append_leaf(r.leaf_hash)
    assert log_size(ctx) == 43
    assert root_at(ctx=ctx) == mem.root()
    for size in (1, 2, 3, 16, 17, 42, 43):
        root = root_at(size, ctx)
        assert root == mem.root(size)
        for index in {0, size // 2, size - 1}:
            proof = inclusion_proof(index, size, ctx)
            assert proof == mem.inclusion_proof(index, size)
            assert verify_inclusion(index, size, records[index].leaf_hash, proof, root)
        for old in {0, 1, size // 3, size}:
            proof = consistency_proof(old, size, ctx)
            assert proof == mem.consistency_proof(old, size)
            assert verify_consistency(old, size, mem.root(old), root, proof)


def test_proofs_read_only_log_n_nodes(ctx: Context, append: Append) -> None:
    """An inclusion proof of a 100-event log reads a handful of nodes in one query."""
    append(100, per_tx=50)
    statements: list[str] = []

    def _count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(ctx.engine, "before_cursor_execute", _count)
    try:
        proof = inclusion_proof(37, ctx=ctx)
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", _count)
    node_queries = [s for s in statements if "audit_node" in s]
    assert len(node_queries) == 1
    assert len(proof) == 7
    assert not any("audit_event" in s for s in statements)


def test_event_rolls_back_with_the_callers_transaction(ctx: Context, append: Append) -> None:
    append(3)

    def declined_then_failed() -> None:
        with transaction(ctx.engine) as session:
            record(
                session,
                type="contract.declined",
                subject="ctr-1",
                actor="customer",
                at=ctx.clock.now(),
                data={"reason": "changed my mind"},
            )
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        declined_then_failed()
    assert log_size(ctx) == 3
    with ctx.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from audit_event")).scalar_one() == 3
    assert verify_log(ctx).ok


def test_record_refuses_bad_input_naming_the_field(ctx: Context) -> None:
    with transaction(ctx.engine) as session:
        with pytest.raises(ValidationError) as err:
            record(
                session,
                type="otp.sent",
                subject="chal-1",
                actor="system",
                at=ctx.clock.now(),
                data={"destination": "0912345678"},
            )
        assert err.value.field == "data.destination"
        with pytest.raises(ValidationError) as err:
            record(
                session,
                type="otp.sent",
                subject="chal-1",
                actor="system",
                at=datetime(2026, 1, 1),
                data={},
            )
        assert err.value.field == "at"
    assert log_size(ctx) == 0


def test_checkpoint_is_a_signed_c2sp_note(ctx: Context, append: Append, vkey: str) -> None:
    empty = publish_checkpoint(ctx)
    assert empty.size == 0
    assert empty.root_hash == EMPTY_ROOT
    append(5)
    cp = publish_checkpoint(ctx)
    origin = ctx.settings.audit_origin
    body, _, sig_line = cp.note.partition("\n\n")
    assert body.split("\n") == [origin, "5", cp.note.split("\n")[2]]
    assert sig_line.startswith(f"\u2014 {origin} ")
    assert sig_line.endswith("\n")
    assert vkey.startswith(f"{origin}+")
    opened = verify_checkpoint(cp.note, vkey)
    assert (opened.origin, opened.size, opened.root_hash) == (origin, 5, root_at(ctx=ctx))
    assert publish_checkpoint(ctx) == cp  # same size: the stored one comes back
    assert latest_checkpoint(ctx) == cp
    assert get_checkpoint(0, ctx) == empty
    with pytest.raises(NotFoundError):
        get_checkpoint(3, ctx)
    with pytest.raises(AuditIntegrityError):
        verify_checkpoint(cp.note.replace("\n5\n", "\n6\n"), vkey)


def test_consistency_between_checkpoints(ctx: Context, append: Append) -> None:
    append(6)
    old = publish_checkpoint(ctx)
    append(11)
    new = publish_checkpoint(ctx)
    proof = prove_consistency(old.size, ctx=ctx)
    assert proof.verified
    assert (proof.old_size, proof.new_size) == (6, 17)
    assert proof.old_checkpoint == old
    assert proof.new_checkpoint == new
    assert verify_consistency(6, 17, old.root_hash, new.root_hash, list(proof.proof))
    unsigned = prove_consistency(3, 9, ctx)
    assert unsigned.verified
    assert unsigned.old_checkpoint is None
    assert "no signed checkpoint" in unsigned.to_text()
    with pytest.raises(ValidationError):
        prove_consistency(10, 9, ctx)
    with pytest.raises(ValidationError):
        prove_consistency(1, 99, ctx)


def test_missing_node_is_reported_as_damage(ctx: Context, append: Append) -> None:
    append(8)
    with ctx.engine.begin() as conn:
        conn.execute(sa.text("delete from audit_node where level = 1 and idx = 0"))
    with pytest.raises(StoreError):
        inclusion_proof(3, ctx=ctx)


def test_development_key_is_made_once_with_private_permissions(ctx: Context) -> None:
    key = ensure_log_key(ctx.settings)
    path = ctx.settings.keys_dir / DEV_KEY_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_log_key(ctx.settings) is key
    again = Settings(data_dir=ctx.settings.data_dir, _env_file=None)  # type: ignore[call-arg]
    assert log_public_key_string(again) == log_public_key_string(ctx.settings)


def test_configured_key_must_exist_and_be_ed25519(tmp_path, ctx: Context) -> None:  # type: ignore[no-untyped-def]
    missing = Settings(data_dir=tmp_path, audit_key_path=tmp_path / "nope.pem", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        ensure_log_key(missing)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "ec.pem").write_bytes(pem)
    wrong = Settings(data_dir=tmp_path, audit_key_path=tmp_path / "ec.pem", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        ensure_log_key(wrong)
    bad_origin = Settings(data_dir=tmp_path, audit_origin="has space", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError):
        log_public_key_string(bad_origin)
