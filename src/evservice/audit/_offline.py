"""Standalone, offline verification of evservice audit proofs.

This module is meant to be copied: it needs only the Python standard library
and ``cryptography``, never the store or the rest of evservice. With it and the
log's public key (the C2SP verifier key string ``name+keyid+base64(0x01||key)``)
anyone can check

* an RFC 6962 / RFC 9162 inclusion proof (section 2.1.3.2) and consistency
  proof (section 2.1.4.2);
* a C2SP ``tlog-checkpoint`` signed as a C2SP ``signed-note`` with Ed25519;
* a proof bundle for one document (:func:`verify_bundle`): its events, the
  inclusion proof of each, and the signed checkpoint they lead to.

Bundle format (version 2) is one JSON object, serialised with sorted keys, no
white space and ASCII only, followed by one newline (any other serialisation is
refused, so that changing any byte of a bundle makes it fail)::

    {"checkpoint": "<signed note>", "events": [{"event": "<base64 event bytes>",
     "index": 7, "proof": ["<base64 hash>", ...]}, ...],
     "format": "evservice-audit-bundle", "manifest": "<signed note>",
     "origin": "<log origin>", "subject": "<document id>",
     "verifier_key": "<C2SP verifier key>", "version": 2}

The manifest is a signed note by the log key whose text is four lines::

    evservice-audit-bundle-manifest/v1
    <subject as a JSON string>
    <checkpoint size>
    <the indexes of every event about the subject below that size, comma-separated>

so a bundle with an event left out (or one added) fails: the event list no
longer matches what the log signed. Its first line keeps it from ever passing
for a checkpoint, whose first line is the origin. Version 1 bundles carried no
manifest and are refused.

Each event's bytes are its RFC 8785 canonical JSON (schema ``v`` = 1: ``v``,
``id``, ``type``, ``subject``, ``actor``, ``at`` in RFC 3339 UTC, ``data``); its
leaf hash is SHA-256(0x00 || bytes). Run ``python _offline.py BUNDLE KEY`` to
check a bundle from the command line.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "EMPTY_ROOT",
    "MANIFEST_HEADER",
    "BundleVerification",
    "Checkpoint",
    "NoteError",
    "VerifiedEvent",
    "encode_bundle",
    "key_id",
    "leaf_hash",
    "manifest_text",
    "node_hash",
    "open_checkpoint",
    "parse_checkpoint_text",
    "parse_verifier_key",
    "root_from_inclusion",
    "verify_bundle",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
]

BUNDLE_FORMAT = "evservice-audit-bundle"
BUNDLE_VERSION = 2
MANIFEST_HEADER = "evservice-audit-bundle-manifest/v1"
EVENT_SCHEMA_VERSION = 1
HASH_SIZE = 32
#: The root of the empty tree: SHA-256 of nothing.
EMPTY_ROOT = hashlib.sha256(b"").digest()
_ED25519_TYPE = b"\x01"
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 16
_MAX_BUNDLE_BYTES = 16 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


# -- RFC 6962 hashing ------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """The root that ``proof`` leads to from ``leaf`` at ``index``, or None if malformed.

    RFC 9162 section 2.1.3.2, step by step.
    """
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True if ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree ``(size, root)``."""
    computed = root_from_inclusion(index, size, leaf, proof)
    return computed is not None and computed == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True if ``proof`` shows the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``.

    RFC 9162 section 2.1.4.2; the trivial cases (an empty old tree, equal sizes)
    accept only an empty proof.
    """
    if not 0 <= old_size <= new_size:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: its root starts the walk
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# -- C2SP signed notes and checkpoints ---------------------------------------------


class NoteError(ValueError):
    """A signed note, verifier key or checkpoint is malformed or not signed by the key."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified C2SP tlog-checkpoint: the log's origin, size and root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The note text of this checkpoint (every line newline-terminated)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64: canonical padding only, so one text has one meaning."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_key_name(name: str) -> None:
    if not name or any(ch.isspace() or ch == "+" for ch in name):
        raise NoteError("key name must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP Ed25519 key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519_TYPE + public_key).digest()[:4]


@functools.lru_cache(maxsize=64)
def parse_verifier_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Split ``name+hex(keyid)+base64(0x01||key)`` into (name, key id, public key)."""
    parts = vkey.strip().split("+", 2)  # the base64 key itself may contain "+"
    if len(parts) != 3:
        raise NoteError("verifier key must be name+keyid+key")
    name, hex_id, b64_key = parts
    _check_key_name(name)
    try:
        kid = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise NoteError("verifier key id is not hex") from exc
    raw = _b64decode(b64_key, "verifier key")
    if len(kid) != 4 or hex_id != kid.hex():
        raise NoteError("verifier key id must be 8 lower-case hex digits")
    if len(raw) != 33 or raw[:1] != _ED25519_TYPE:
        raise NoteError("verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    if key_id(name, raw[1:]) != kid:
        raise NoteError("verifier key id does not match its name and key")
    return name, kid, Ed25519PublicKey.from_public_bytes(raw[1:])


def verify_note(note: str, vkey: str) -> str:
    """Check a C2SP signed note against one verifier key; return its text.

    Signatures from other keys are ignored, as the spec requires; at least one
    signature must be by ``vkey`` and every signature by it must verify.
    """
    name, kid, public_key = parse_verifier_key(vkey)
    if _CONTROL.search(note):
        raise NoteError("note contains control characters")
    if not note.endswith("\n"):
        raise NoteError("note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    text, sig_block = note[: split + 1], note[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines or len(lines) > _MAX_SIGNATURES:
        raise NoteError("note has no (or too many) signature lines")
    verified = False
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed signature line")
        sig_name, _, b64 = line[len(_SIG_PREFIX) :].rpartition(" ")
        _check_key_name(sig_name)
        sig = _b64decode(b64, "signature")
        if len(sig) < 5:
            raise NoteError("signature too short")
        if sig_name != name or sig[:4] != kid:
            continue  # someone else's signature (a witness, a rotated key)
        try:
            public_key.verify(sig[4:], text.encode("utf-8"))
        except InvalidSignature as exc:
            raise NoteError("signature by the log key does not verify") from exc
        verified = True
    if not verified:
        raise NoteError("note carries no signature by the given key")
    return text


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Parse a C2SP tlog-checkpoint note text (not its signatures)."""
    if not text.endswith("\n"):
        raise NoteError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise NoteError("checkpoint needs origin, size and root on non-empty lines")
    origin, size_text, root_text = lines[:3]
    if not size_text.isascii() or not size_text.isdigit() or str(int(size_text)) != size_text:
        raise NoteError("checkpoint size is not a canonical decimal")
    root = _b64decode(root_text, "checkpoint root")
    if len(root) != HASH_SIZE:
        raise NoteError("checkpoint root is not a SHA-256 hash")
    return Checkpoint(origin, int(size_text), root, tuple(lines[3:]))


def open_checkpoint(note: str, vkey: str) -> Checkpoint:
    """Verify a signed checkpoint against ``vkey`` and parse it.

    The origin line must equal the key name (the convention of C2SP logs, and of
    evservice).
    """
    checkpoint = parse_checkpoint_text(verify_note(note, vkey))
    if checkpoint.origin != parse_verifier_key(vkey)[0]:
        raise NoteError("checkpoint origin differs from the log key name")
    return checkpoint


# -- proof bundles -----------------------------------------------------------------


def manifest_text(subject: str, size: int, indexes: Sequence[int]) -> str:
    """The text the log signs to say which events about ``subject`` a bundle must hold."""
    listed = ",".join(str(i) for i in indexes)
    return f"{MANIFEST_HEADER}\n{json.dumps(subject, ensure_ascii=True)}\n{size}\n{listed}\n"


def encode_bundle(obj: dict[str, Any]) -> bytes:
    """The one accepted serialisation of a bundle: sorted keys, compact, ASCII, newline."""
    return (
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"
    ).encode("ascii")


@dataclass(frozen=True)
class VerifiedEvent:
    """One event of a bundle whose inclusion in the checkpointed log was proven."""

    index: int
    id: str
    type: str
    subject: str
    actor: str
    at: str
    data: dict[str, Any]


@dataclass(frozen=True)
class BundleVerification:
    """Outcome of :func:`verify_bundle`. ``ok`` only if every check passed."""

    ok: bool
    problems: tuple[str, ...] = ()
    subject: str | None = None
    checkpoint: Checkpoint | None = None
    events: tuple[VerifiedEvent, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """A few lines for people: the verdict, then the events or the problems."""
        if not self.ok:
            return "audit bundle INVALID: " + "; ".join(self.problems)
        if self.checkpoint is None:  # pragma: no cover - ok implies a checkpoint
            return "audit bundle OK"
        head = (
            f"audit bundle OK: {len(self.events)} event(s) for {self.subject!r} are in the log "
            f"{self.checkpoint.origin} at size {self.checkpoint.size} "
            f"(root {self.checkpoint.root_hash.hex()})"
        )
        rows = [f"  #{e.index} {e.at} {e.type} by {e.actor}" for e in self.events]
        return "\n".join([head, *rows])


def _fail(problem: str) -> BundleVerification:
    return BundleVerification(ok=False, problems=(problem,))


def _parse_event(raw: bytes, where: str) -> dict[str, Any]:
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NoteError(f"{where}: event bytes are not JSON") from exc
    if not isinstance(event, dict) or event.get("v") != EVENT_SCHEMA_VERSION:
        raise NoteError(f"{where}: not an evservice event of schema version 1")
    for key in ("id", "type", "subject", "actor", "at"):
        if not isinstance(event.get(key), str):
            raise NoteError(f"{where}: event field {key!r} missing or not a string")
    if not isinstance(event.get("data"), dict):
        raise NoteError(f"{where}: event field 'data' missing or not an object")
    return event


def verify_bundle(bundle: bytes, public_key: str) -> BundleVerification:
    """Check a proof bundle with nothing but the log's verifier key string.

    Never raises for a merely invalid bundle: the problems are in the result.
    """
    try:
        return _verify_bundle(bundle, public_key)
    except NoteError as exc:
        return _fail(str(exc))


def _check_manifest(
    manifest: object, subject: str, size: int, events: list[Any], public_key: str
) -> None:
    """The bundle's events are exactly those the log signed for the subject at ``size``."""
    if not isinstance(manifest, str):
        raise NoteError("manifest must be a signed note")
    listed = verify_note(manifest, public_key)
    given = [item.get("index") if isinstance(item, dict) else None for item in events]
    if any(type(i) is not int for i in given):
        raise NoteError("every event needs an integer index")
    if listed != manifest_text(subject, size, given):  # type: ignore[arg-type]
        raise NoteError(
            "the events do not match the log's signed list for this subject "
            "(an event was removed or added)"
        )


def _verify_bundle(bundle: bytes, public_key: str) -> BundleVerification:
    if not isinstance(bundle, bytes | bytearray) or len(bundle) > _MAX_BUNDLE_BYTES:
        raise NoteError("bundle must be bytes of reasonable size")
    try:
        obj = json.loads(bytes(bundle).decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NoteError("bundle is not ASCII JSON") from exc
    if not isinstance(obj, dict):
        raise NoteError("bundle is not a JSON object")
    if encode_bundle(obj) != bytes(bundle):
        raise NoteError("bundle is not in its canonical form (it was altered)")
    if obj.get("version") == 1:
        raise NoteError(
            "bundle version 1 has no signed event list: events left out cannot be detected"
        )
    expected_keys = {"checkpoint", "events", "format", "manifest", "origin", "subject"}
    if set(obj) != expected_keys | {"verifier_key", "version"}:
        raise NoteError(f"bundle fields are not those of version {BUNDLE_VERSION}")
    if obj["format"] != BUNDLE_FORMAT or obj["version"] != BUNDLE_VERSION:
        raise NoteError("unknown bundle format or version")
    if obj["verifier_key"] != public_key.strip():
        raise NoteError("bundle names another log key than the one given")
    subject, origin, note, events = obj["subject"], obj["origin"], obj["checkpoint"], obj["events"]
    if not isinstance(subject, str) or not isinstance(origin, str) or not isinstance(note, str):
        raise NoteError("subject, origin and checkpoint must be strings")
    checkpoint = open_checkpoint(note, public_key)
    if checkpoint.origin != origin:
        raise NoteError("bundle origin differs from the checkpoint origin")
    if not isinstance(events, list) or not events:
        raise NoteError("bundle has no events")
    _check_manifest(obj["manifest"], subject, checkpoint.size, events, public_key)
    verified: list[VerifiedEvent] = []
    problems: list[str] = []
    last_index = -1
    for n, item in enumerate(events):
        where = f"events[{n}]"
        if not isinstance(item, dict) or set(item) != {"event", "index", "proof"}:
            raise NoteError(f"{where}: needs exactly event, index and proof")
        index, proof_b64, event_b64 = item["index"], item["proof"], item["event"]
        if type(index) is not int or index <= last_index:
            raise NoteError(f"{where}: index must be an integer, increasing")
        last_index = index
        if not isinstance(event_b64, str) or not isinstance(proof_b64, list):
            raise NoteError(f"{where}: event must be base64 text and proof a list")
        raw = _b64decode(event_b64, f"{where}.event")
        proof = [_b64decode(p, f"{where}.proof") if isinstance(p, str) else b"" for p in proof_b64]
        event = _parse_event(raw, where)
        if event["subject"] != subject:
            problems.append(f"{where}: event is about {event['subject']!r}, not the bundle subject")
            continue
        if not verify_inclusion(
            index, checkpoint.size, leaf_hash(raw), proof, checkpoint.root_hash
        ):
            problems.append(f"{where}: inclusion proof for index {index} does not verify")
            continue
        verified.append(
            VerifiedEvent(
                index=index,
                id=event["id"],
                type=event["type"],
                subject=event["subject"],
                actor=event["actor"],
                at=event["at"],
                data=event["data"],
            )
        )
    return BundleVerification(
        ok=not problems,
        problems=tuple(problems),
        subject=subject,
        checkpoint=checkpoint,
        events=tuple(verified),
    )


def _main(argv: Sequence[str]) -> int:
    """``python _offline.py BUNDLE_FILE VERIFIER_KEY``: exit 0 if the bundle verifies."""
    if len(argv) != 2:
        print("usage: python _offline.py BUNDLE_FILE VERIFIER_KEY", file=sys.stderr)
        return 2
    with open(argv[0], "rb") as fh:
        result = verify_bundle(fh.read(), argv[1])
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
