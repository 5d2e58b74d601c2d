"""Data keys in the store, the KEK's sources, the blind index, and transactions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from evservice import privacy
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.errors import ConfigurationError, StoreError, ValidationError
from evservice.store import transaction

PLACE = privacy.FieldPlace("delivery_outbox", "to_address", "m-1")


def _keys(ctx: Context) -> list[sa.Row[tuple[object, ...]]]:
    with ctx.engine.connect() as conn:
        return list(conn.execute(sa.text("select id, scope, kek_id, wrapped from privacy_key")))


def test_a_value_sealed_in_one_process_opens_in_a_fresh_keyring(ctx: Context) -> None:
    keys = privacy.keyring(ctx)
    sealed = keys.seal("mai.nguyen@example.vn", PLACE, privacy.RETENTION_SCOPE)
    assert sealed is not None
    assert "mai" not in sealed
    fresh = privacy.Keyring(ctx.engine, keys.kek, enabled=True, ctx=ctx)
    assert fresh.open(sealed, PLACE) == "mai.nguyen@example.vn"
    (row,) = [r for r in _keys(ctx) if r.scope == privacy.RETENTION_SCOPE]
    assert row.kek_id == keys.kek.kek_id
    assert b"mai" not in bytes(row.wrapped)


def test_a_key_made_in_a_rolled_back_transaction_is_never_used_again(ctx: Context) -> None:
    keys = privacy.keyring(ctx)
    scope = keys.subject_scope("0912345678")

    class Boom(Exception):
        pass

    def seal_then_fail() -> None:
        with transaction(ctx.engine) as session:
            keys.seal("a", PLACE, scope, session.connection())
            raise Boom

    with pytest.raises(Boom):
        seal_then_fail()
    assert not [r for r in _keys(ctx) if r.scope == scope]
    with transaction(ctx.engine) as session:
        sealed = keys.seal("b", PLACE, scope, session.connection())
    assert [r.scope for r in _keys(ctx)].count(scope) == 1
    assert keys.open(sealed, PLACE) == "b"
    assert privacy.key_id_of(sealed or "") == next(r.id for r in _keys(ctx) if r.scope == scope)


def test_blind_index_normalises_phone_and_email(ctx: Context) -> None:
    keys = privacy.keyring(ctx)
    assert keys.index("0912 345 678") == keys.index("+84912345678") == keys.index("0912.345.678")
    assert keys.index("Mai.Nguyen@Example.VN") == keys.index("mai.nguyen@example.vn")
    assert keys.index("0912345678") != keys.index("0912345679")
    assert len(keys.index("KH0001")) == 32
    with pytest.raises(ValidationError) as caught:
        privacy.normalise_identity("x" * 60 + "@")
    assert "xxxx" not in str(caught.value)


def test_blind_index_is_keyed_per_store(
    tmp_path: Path, sqlite_url: str, clock: ManualClock
) -> None:
    """Another KEK and store give another index key: the index is no plain hash."""
    one = Context(settings=Settings(data_dir=tmp_path / "a", database_url=sqlite_url), clock=clock)
    other_url = f"sqlite:///{tmp_path / 'b.db'}"
    two = Context(settings=Settings(data_dir=tmp_path / "b", database_url=other_url), clock=clock)
    assert privacy.keyring(one).index("0912345678") != privacy.keyring(two).index("0912345678")


def test_the_development_kek_is_made_once_and_private(ctx: Context) -> None:
    kek = privacy.load_kek(ctx.settings)
    path = ctx.settings.keys_dir / "privacy-kek.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert privacy.load_kek(ctx.settings) is kek
    assert len(bytes.fromhex(path.read_text().strip())) == 32


def test_kek_from_the_environment_and_from_a_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    from_env = Settings(data_dir=tmp_path, privacy_kek=key.hex(), _env_file=None)  # type: ignore[call-arg]
    path = tmp_path / "kek.hex"
    path.write_text(key.hex() + "\n")
    from_file = Settings(data_dir=tmp_path, privacy_kek_path=path, _env_file=None)  # type: ignore[call-arg]
    one, two = privacy.load_kek(from_env), privacy.load_kek(from_file)
    assert one.kek_id == two.kek_id
    label = b"label"
    assert two.unwrap(one.wrap(b"k" * 32, label), label) == b"k" * 32
    assert not (tmp_path / "keys").exists()  # no development key was made


def test_a_bad_kek_is_refused_without_showing_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, privacy_kek="abcd" * 8, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="64 hex digits") as caught:
        privacy.load_kek(settings)
    assert "abcd" not in str(caught.value)
    missing = Settings(data_dir=tmp_path, privacy_kek_path=tmp_path / "nope", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="does not exist"):
        privacy.load_kek(missing)


def test_a_store_opened_with_another_kek_says_so(ctx: Context) -> None:
    sealed = privacy.keyring(ctx).seal("Mai", PLACE, privacy.RETENTION_SCOPE)
    other = privacy.LocalKek(os.urandom(32))
    stranger = privacy.Keyring(ctx.engine, other, enabled=True, ctx=ctx)
    with pytest.raises(StoreError, match="does not open with this KEK"):
        stranger.open(sealed, PLACE)


def test_encryption_off_stores_plaintext_and_still_reads_sealed(ctx: Context) -> None:
    keys = privacy.keyring(ctx)
    sealed = keys.seal("Mai", PLACE, privacy.RETENTION_SCOPE)
    off = privacy.Keyring(ctx.engine, keys.kek, enabled=False, ctx=ctx)
    assert off.seal("Mai", PLACE, privacy.RETENTION_SCOPE) == "Mai"
    assert off.open(sealed, PLACE) == "Mai"
    assert keys.open("plain", PLACE) == "plain"  # a plaintext store reads before migration
