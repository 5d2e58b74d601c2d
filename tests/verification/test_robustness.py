"""``verify`` only ever returns a report: damaged certificates, byte flips in our signed XML
and PDF, junk, and trees past the size limits (refused before canonicalisation)."""

from __future__ import annotations

import base64
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evservice import Context, verify
from evservice.verification import VerificationReport

from .conftest import Pki, SignedDocs

FIXTURES = [HealthCheck.function_scoped_fixture]


def _report(data: bytes, ctx: Context) -> VerificationReport:
    report = verify(data, ctx=ctx)
    assert isinstance(report, VerificationReport)
    assert report.to_json()
    assert report.text()
    return report


def _with_certificate(xml: bytes, change: bytes) -> bytes:
    match = re.search(rb"<X509Certificate>([^<]+)</X509Certificate>", xml)
    assert match is not None
    return xml.replace(match.group(1), base64.b64encode(change))


def _der(xml: bytes) -> bytes:
    match = re.search(rb"<X509Certificate>([^<]+)</X509Certificate>", xml)
    assert match is not None
    return base64.b64decode(match.group(1))


def _common_name_bytes(der: bytes, vpki: Pki) -> int:
    return der.index("Công ty thử nghiệm rsa".encode())


@pytest.mark.parametrize(
    "damage",
    [
        "bad utf-8 in the subject",
        "unknown public key algorithm",
        "truncated",
        "not base64 DER at all",
        "issuer name garbled",
    ],
)
def test_a_damaged_embedded_certificate_gives_a_report(
    damage: str, vpki: Pki, signed_docs: SignedDocs, vctx: Context
) -> None:
    der = bytearray(_der(signed_docs.xml))
    if damage == "bad utf-8 in the subject":
        at = _common_name_bytes(bytes(der), vpki)
        der[at + 1] = 0xFF
    elif damage == "unknown public key algorithm":
        oid = bytes.fromhex("2a864886f70d010101")  # rsaEncryption
        at = bytes(der).index(oid)
        der[at + len(oid) - 1] = 0x7F
    elif damage == "truncated":
        der = der[: len(der) // 2]
    elif damage == "not base64 DER at all":
        der = bytearray(b"\x30\x03\x02\x01")
    else:
        at = bytes(der).index(b"evservice Verification Test Root")
        der[at - 1] = 0x7F  # the length of the issuer's common name
    report = _report(_with_certificate(signed_docs.xml, bytes(der)), vctx)
    assert not report.ok
    (sig,) = report.signatures
    assert not sig.trusted


def _flip(data: bytes, where: float, value: int) -> bytes:
    at = int(where * len(data))
    return data[:at] + bytes([value]) + data[at + 1 :]


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(where=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255))
def test_a_flipped_byte_in_signed_xml_gives_a_report(
    signed_docs: SignedDocs, vctx: Context, where: float, value: int
) -> None:
    _report(_flip(signed_docs.xml, where, value), vctx)


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(where=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255))
def test_a_flipped_byte_in_the_certificate_gives_a_report(
    signed_docs: SignedDocs, vctx: Context, where: float, value: int
) -> None:
    der = _der(signed_docs.xml)
    report = _report(_with_certificate(signed_docs.xml, _flip(der, where, value)), vctx)
    if _flip(der, where, value) != der:
        assert not report.ok


@settings(max_examples=20, deadline=None, suppress_health_check=FIXTURES)
@given(where=st.floats(0, 1, exclude_max=True), value=st.integers(0, 255))
def test_a_flipped_byte_in_a_signed_pdf_gives_a_report(
    signed_docs: SignedDocs, vctx: Context, where: float, value: int
) -> None:
    _report(_flip(signed_docs.pdf, where, value), vctx)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(
    head=st.sampled_from([b"", b"%PDF-1.7\n", b"<HDon>", b"<?xml version='1.0'?><HDon><DLHDon"]),
    body=st.binary(max_size=400),
)
def test_junk_gives_a_report(vctx: Context, head: bytes, body: bytes) -> None:
    assert not _report(head + body, vctx).ok


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=FIXTURES)
@given(
    kind=st.sampled_from(["xml", "pdf", "certificate"]),
    flips=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=4
    ),
)
def test_many_flips_anywhere_give_a_report(
    signed_docs: SignedDocs, vctx: Context, kind: str, flips: list[tuple[float, int]]
) -> None:
    """The big run (marked slow, bounded): several flips at once in every part."""
    data = signed_docs.pdf if kind == "pdf" else signed_docs.xml
    if kind == "certificate":
        der = _der(data)
        for where, value in flips:
            der = _flip(der, where, value)
        data = _with_certificate(data, der)
    else:
        for where, value in flips:
            data = _flip(data, where, value)
    _report(data, vctx)


@pytest.mark.parametrize(
    ("attack", "words"),
    [
        ("attributes", "200000 attributes (limit 256)"),
        ("elements", "more than 500000 elements"),
        ("depth", "deeper than 64"),
        ("namespaces", "more than 64 namespaces"),
    ],
)
def test_trees_past_the_limits_are_refused_before_canonicalisation(
    signed_docs: SignedDocs, vctx: Context, attack: str, words: str
) -> None:
    if attack == "attributes":
        extra = "<X " + " ".join(f'a{i}="v"' for i in range(200_000)) + "/>"
    elif attack == "elements":
        extra = "<X>" + "<y/>" * 500_001 + "</X>"
    elif attack == "depth":
        extra = "<d>" * 70 + "</d>" * 70
    else:
        extra = "".join(f'<n{i} xmlns:p{i}="urn:{i}"/>' for i in range(70))
    data = signed_docs.xml.replace(b"<NMua/>", f"<NMua>{extra}</NMua>".encode())
    started = time.perf_counter()
    report = _report(data, vctx)
    assert time.perf_counter() - started < 60  # a bound against hanging, not a benchmark
    assert not report.ok
    assert any(words in p for p in report.problems), report.problems
    assert not report.signatures
