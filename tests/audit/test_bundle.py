"""Offline proof bundles: verify with the public key alone; any changed byte fails."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from reportlab.pdfgen import canvas

import evservice.audit._offline as offline_module
from evservice._context import Context
from evservice.audit import (
    BUNDLE_ATTACHMENT_NAME,
    embed_bundle_in_pdf,
    extract_bundle_from_pdf,
    latest_checkpoint,
    prove_subject,
    publish_checkpoint,
    verify_bundle,
    write_bundle_beside,
)
from evservice.audit._keys import verifier_key_string
from evservice.errors import AuditIntegrityError, NotFoundError

from .conftest import Append


@pytest.fixture
def bundle(ctx: Context, append: Append) -> bytes:
    append(11)
    return prove_subject("inv-b", ctx)


def test_bundle_verifies_with_the_public_key_only(bundle: bytes, vkey: str) -> None:
    result = verify_bundle(bundle, vkey)
    assert result.ok, result.summary()
    assert result.subject == "inv-b"
    assert [e.index for e in result.events] == [1, 4, 7, 10]
    assert {e.type for e in result.events} == {"invoice.signed"}
    assert result.checkpoint is not None
    assert result.checkpoint.size == 11
    assert "audit bundle OK: 4 event(s)" in result.summary()
    obj = json.loads(bundle)
    assert obj["format"] == "evservice-audit-bundle"
    assert obj["version"] == 2  # version 2 adds the signed list of the events (manifest)
    assert obj["verifier_key"] == vkey
    first = json.loads(base64.b64decode(obj["events"][0]["event"]))
    assert first["v"] == 1
    assert first["subject"] == "inv-b"


def test_every_changed_byte_makes_the_bundle_fail(ctx: Context, append: Append, vkey: str) -> None:
    append(5)
    bundle = prove_subject("inv-b", ctx)  # two events, so every part of a bundle is there
    for position in range(len(bundle)):
        # Every byte gets its low bit flipped; every few bytes also case and high bit.
        for mask in (0x01, 0x20, 0x80) if position % 5 == 0 else (0x01,):
            changed = bytearray(bundle)
            changed[position] ^= mask
            result = verify_bundle(bytes(changed), vkey)
            assert not result.ok, (position, mask, bundle[position : position + 1])
            assert result.problems


def test_truncated_extended_or_foreign_bundles_fail(bundle: bytes, vkey: str) -> None:
    assert not verify_bundle(bundle[:-1], vkey).ok
    assert not verify_bundle(bundle + b"\n", vkey).ok
    assert not verify_bundle(bundle.replace(b"\n", b"\r\n", 1), vkey).ok
    other = verifier_key_string(vkey.split("+")[0], Ed25519PrivateKey.generate())
    assert not verify_bundle(bundle, other).ok
    for junk in (b"", b"{}", b"[]", b"\xff\xfe", b"null\n", b'{"version":1}\n'):
        result = verify_bundle(junk, vkey)
        assert not result.ok
        assert result.summary().startswith("audit bundle INVALID")
    assert not verify_bundle(bundle, "not a key").ok


def _reencode(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@pytest.mark.parametrize("position", [0, 1, -1])
def test_a_bundle_with_one_event_removed_fails(bundle: bytes, vkey: str, position: int) -> None:
    """Every remaining event still has a valid proof; the log's signed list catches the gap."""
    obj = json.loads(bundle)
    del obj["events"][position]
    result = verify_bundle(_reencode(obj), vkey)
    assert not result.ok
    assert "an event was removed or added" in result.summary()


def test_a_bundle_without_its_manifest_or_of_version_1_fails(bundle: bytes, vkey: str) -> None:
    obj = json.loads(bundle)
    del obj["events"][1]
    old = {k: v for k, v in obj.items() if k != "manifest"} | {"version": 1}
    result = verify_bundle(_reencode(old), vkey)
    assert not result.ok
    assert "no signed event list" in result.summary()
    stripped = {k: v for k, v in obj.items() if k != "manifest"}
    assert not verify_bundle(_reencode(stripped), vkey).ok
    obj["manifest"] = obj["checkpoint"]  # a checkpoint never passes for a manifest
    assert not verify_bundle(_reencode(obj), vkey).ok


def test_reencoded_but_equivalent_json_is_refused(bundle: bytes, vkey: str) -> None:
    pretty = json.dumps(json.loads(bundle), indent=2).encode()
    result = verify_bundle(pretty, vkey)
    assert not result.ok
    assert "canonical" in result.summary()


def test_a_proof_for_another_event_fails(bundle: bytes, vkey: str) -> None:
    obj = json.loads(bundle)
    obj["events"][0]["proof"], obj["events"][1]["proof"] = (
        obj["events"][1]["proof"],
        obj["events"][0]["proof"],
    )
    redone = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    result = verify_bundle(redone, vkey)
    assert not result.ok
    assert "inclusion proof for index 1 does not verify" in result.summary()


def test_a_batch_proves_many_documents_into_one_checkpoint(
    ctx: Context, append: Append, vkey: str
) -> None:
    append(9)
    end_of_batch = publish_checkpoint(ctx)
    append(3)  # the next batch has started
    bundles = [prove_subject(s, ctx, checkpoint=end_of_batch) for s in ("inv-a", "otp-c")]
    for b in bundles:
        result = verify_bundle(b, vkey)
        assert result.ok, result.summary()
        assert result.checkpoint is not None
        assert result.checkpoint.size == 9
        assert all(e.index < 9 for e in result.events)
    assert latest_checkpoint(ctx) == end_of_batch  # no checkpoint per document


def test_proving_unknown_or_edited_subjects(ctx: Context, append: Append) -> None:
    append(4)
    with pytest.raises(NotFoundError):
        prove_subject("inv-none", ctx)
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_event SET actor = 'operator:mallory' WHERE idx = 0")
    with pytest.raises(AuditIntegrityError):
        prove_subject("inv-a", ctx)


def test_standalone_verifier_runs_from_a_copy(bundle: bytes, vkey: str, tmp_path: Path) -> None:
    """An auditor copies one file; it imports neither evservice nor the store."""
    copy = tmp_path / "verify_audit.py"
    shutil.copy(offline_module.__file__, copy)
    (tmp_path / "bundle.json").write_bytes(bundle)
    (tmp_path / "bad.json").write_bytes(bundle.replace(b'"index":1', b'"index":2'))
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import verify_audit; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('evservice', 'sqlalchemy', 'sqlmodel', 'pydantic', 'rfc8785')]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    isolated = [sys.executable, "-I"]
    done = subprocess.run([*isolated, "-c", probe, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    ok = subprocess.run(
        [*isolated, str(copy), str(tmp_path / "bundle.json"), vkey], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "audit bundle OK" in ok.stdout
    bad = subprocess.run(
        [*isolated, str(copy), str(tmp_path / "bad.json"), vkey], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "INVALID" in bad.stdout


def _pdf() -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Hoa don GTGT")
    page.save()
    return out.getvalue()


def test_bundle_travels_inside_the_pdf(bundle: bytes, vkey: str, tmp_path: Path) -> None:
    original = _pdf()
    with_proof = embed_bundle_in_pdf(original, bundle)
    assert with_proof.startswith(original)  # an incremental update: signatures stay valid
    assert extract_bundle_from_pdf(with_proof) == bundle
    assert verify_bundle(extract_bundle_from_pdf(with_proof), vkey).ok
    path = tmp_path / "invoice.pdf"
    path.write_bytes(with_proof)
    listing = subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert BUNDLE_ATTACHMENT_NAME in listing.stdout
    saved = tmp_path / "saved.json"
    subprocess.run(
        ["pdfdetach", "-savefile", BUNDLE_ATTACHMENT_NAME, "-o", str(saved), str(path)],
        check=True,
    )
    assert saved.read_bytes() == bundle
    with pytest.raises(NotFoundError):
        extract_bundle_from_pdf(original)


def test_bundle_written_beside_the_document(bundle: bytes, tmp_path: Path, vkey: str) -> None:
    pdf = tmp_path / "C26TAA-00000123.pdf"
    pdf.write_bytes(_pdf())
    target = write_bundle_beside(pdf, bundle)
    assert target.name == "C26TAA-00000123.pdf.audit-proof.json"
    assert verify_bundle(target.read_bytes(), vkey).ok
