"""Files of the documents we keep: written atomically and durably."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from evservice.errors import StoreError

__all__ = ["FILE_MODE", "write_atomically"]

#: Issued documents are readable by the owner and group only.
FILE_MODE = 0o640


def write_atomically(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Temporary file in the same folder (a unique name, so concurrent writers never
    share one), fsync, rename, then fsync of the folder so the rename itself
    survives a power cut. ``mode`` 0o600 for files that only the service may read.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), mode)
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
