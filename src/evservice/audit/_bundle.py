"""Offline proof bundles for one document: build, embed in the PDF, or write beside it.

A bundle holds every event about a subject (its canonical bytes), the inclusion
proof of each, and a freshly signed checkpoint; :func:`verify_bundle` in
:mod:`evservice.audit._offline` checks it with nothing but the log's public key.
The format is described there.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import sqlalchemy as sa

from evservice._context import Context, resolve
from evservice.audit._checkpoint import SignedCheckpoint, sign_note
from evservice.audit._keys import ensure_log_key, log_public_key_string
from evservice.audit._log import EVENTS, StoreNodes, damaged, event_from_row, reading
from evservice.audit._merkle import inclusion_proof
from evservice.audit._offline import BUNDLE_FORMAT, BUNDLE_VERSION, encode_bundle, manifest_text
from evservice.audit._sequencer import publish_checkpoint
from evservice.errors import AuditIntegrityError, DocumentError, NotFoundError, ValidationError

__all__ = [
    "BUNDLE_ATTACHMENT_NAME",
    "embed_bundle_in_pdf",
    "extract_bundle_from_pdf",
    "prove_subject",
    "write_bundle_beside",
]

#: The name of the bundle when attached to a PDF, and the suffix of the file beside it.
BUNDLE_ATTACHMENT_NAME = "audit-proof.json"


def prove_subject(
    subject: str, ctx: Context | None = None, *, checkpoint: SignedCheckpoint | None = None
) -> bytes:
    """The offline proof bundle of every event about ``subject`` (a document or challenge id).

    Proves each event into ``checkpoint``, or into a checkpoint published now.
    A batch publishes one checkpoint at its end and passes it here for every
    document, instead of one checkpoint per document; events after it are left
    out. Each event is re-hashed from its stored fields and checked against the
    stored leaf first: the log refuses to vouch for an event that was edited.
    """
    if not isinstance(subject, str) or not subject:
        raise ValidationError("subject", "must be a non-empty document or challenge id")
    ctx = resolve(ctx)
    if checkpoint is None:
        checkpoint = publish_checkpoint(ctx)
    elif checkpoint.origin != ctx.settings.audit_origin:
        raise ValidationError("checkpoint", "was published under another origin")
    vkey = log_public_key_string(ctx.settings)
    items: list[dict[str, object]] = []
    with reading(ctx.engine) as conn:
        rows = conn.execute(
            sa.select(EVENTS)
            .where(EVENTS.c.subject == subject, EVENTS.c.idx < checkpoint.size)
            .order_by(EVENTS.c.idx)
        ).all()
        if not rows:
            raise NotFoundError(f"the audit log has no events about {subject!r}")
        nodes = StoreNodes(conn)
        leaves = nodes.get_nodes([(0, int(r.idx)) for r in rows])
        for row in rows:
            event = event_from_row(row)
            if leaves.get((0, event.index)) != event.leaf_hash:
                raise AuditIntegrityError(
                    f"event at index {event.index} does not match its leaf in the log; "
                    "run 'evservice audit verify'"
                )
            with damaged():
                proof = inclusion_proof(event.index, checkpoint.size, nodes)
            items.append(
                {
                    "event": base64.b64encode(event.canonical_bytes).decode("ascii"),
                    "index": event.index,
                    "proof": [base64.b64encode(p).decode("ascii") for p in proof],
                }
            )
    listed = manifest_text(subject, checkpoint.size, [int(r.idx) for r in rows])
    manifest = sign_note(listed, checkpoint.origin, ensure_log_key(ctx.settings))
    return encode_bundle(
        {
            "checkpoint": checkpoint.note,
            "events": items,
            "format": BUNDLE_FORMAT,
            "manifest": manifest,
            "origin": checkpoint.origin,
            "subject": subject,
            "verifier_key": vkey,
            "version": BUNDLE_VERSION,
        }
    )


def write_bundle_beside(document: Path, bundle: bytes) -> Path:
    """Write ``bundle`` next to ``document`` as ``<document>.audit-proof.json``."""
    target = document.with_name(f"{document.name}.{BUNDLE_ATTACHMENT_NAME}")
    try:
        target.write_bytes(bundle)
    except OSError as exc:
        raise DocumentError(f"cannot write the proof bundle beside {document.name}: {exc}") from exc
    return target


def embed_bundle_in_pdf(pdf: bytes, bundle: bytes) -> bytes:
    """Attach ``bundle`` to ``pdf`` as an embedded file, in an incremental update.

    The original bytes stay a prefix of the result, so signatures already in the
    PDF remain valid.
    """
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError

    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        data = embed.EmbeddedFileObject.from_file_data(writer, bundle, mime_type="application/json")
        embed.embed_file(
            writer,
            embed.FileSpec(
                file_spec_string=BUNDLE_ATTACHMENT_NAME,
                file_name=BUNDLE_ATTACHMENT_NAME,
                embedded_data=data,
                description="Audit log proof bundle (evservice-audit-bundle v1)",
            ),
        )
        out = io.BytesIO()
        writer.write(out)  # type: ignore[no-untyped-call]
    except (PdfError, NotImplementedError, ValueError, KeyError) as exc:
        raise DocumentError(f"cannot attach the proof bundle to the PDF: {exc}") from exc
    return out.getvalue()


def extract_bundle_from_pdf(pdf: bytes) -> bytes:
    """The proof bundle attached to ``pdf`` (the last one, if it was attached twice)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        root = reader.root
        found: bytes | None = None
        names = root.get("/Names")
        names = names.get_object() if names is not None else {}
        stack = [names["/EmbeddedFiles"]] if "/EmbeddedFiles" in names else []
        while stack:
            node = stack.pop().get_object()
            if "/Kids" in node:
                stack.extend(kid.get_object() for kid in node["/Kids"])
            pairs = node["/Names"] if "/Names" in node else generic.ArrayObject()
            for i in range(0, len(pairs) - 1, 2):
                if str(pairs[i].get_object()) == BUNDLE_ATTACHMENT_NAME:
                    spec = pairs[i + 1].get_object()
                    found = spec["/EF"]["/F"].get_object().data
    except (PdfError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DocumentError(f"cannot read attachments of the PDF: {exc}") from exc
    if found is None:
        raise NotFoundError(f"the PDF has no attached {BUNDLE_ATTACHMENT_NAME}")
    return bytes(found)
