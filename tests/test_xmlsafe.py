"""evservice._xmlsafe: the one set of defences for XML from outside."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice._xmlsafe import parse_untrusted_xml
from evservice.errors import DocumentError

BOMB = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (BOMB, "declares a DTD or entities"),
        (BOMB.decode().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16"), "DTD"),
        (b"<r>" * 3, "is malformed"),
        (b"x" * 101, "is larger than 100 bytes"),
    ],
)
def test_refused_with_what_was_read(data: bytes, problem: str) -> None:
    with pytest.raises(DocumentError, match=f"^the thing XML .*{problem}"):
        parse_untrusted_xml(data, what="thing XML", max_bytes=100 if len(data) == 101 else 1000)


def test_comments_and_processing_instructions_are_dropped() -> None:
    root = parse_untrusted_xml(b"<r><!-- c --><?pi x?><a>1</a></r>", what="x", max_bytes=1000)
    assert [child.tag for child in root] == ["a"]


def test_not_bytes() -> None:
    with pytest.raises(DocumentError, match="must be given as bytes"):
        parse_untrusted_xml("<r/>", what="x", max_bytes=10)  # type: ignore[arg-type]


@given(st.binary(max_size=200))
def test_junk_is_parsed_or_refused_never_anything_else(data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        parse_untrusted_xml(data, what="x", max_bytes=1000)
