"""Document files: atomic single writes and staged writes flushed together."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evservice import _files
from evservice._files import SYNCFS_FROM, StagedFiles, sweep_staging, write_atomically
from evservice.errors import StoreError


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomically_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "doc.xml"
    write_atomically(path, b"first")
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert mode_of(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["doc.xml"]


def test_write_atomically_names_the_path_when_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where a folder should be")
    with pytest.raises(StoreError, match=r"cannot write .*blocked"):
        write_atomically(tmp_path / "blocked" / "doc.xml", b"x")


@pytest.fixture
def syncfs_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real syncfs calls (the test machine is Linux)."""
    real = _files._syncfs()
    assert real is not None
    calls: list[int] = []

    def counting(fd: int) -> int:
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(_files, "_syncfs", lambda: counting)
    return calls


def test_staged_files_are_placed_after_one_flush(tmp_path: Path, syncfs_calls: list[int]) -> None:
    paths = [tmp_path / f"folder{i % 2}" / f"{i}.pdf" for i in range(SYNCFS_FROM + 4)]
    with StagedFiles() as staged:
        for i, path in enumerate(paths):
            staged.add(path, f"document {i}".encode())
        assert len(staged) == len(paths)
        assert not any(p.exists() for p in paths)  # nothing visible before it is placed
        staged.sync()
        staged.place(paths[:-2])
    assert len(syncfs_calls) == 1  # both folders are on one filesystem
    for i, path in enumerate(paths[:-2]):
        assert path.read_bytes() == f"document {i}".encode()
        assert mode_of(path) == 0o600
    # What was not placed is gone, temporary files included.
    assert not paths[-1].exists()
    assert not paths[-2].exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_few_files_are_fsynced_one_by_one(
    tmp_path: Path, syncfs_calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fsynced: list[int] = []
    real_fsync: Callable[[int], None] = _files.os.fsync

    def counting(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(_files.os, "fsync", counting)
    with StagedFiles() as staged:
        staged.add(tmp_path / "one.xml", b"1")
        staged.add(tmp_path / "two.pdf", b"2")
        staged.sync()
        staged.place([tmp_path / "one.xml", tmp_path / "two.pdf"])
    assert syncfs_calls == []
    assert len(fsynced) == 3  # two files, then their folder after the renames
    assert (tmp_path / "two.pdf").read_bytes() == b"2"


def test_a_second_add_replaces_the_first(tmp_path: Path) -> None:
    path = tmp_path / "doc.xml"
    with StagedFiles() as staged:
        staged.add(path, b"old")
        staged.add(path, b"new")
        assert len(staged) == 1
        staged.sync()
        staged.place([path])
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.xml"]


def test_files_must_be_flushed_before_they_are_placed(tmp_path: Path) -> None:
    with StagedFiles() as staged:
        staged.add(tmp_path / "doc.xml", b"x")
        with pytest.raises(StoreError, match="synced before"):
            staged.place([tmp_path / "doc.xml"])
    assert not list(tmp_path.iterdir())


def test_an_error_leaves_no_temporary_file(tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    def fails_after_staging() -> None:
        with StagedFiles() as staged:
            staged.add(tmp_path / "doc.xml", b"x")
            raise Boom

    with pytest.raises(Boom):
        fails_after_staging()
    assert not list(tmp_path.iterdir())


def test_a_failed_flush_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(_files, "_syncfs", lambda: failing)
    with StagedFiles() as staged:
        for i in range(SYNCFS_FROM):
            staged.add(tmp_path / f"{i}.pdf", b"x")
        with pytest.raises(StoreError, match="cannot flush the documents to disk"):
            staged.sync()
    assert not list(tmp_path.iterdir())


def test_a_file_that_cannot_be_written_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where a folder should be")
    with StagedFiles() as staged, pytest.raises(StoreError, match=r"cannot write .*blocked"):
        staged.add(tmp_path / "blocked" / "doc.xml", b"x")


def test_a_staging_folder_holds_the_temporaries_until_they_are_placed(tmp_path: Path) -> None:
    staging = tmp_path / "invoices" / ".staging"
    final = tmp_path / "invoices" / "2026" / "1C26TAA" / "00000001.pdf"
    with StagedFiles(staging=staging) as staged:
        staged.add(final, b"pdf")
        assert final.parent.is_dir()  # made before the flush, so the flush covers it
        assert [p.name.endswith(".tmp") for p in staging.iterdir()] == [True]
        staged.sync()
        staged.place([final])
    assert final.read_bytes() == b"pdf"
    assert list(staging.iterdir()) == []


def test_a_staged_file_swept_away_is_a_clear_error(tmp_path: Path) -> None:
    staging = tmp_path / ".staging"
    with StagedFiles(staging=staging) as staged:
        staged.add(tmp_path / "doc.pdf", b"pdf")
        staged.sync()
        assert sweep_staging(staging, older_than=-1) == 1  # as if it were an hour old
        with pytest.raises(StoreError, match=r"staged copy of .*doc\.pdf is gone"):
            staged.place([tmp_path / "doc.pdf"])
    assert not (tmp_path / "doc.pdf").exists()


def test_sweeping_deletes_only_old_temporary_files(tmp_path: Path) -> None:
    staging = tmp_path / ".staging"
    staging.mkdir()
    old, fresh, other = staging / ".1.pdf.abc.tmp", staging / ".2.pdf.def.tmp", staging / "keep"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    hour_ago = time.time() - 3700
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    assert sweep_staging(staging) == 1
    assert sorted(p.name for p in staging.iterdir()) == [".2.pdf.def.tmp", "keep"]
    assert sweep_staging(tmp_path / "missing") == 0
