"""Signed checkpoints: C2SP tlog-checkpoint bodies signed as C2SP signed notes.

A checkpoint says "the log ``origin`` had ``size`` events with this root". The
log signs it with its Ed25519 key (key name = origin) and keeps every published
checkpoint, so that ``consistency OLD NEW`` and ``verify`` can refer to them.
Publish one on demand and at the end of every batch; hand it to auditors and
witnesses, who keep it: a later log that disagrees with it is caught.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection

from evservice._context import Context, resolve
from evservice.audit._keys import check_origin, ensure_log_key, log_public_key_string
from evservice.audit._log import (
    CHECKPOINTS,
    StoreNodes,
    damaged,
    lock_head,
    read_head,
    reading,
)
from evservice.audit._merkle import consistency_proof as _consistency_proof
from evservice.audit._merkle import root_at as _root_at
from evservice.audit._offline import (
    Checkpoint,
    NoteError,
    key_id,
    open_checkpoint,
    verify_consistency,
)
from evservice.clock import ensure_aware
from evservice.errors import AuditIntegrityError, NotFoundError, ValidationError
from evservice.store import transaction

__all__ = [
    "ConsistencyProof",
    "SignedCheckpoint",
    "get_checkpoint",
    "iter_checkpoints",
    "latest_checkpoint",
    "prove_consistency",
    "publish_head",
    "sign_head",
    "sign_note",
    "verify_checkpoint",
]


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint of the log and its signed note (the text to publish)."""

    origin: str
    size: int
    root_hash: bytes
    note: str
    published_at: datetime | None = None

    @property
    def body(self) -> str:
        """The checkpoint text that was signed."""
        return Checkpoint(self.origin, self.size, self.root_hash).body

    def __str__(self) -> str:
        return self.note


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """Sign ``text`` as a C2SP signed note with one Ed25519 signature line."""
    if not text.endswith("\n"):
        raise ValueError("note text must end with a newline")
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    sig = key_id(name, public) + key.sign(text.encode("utf-8"))
    return f"{text}\n\u2014 {name} {base64.b64encode(sig).decode()}\n"


def verify_checkpoint(note: str, public_key: str) -> Checkpoint:
    """Open a signed checkpoint with the log's verifier key, or raise AuditIntegrityError."""
    try:
        return open_checkpoint(note, public_key)
    except NoteError as exc:
        raise AuditIntegrityError(f"checkpoint does not verify: {exc}") from exc


def _from_row(row: Any) -> SignedCheckpoint:
    return SignedCheckpoint(
        origin=row.origin,
        size=int(row.size),
        root_hash=bytes(row.root),
        note=row.note,
        published_at=row.published_at,
    )


_COLUMNS = (
    CHECKPOINTS.c.origin,
    CHECKPOINTS.c.size,
    CHECKPOINTS.c.root,
    CHECKPOINTS.c.note,
    CHECKPOINTS.c.published_at,
)


def _select_one(conn: Connection, origin: str, size: int) -> SignedCheckpoint | None:
    row = conn.execute(
        sa.select(*_COLUMNS).where(CHECKPOINTS.c.origin == origin, CHECKPOINTS.c.size == size)
    ).one_or_none()
    return None if row is None else _from_row(row)


def publish_head(ctx: Context | None = None) -> SignedCheckpoint:
    """Sign and store a checkpoint of the log head as it is now (or return the one at this size).

    Takes the head lock for a moment, so the checkpoint covers every integrated
    batch and none in flight. Queued events are not in it:
    :func:`~evservice.audit.publish_checkpoint` integrates them first.
    """
    ctx = resolve(ctx)
    with transaction(ctx.engine) as session:
        conn = session.connection()
        published = sign_head(conn, ctx)
    assert published is not None  # noqa: S101  (older_than=None always signs)
    return published


def sign_head(
    conn: Connection, ctx: Context, *, older_than: timedelta | None = None
) -> SignedCheckpoint | None:
    """Inside the caller's transaction: sign the head (locked here) as a checkpoint.

    With ``older_than``, only when the newest checkpoint under the origin was
    published longer ago than that (or there is none); returns None when it
    did not sign.
    """
    origin = check_origin(ctx.settings.audit_origin)
    head = lock_head(conn)
    existing = _select_one(conn, origin, head.size)
    if existing is not None:
        return existing
    now = ctx.clock.now()
    if older_than is not None:
        newest = conn.execute(
            sa.select(sa.func.max(CHECKPOINTS.c.published_at)).where(CHECKPOINTS.c.origin == origin)
        ).scalar_one_or_none()
        if newest is not None and now - ensure_aware(newest) < older_than:
            return None
    key = ensure_log_key(ctx.settings)
    checkpoint = Checkpoint(origin, head.size, head.root())
    published = SignedCheckpoint(
        origin=origin,
        size=head.size,
        root_hash=checkpoint.root_hash,
        note=sign_note(checkpoint.body, origin, key),
        published_at=now,
    )
    conn.execute(
        sa.insert(CHECKPOINTS).values(
            origin=origin,
            size=published.size,
            root=published.root_hash,
            note=published.note,
            published_at=published.published_at,
        )
    )
    return published


def latest_checkpoint(ctx: Context | None = None) -> SignedCheckpoint | None:
    """The most recent checkpoint published under the configured origin, if any."""
    ctx = resolve(ctx)
    origin = check_origin(ctx.settings.audit_origin)
    with reading(ctx.engine) as conn:
        row = conn.execute(
            sa.select(*_COLUMNS)
            .where(CHECKPOINTS.c.origin == origin)
            .order_by(CHECKPOINTS.c.size.desc())
            .limit(1)
        ).one_or_none()
    return None if row is None else _from_row(row)


def get_checkpoint(size: int, ctx: Context | None = None) -> SignedCheckpoint:
    """The checkpoint published at ``size`` under the configured origin."""
    ctx = resolve(ctx)
    origin = check_origin(ctx.settings.audit_origin)
    with reading(ctx.engine) as conn:
        found = _select_one(conn, origin, size)
    if found is None:
        raise NotFoundError(f"no checkpoint was published at size {size}")
    return found


def iter_checkpoints(conn: Connection, origin: str | None = None) -> Iterator[SignedCheckpoint]:
    """Stored checkpoints in size order (all origins unless one is given)."""
    query = sa.select(*_COLUMNS).order_by(CHECKPOINTS.c.size, CHECKPOINTS.c.origin)
    if origin is not None:
        query = query.where(CHECKPOINTS.c.origin == origin)
    for row in conn.execute(query):
        yield _from_row(row)


@dataclass(frozen=True)
class ConsistencyProof:
    """A consistency proof between two sizes of the log, with the checkpoints it links."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]
    old_checkpoint: SignedCheckpoint | None
    new_checkpoint: SignedCheckpoint | None
    verified: bool

    def to_text(self) -> str:
        """The proof for people and scripts: sizes, roots, then one base64 hash a line."""
        lines = [
            f"old {self.old_size} {base64.b64encode(self.old_root).decode()}"
            + ("" if self.old_checkpoint else " (no signed checkpoint at this size)"),
            f"new {self.new_size} {base64.b64encode(self.new_root).decode()}"
            + ("" if self.new_checkpoint else " (no signed checkpoint at this size)"),
            *(base64.b64encode(p).decode() for p in self.proof),
        ]
        verdict = "consistent" if self.verified else "NOT consistent"
        return "\n".join([*lines, f"verification: {verdict}"]) + "\n"


def prove_consistency(
    old_size: int, new_size: int | None = None, ctx: Context | None = None
) -> ConsistencyProof:
    """Prove that the log at ``new_size`` extends the log at ``old_size``.

    ``new_size`` defaults to the latest signed checkpoint (or the log as it is now).

    Where a signed checkpoint exists at a size, its signature is checked and its
    root is used; otherwise the root is computed from the stored subtrees. The
    proof is verified (RFC 9162 section 2.1.4.2) before it is returned.
    """
    ctx = resolve(ctx)
    origin = check_origin(ctx.settings.audit_origin)
    vkey = log_public_key_string(ctx.settings)
    with reading(ctx.engine) as conn:
        head = read_head(conn)
        if new_size is None:
            latest = conn.execute(
                sa.select(sa.func.max(CHECKPOINTS.c.size)).where(CHECKPOINTS.c.origin == origin)
            ).scalar_one_or_none()
            new_size = head.size if latest is None else int(latest)
        if not 0 <= new_size <= head.size:
            raise ValidationError("new_size", f"must be between 0 and the log size {head.size}")
        if not 0 <= old_size <= new_size:
            raise ValidationError("old_size", f"must be between 0 and {new_size}")
        nodes = StoreNodes(conn)
        roots: list[bytes] = []
        checkpoints: list[SignedCheckpoint | None] = []
        for size in (old_size, new_size):
            signed = _select_one(conn, origin, size)
            if signed is not None:
                opened = verify_checkpoint(signed.note, vkey)
                if opened.size != size:
                    raise AuditIntegrityError(
                        f"stored checkpoint at size {size} says {opened.size}"
                    )
                roots.append(opened.root_hash)
            else:
                with damaged():
                    roots.append(_root_at(size, nodes))
            checkpoints.append(signed)
        with damaged():
            proof = _consistency_proof(old_size, new_size, nodes)
    ok = verify_consistency(old_size, new_size, roots[0], roots[1], proof)
    return ConsistencyProof(
        old_size=old_size,
        new_size=new_size,
        old_root=roots[0],
        new_root=roots[1],
        proof=tuple(proof),
        old_checkpoint=checkpoints[0],
        new_checkpoint=checkpoints[1],
        verified=ok,
    )
