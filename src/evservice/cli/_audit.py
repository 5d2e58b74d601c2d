"""``evservice audit``: sequence the queue, verify the log, publish checkpoints, prove.

``verify`` and ``verify-bundle`` exit 1 when they find a problem (and name it);
errors of our tree exit 2 as everywhere in the CLI. ``sequence`` is the
stand-alone sequencer: it runs until SIGTERM or Ctrl-C (or, with ``--once``,
until the queue is empty).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from evservice import invoices
from evservice._context import Context
from evservice.audit import (
    SequencerOptions,
    embed_bundle_in_pdf,
    extract_bundle_from_pdf,
    log_public_key_string,
    prove_consistency,
    prove_subject,
    publish_checkpoint,
    queue_length,
    run_sequencer,
    verify_bundle,
    verify_checkpoint,
    verify_consistency,
    verify_log,
    write_bundle_beside,
)
from evservice.errors import DocumentError, NotFoundError, ValidationError

__all__ = ["app"]

app = typer.Typer(help="Audit log: verify it, publish checkpoints, prove documents offline.")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers never see half a file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise DocumentError(f"cannot write {path}: {exc.strerror}") from exc


@app.command("verify")
def verify_command(
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A signed checkpoint kept outside the store (repeatable)."),
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Events read per query.")] = 2000,
    max_queue_minutes: Annotated[
        float, typer.Option(min=0, help="Longest an event may wait in the queue.")
    ] = 10,
) -> None:
    """Re-hash every stored event, rebuild the tree and compare with the stored hashes,
    every signed checkpoint (and the ones given), the queue and the invoice rows.
    Exits 1 and names each kind of damage if anything is wrong."""
    notes = [_read(p, "checkpoint").decode("utf-8", "replace") for p in checkpoint or []]
    result = verify_log(
        Context.default(),
        checkpoints=notes,
        chunk_size=chunk_size,
        max_queue_age=timedelta(minutes=max_queue_minutes),
        domain_checks=[functools.partial(invoices.audit_check, ctx=Context.default())],
    )
    typer.echo(result.summary())
    if not result.ok:
        raise typer.Exit(1)


@app.command("sequence")
def sequence_command(
    once: Annotated[bool, typer.Option(help="Integrate what is queued, then exit.")] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per transaction at most.")
    ] = SequencerOptions.batch_size,
    interval_ms: Annotated[
        int, typer.Option(min=1, help="Pause after a short batch, in milliseconds.")
    ] = 20,
) -> None:
    """Integrate queued audit events into the log (the stand-alone sequencer).

    Any number may run beside the batch's and the server's: one integrates at a
    time. Stops on SIGTERM or Ctrl-C after the batch in progress."""
    ctx = Context.default()
    options = SequencerOptions(batch_size=batch_size, interval=timedelta(milliseconds=interval_ms))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        done = run_sequencer(ctx, options, stop=stop, once=once)
    except KeyboardInterrupt:
        done = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(f"integrated {done} event(s); {queue_length(ctx)} queued")


@app.command("checkpoint")
def checkpoint_command() -> None:
    """Sign and publish a checkpoint of the log as it is now; print the signed note."""
    typer.echo(publish_checkpoint(Context.default()).note, nl=False)


@app.command("public-key")
def public_key_command() -> None:
    """Print the log's C2SP verifier key (what auditors need to check bundles)."""
    typer.echo(log_public_key_string(Context.default().settings))


def _subject(key: str, ctx: Context) -> str:
    """The audit subject KEY names: an invoice (label, lookup code or id), a contract
    (number or id), or else KEY itself (a challenge id, any other subject)."""
    from evservice import contracts, invoices

    try:
        return invoices.get(key, ctx=ctx).row_id
    except (NotFoundError, ValidationError):
        pass
    try:
        return contracts.get(key, ctx=ctx).id
    except (NotFoundError, ValidationError):
        return key


@app.command("prove")
def prove_command(
    document: Annotated[
        str,
        typer.Argument(
            help="Invoice label (1C26TAA-00000123), lookup code or id; contract number "
            "(HD2026-000001) or id; or any subject id, such as a challenge id."
        ),
    ],
    out: Annotated[Path | None, typer.Option(help="Write the bundle to this file.")] = None,
    pdf: Annotated[
        Path | None,
        typer.Option(help="Attach the bundle to this PDF (incremental update, in place)."),
    ] = None,
    beside: Annotated[
        Path | None,
        typer.Option(help="Write the bundle next to this file as <file>.audit-proof.json."),
    ] = None,
) -> None:
    """Make the offline proof bundle of every event about DOCUMENT."""
    ctx = Context.default()
    bundle = prove_subject(_subject(document, ctx), ctx)
    if pdf is not None:
        _write_atomic(pdf, embed_bundle_in_pdf(_read(pdf, "PDF"), bundle))
        typer.echo(f"attached the proof bundle to {pdf}", err=True)
    if beside is not None:
        typer.echo(f"wrote {write_bundle_beside(beside, bundle)}", err=True)
    if out is not None:
        _write_atomic(out, bundle)
        typer.echo(f"wrote {out}", err=True)
    if pdf is None and beside is None and out is None:
        sys.stdout.buffer.write(bundle)
        sys.stdout.flush()


@app.command("verify-bundle")
def verify_bundle_command(
    file: Annotated[Path, typer.Argument(help="A bundle (.json) or a PDF with one attached.")],
    key: Annotated[
        str | None,
        typer.Option(help="The log's verifier key string (default: this deployment's key)."),
    ] = None,
) -> None:
    """Check a proof bundle offline with the log's public key. Exits 1 if it is invalid."""
    data = _read(file, "bundle")
    if data.startswith(b"%PDF-"):
        data = extract_bundle_from_pdf(data)
    public_key = key if key is not None else log_public_key_string(Context.default().settings)
    result = verify_bundle(data, public_key)
    typer.echo(result.summary())
    if not result.ok:
        raise typer.Exit(1)


def _reference(text: str, vkey: str) -> tuple[int, bytes | None]:
    """A size, or a file holding a signed checkpoint (then its root is checked too)."""
    if text.isdigit():
        return int(text), None
    path = Path(text)
    if not path.exists():
        raise ValidationError("checkpoint", "give a size or the path of a signed checkpoint file")
    opened = verify_checkpoint(_read(path, "checkpoint").decode("utf-8", "replace"), vkey)
    return opened.size, opened.root_hash


@app.command("consistency")
def consistency_command(
    old: Annotated[str, typer.Argument(help="Older size, or a signed checkpoint file.")],
    new: Annotated[
        str | None,
        typer.Argument(help="Newer size or checkpoint file (default: latest checkpoint)."),
    ] = None,
) -> None:
    """Prove that the log at NEW extends the log at OLD (RFC 9162 consistency proof)."""
    ctx = Context.default()
    vkey = log_public_key_string(ctx.settings)
    old_size, old_root = _reference(old, vkey)
    new_size, new_root = _reference(new, vkey) if new is not None else (None, None)
    result = prove_consistency(old_size, new_size, ctx)
    typer.echo(result.to_text(), nl=False)
    ok = result.verified
    for given, label in ((old_root, "old"), (new_root, "new")):
        if given is not None:
            roots = (
                given if label == "old" else result.old_root,
                given if label == "new" else result.new_root,
            )
            holds = verify_consistency(
                result.old_size, result.new_size, roots[0], roots[1], list(result.proof)
            )
            typer.echo(f"given {label} checkpoint: {'consistent' if holds else 'NOT consistent'}")
            ok = ok and holds
    if not ok:
        raise typer.Exit(1)
