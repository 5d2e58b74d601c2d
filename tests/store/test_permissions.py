"""The SQLite store and the data folder are private to the service (issue #19, item 9)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from evservice import Context, Settings
from evservice._files import private_dir, private_file
from evservice.store import get_engine, transaction


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def wide_umask() -> object:
    old = os.umask(0o002)
    yield None
    os.umask(old)


@pytest.mark.usefixtures("wide_umask")
def test_default_store_is_private(tmp_path: Path) -> None:
    """A new data folder is 0700; the database, its WAL and SHM files are 0600."""
    data = tmp_path / "deep" / "evservice-data"
    ctx = Context(settings=Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    with transaction(ctx.engine) as session:  # migrated: tables written through the WAL
        session.execute(sa.text("SELECT 1"))
        db = data / "evservice.db"
        wal, shm = db.with_name("evservice.db-wal"), db.with_name("evservice.db-shm")
        assert wal.exists()
        assert shm.exists()
        assert _mode(db) == 0o600
        assert _mode(wal) == 0o600
        assert _mode(shm) == 0o600
    assert _mode(data) == 0o700


@pytest.mark.usefixtures("wide_umask")
def test_existing_wide_store_file_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.write_bytes(b"")
    os.chmod(db, 0o644)
    engine = get_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    assert _mode(db) == 0o600


def test_private_dir_keeps_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)  # noqa: S103 - an operator's choice, kept
    private_dir(folder)
    assert _mode(folder) == 0o750
    fresh = private_dir(tmp_path / "a" / "b")
    assert _mode(fresh) == 0o700


def test_private_file_narrows_wal_and_shm(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    for name in ("x.db", "x.db-wal", "x.db-shm"):
        (tmp_path / name).write_bytes(b"")
        os.chmod(tmp_path / name, 0o664)
    private_file(db)
    assert {_mode(tmp_path / n) for n in ("x.db", "x.db-wal", "x.db-shm")} == {0o600}
