"""Data keys, the sealing of fields, and the blind index: the keyring of a store.

A :class:`Keyring` belongs to one store (engine) and one KEK, one per process
(:func:`keyring`). It hands out data keys by scope:

* ``retention``: what the law keeps (issued invoices: buyer name and tax code,
  the draft); ``forget`` never destroys it.
* ``subject:<blind index>``: one key per person, named by the keyed hash of
  their phone number, e-mail address or customer code (never the plaintext):
  contracts and outbox messages. ``forget`` destroys it (crypto-shredding).
* ``index``: the HMAC key of the blind index. It is not rotated, since every
  index value would change with it.

Keys are random 256-bit AES-GCM keys wrapped by the KEK in ``privacy_key``.
Unwrapped keys are cached per process for :attr:`Keyring.cache_seconds`, so a
rotation or an erasure reaches long-running processes within that time.

A key made inside the caller's transaction (the first message to a new
customer, queued in the batch's transaction) is used there at once but cached
for the process only when that transaction commits: a rollback takes the key
row with it, and nothing may stay sealed under a key the store does not hold.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from evservice._context import Context
from evservice.errors import StoreError, ValidationError
from evservice.privacy._cipher import FieldPlace, is_sealed, key_id_of, open_text, seal_text
from evservice.privacy._kek import KeyEncryptionKey, load_kek
from evservice.privacy._tables import PrivacyKey
from evservice.vn import phone as vn_phone
from evservice.vn import validate_email

__all__ = [
    "ERASED",
    "INDEX_SCOPE",
    "RETENTION_SCOPE",
    "Keyring",
    "keyring",
    "normalise_identity",
]

#: What a field reads as once its key was destroyed by ``privacy forget``.
ERASED = "[erased]"
RETENTION_SCOPE = "retention"
INDEX_SCOPE = "index"
KEYS: sa.Table = PrivacyKey.__table__  # type: ignore[attr-defined]
_PENDING = "evservice.privacy.pending"
_READ_KEY_QMARK = "SELECT id, scope, wrapped FROM privacy_key WHERE id = ?"
_READ_KEY_FORMAT = "SELECT id, scope, wrapped FROM privacy_key WHERE id = %s"


@dataclass(frozen=True)
class DataKey:
    id: str
    scope: str
    aead: AESGCM
    raw: bytes


@dataclass(frozen=True)
class _KeyRow:
    id: str
    scope: str
    wrapped: bytes | None


def normalise_identity(identity: str, field: str = "customer") -> str:
    """A person's identifier in the one form the blind index hashes.

    An e-mail address is lower-cased whole (``email:an@example.vn``), a phone
    number is E.164 (``phone:+84912345678``), anything else is a customer code
    (``code:KH0001``, stripped). Errors never repeat the value.
    """
    text = identity.strip()
    if not text:
        raise ValidationError(field, "is empty")
    if "@" in text:
        return "email:" + validate_email(text, field).lower()
    if vn_phone.is_valid(text):
        return "phone:" + vn_phone.validate(text, field)
    if len(text) > 50:
        raise ValidationError(field, "is neither a phone number, an e-mail nor a customer code")
    return "code:" + text


def _label(key_id: str, scope: str) -> bytes:
    return f"evservice data key\x00{key_id}\x00{scope}".encode()


def _insert_ignore(conn: Connection, values: dict[str, Any]) -> None:
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(postgresql.insert(KEYS).values(values).on_conflict_do_nothing())
    elif name == "sqlite":
        conn.execute(sqlite.insert(KEYS).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - only the two back ends are supported
        conn.execute(sa.insert(KEYS).values(values))


class Keyring:
    """Seal and open fields of one store with its data keys (see the module docstring)."""

    #: How long an unwrapped key, or the current key of a scope, is trusted from the cache.
    cache_seconds: float = 60.0

    def __init__(self, engine: Engine, kek: KeyEncryptionKey, *, enabled: bool, ctx: Context):
        self.engine = engine
        self.kek = kek
        self.enabled = enabled
        self._ctx = ctx
        self._keys: dict[str, tuple[DataKey | None, float]] = {}
        self._current: dict[str, tuple[DataKey, float]] = {}
        # Keys made in transactions not yet committed: they open what those
        # transactions sealed (read back before the commit), never seal elsewhere.
        self._uncommitted: dict[str, DataKey] = {}
        self._lock = threading.Lock()
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "rollback", self._on_rollback)

    # -- the transaction's keys -------------------------------------------------------

    def _on_commit(self, conn: Connection) -> None:
        pending: dict[str, DataKey] | None = conn.info.pop(_PENDING, None)
        if pending:
            now = time.monotonic()
            with self._lock:
                for key in pending.values():
                    self._keys[key.id] = (key, now)
                    self._uncommitted.pop(key.id, None)

    def _on_rollback(self, conn: Connection) -> None:
        pending: dict[str, DataKey] | None = conn.info.pop(_PENDING, None)
        with self._lock:
            for key_id in pending or ():
                self._uncommitted.pop(key_id, None)

    def forget_cached(self) -> None:
        """Drop every cached key (after a rotation or an erasure in this process)."""
        with self._lock:
            self._keys.clear()
            self._current.clear()

    # -- reading and making keys --------------------------------------------------------

    def _unwrap(self, row: Any) -> DataKey | None:
        if row.wrapped is None:
            return None  # retired or destroyed: its material is gone
        raw = self.kek.unwrap(bytes(row.wrapped), _label(row.id, row.scope))
        return DataKey(row.id, row.scope, AESGCM(raw), raw)

    def _run(self, conn: Connection | None, work: Any) -> Any:
        if conn is not None:
            return work(conn)
        with self.engine.begin() as own:
            return work(own)

    def key(self, key_id: str, conn: Connection | None = None) -> DataKey | None:
        """The data key ``key_id``, or None if it was destroyed or retired."""
        pending: dict[str, DataKey] = {} if conn is None else conn.info.get(_PENDING, {})
        if key_id in pending:
            return pending[key_id]
        if key_id in self._uncommitted:
            return self._uncommitted[key_id]
        cached = self._keys.get(key_id)
        if cached is not None and time.monotonic() - cached[1] < self.cache_seconds:
            return cached[0]
        if conn is not None:
            row = conn.execute(sa.select(KEYS).where(KEYS.c.id == key_id)).first()
        else:
            row = self._read_outside(key_id)
        if row is None:
            raise StoreError(f"data key {key_id} is not in the store (wrong database?)")
        found = self._unwrap(row)
        with self._lock:
            self._keys[key_id] = (found, time.monotonic())
        return found

    def _read_outside(self, key_id: str) -> Any:
        """A key row read on a connection of its own, without a write lock.

        The caller may hold SQLite's write lock in another connection of this
        thread; SQLAlchemy's transaction would begin IMMEDIATE and wait for it.
        """
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            qmark = self.engine.dialect.paramstyle == "qmark"
            cursor.execute(_READ_KEY_QMARK if qmark else _READ_KEY_FORMAT, (key_id,))
            found = cursor.fetchone()
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
        if found is None:
            return None
        return _KeyRow(found[0], found[1], None if found[2] is None else bytes(found[2]))

    def current(self, scope: str, conn: Connection | None = None) -> DataKey:
        """The key new values of ``scope`` are sealed with (made on first use)."""
        pending: dict[str, DataKey] = {} if conn is None else conn.info.get(_PENDING, {})
        for key in pending.values():
            if key.scope == scope:
                return key
        cached = self._current.get(scope)
        if cached is not None and time.monotonic() - cached[1] < self.cache_seconds:
            return cached[0]
        found: tuple[DataKey, bool] = self._run(conn, lambda c: self._current_in(c, scope))
        key, made = found
        if made and conn is not None:
            conn.info.setdefault(_PENDING, {})[key.id] = key
            with self._lock:
                self._uncommitted[key.id] = key
        else:
            now = time.monotonic()
            with self._lock:
                self._current[scope] = (key, now)
                self._keys[key.id] = (key, now)
        return key

    def _current_in(self, conn: Connection, scope: str) -> tuple[DataKey, bool]:
        """The newest live key of ``scope``, or a new one if it has none; and whether it is new."""
        query = (
            sa.select(KEYS).where(KEYS.c.scope == scope).order_by(KEYS.c.generation.desc()).limit(1)
        )
        made = False
        for _ in range(3):
            row = conn.execute(query).first()
            live = row is not None and row.superseded_at is None and row.retired_at is None
            if row is not None and live and row.destroyed_at is None:
                key = self._unwrap(row)
                if key is not None:
                    return key, made
            self.add_key(conn, scope, 1 if row is None else row.generation + 1)
            made = True
        raise StoreError(f"could not make a data key for scope {scope[:16]}")  # pragma: no cover

    def add_key(self, conn: Connection, scope: str, generation: int) -> None:
        """Insert a new key of ``scope`` at ``generation`` (nothing if a twin did first)."""
        key_id = secrets.token_hex(8)
        raw = secrets.token_bytes(32)
        _insert_ignore(
            conn,
            {
                "id": key_id,
                "scope": scope,
                "generation": generation,
                "wrapped": self.kek.wrap(raw, _label(key_id, scope)),
                "kek_id": self.kek.kek_id,
                "created_at": self._ctx.clock.now(),
            },
        )

    # -- fields ---------------------------------------------------------------------------

    def seal(
        self,
        value: str | None,
        place: FieldPlace,
        scope: str,
        conn: Connection | None = None,
        *,
        force: bool = False,
    ) -> str | None:
        """``value`` sealed for ``place`` under the current key of ``scope``.

        None stays None; with ``privacy_encrypt`` off the value is returned as is
        (unless ``force``: ``keys migrate`` seals whatever the setting says).
        """
        if value is None or not (self.enabled or force):
            return value
        key = self.current(scope, conn)
        return seal_text(key.aead, key.id, place, value)

    def open(
        self, value: str | None, place: FieldPlace, conn: Connection | None = None
    ) -> str | None:
        """The plaintext of a stored value: plaintext passes, a destroyed key reads :data:`ERASED`.

        A value that was edited or moved raises :class:`StoreError` naming the place.
        """
        if value is None or not is_sealed(value):
            return value
        key_id = key_id_of(value)
        assert key_id is not None  # noqa: S101 - is_sealed said so
        key = self.key(key_id, conn)
        if key is None:
            return ERASED
        return open_text(key.aead, place, value)

    # -- the blind index ------------------------------------------------------------------

    def index(self, identity: str, conn: Connection | None = None) -> str:
        """The keyed hash (32 hex) of a phone, e-mail or customer code, for lookups."""
        key = self.current(INDEX_SCOPE, conn)
        digest = hmac.new(key.raw, normalise_identity(identity).encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def subject_scope(self, identity: str, conn: Connection | None = None) -> str:
        """The scope of a person's own data key: ``subject:`` and their blind index."""
        return "subject:" + self.index(identity, conn)


_keyrings: dict[tuple[Any, ...], Keyring] = {}
_keyrings_lock = threading.Lock()


def keyring(ctx: Context) -> Keyring:
    """The keyring of ``ctx``'s store and KEK (one per process)."""
    settings = ctx.settings
    kek = load_kek(settings)
    cache_key = (os.getpid(), settings.db_url, kek.kek_id, settings.privacy_encrypt)
    found = _keyrings.get(cache_key)
    if found is not None:
        found._ctx = ctx  # its clock dates the keys it makes from now on
        return found
    with _keyrings_lock:
        found = _keyrings.get(cache_key)
        if found is None:
            found = Keyring(ctx.engine, kek, enabled=settings.privacy_encrypt, ctx=ctx)
            _keyrings[cache_key] = found
        return found
