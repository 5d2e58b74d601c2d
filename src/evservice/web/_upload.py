"""Reading an uploaded file for verification: size limit, declared type, magic bytes.

The file is read into memory and dropped when the request ends; nothing is
written by us. (python-multipart spools parts over 1 MiB to a temporary file,
which is deleted when the request ends.) The body's size is also capped
before parsing, from ``Content-Length``, by the app's :class:`BodyLimit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import UploadFile

__all__ = ["PDF_TYPES", "XML_TYPES", "Upload", "check_bytes", "read_upload"]

PDF_TYPES = frozenset({"application/pdf"})
XML_TYPES = frozenset({"application/xml", "text/xml"})


@dataclass(frozen=True)
class Upload:
    data: bytes = b""
    name: str = "upload"
    problem: tuple[str, int] | None = None


def _safe_name(name: str | None) -> str:
    base = (name or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[^\w.\-]", "_", base)[:80] or "upload"


def check_bytes(data: bytes, content_type: str | None) -> tuple[str, int] | None:
    """None when the declared type is PDF or XML and the bytes agree, else the problem."""
    declared = (content_type or "").split(";")[0].strip().lower()
    head = data[:1024]
    if declared in PDF_TYPES:
        return None if b"%PDF-" in head else ("err.file_type", 415)
    if declared in XML_TYPES:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return None if stripped.startswith(b"<") else ("err.file_type", 415)
    return ("err.file_type", 415)


async def read_upload(file: UploadFile | None, limit: int) -> Upload:
    if file is None or not file.filename:
        return Upload(problem=("err.no_file", 422))
    data = await file.read(limit + 1)
    await file.close()
    if len(data) > limit:
        return Upload(problem=("err.too_large", 413))
    if not data:
        return Upload(problem=("err.no_file", 422))
    problem = check_bytes(data, file.content_type)
    return Upload(data=data, name=_safe_name(file.filename), problem=problem)
