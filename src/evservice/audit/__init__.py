"""Verifiable audit trail: an RFC 6962 Merkle log, signed checkpoints, offline proofs.

Every state change of an invoice, contract or OTP challenge records one event
with :func:`record`, in the same transaction as the change. The log keeps every
complete subtree hash, so inclusion and consistency proofs cost O(log n) reads;
it signs C2SP checkpoints with an Ed25519 key (:func:`publish_checkpoint`) and
gives each document an offline proof bundle (:func:`prove_subject`) that anyone
can check with :func:`verify_bundle` and the log's public key alone. The
verifier lives in the standalone module ``evservice/audit/_offline.py`` (stdlib
and ``cryptography`` only) so auditors can copy it. :func:`verify_log` re-hashes
the whole stored log and names each kind of damage (edited, deleted, inserted,
reordered or rewritten events, edited hashes, a missing head, an emptied log,
deleted checkpoints, a stalled queue, and, through ``domain_checks``, domain
rows that disagree with their events).

Queue and sequencer (as Trillian's and Tessera's sequencers do it):

* :func:`record` writes the event inside the caller's transaction -- it commits
  or rolls back with its change. On PostgreSQL it inserts into the
  ``audit_queue`` table, sharing no lock with other callers (the former design
  appended under a lock on the log head held until the caller committed, so
  writers queued behind each other), and returns at once with the event's
  ``id``; ``index`` is :data:`UNSEQUENCED`. On SQLite the caller's transaction
  holds the database's one write lock already, so the event goes straight into
  the log (leaves and nodes of the call at once) and comes back with its index;
  only the first events of an empty log, and events recorded while others wait
  in the queue, are queued there.
* A sequencer (:func:`run_sequencer`, :class:`Sequencer` on a thread in the
  batch and in the portal's lifespan, ``evservice audit sequence`` alone) integrates the
  queue in batches of up to ``SequencerOptions.batch_size`` events (default
  2,000), pausing ``interval`` (default 5 ms) after a short batch. One batch is
  one short transaction: delete the oldest queued rows ``RETURNING`` them, give
  them consecutive leaf indexes, compute their leaves and every subtree they
  complete at once, write events, nodes and the head. The delete and the insert
  commit together, so a kill at any point leaves each event in exactly one
  place and a rerun integrates it once. Exactly one sequencer integrates at a
  time: a transaction-scoped PostgreSQL advisory lock (keyed on the schema;
  others get "busy" at once and retry), on SQLite the write lock the
  IMMEDIATE transaction holds. After its first batch, and then once a minute
  (``checkpoint_every``) while the log grows, it signs a checkpoint.
* :func:`wait_sequenced` (bounded), :func:`sequence_pending`,
  :func:`publish_checkpoint` and the proof functions integrate the queue
  themselves when no other sequencer is at work, so nothing depends on a
  background process being up; checkpoints cover only sequenced events.

Event bytes are RFC 8785 canonical JSON (schema in :mod:`evservice.audit._event`);
leaf = SHA-256(0x00 || bytes), node = SHA-256(0x01 || left || right).
"""

from evservice.audit._bundle import (
    BUNDLE_ATTACHMENT_NAME,
    embed_bundle_in_pdf,
    extract_bundle_from_pdf,
    prove_subject,
    write_bundle_beside,
)
from evservice.audit._checkpoint import (
    ConsistencyProof,
    SignedCheckpoint,
    get_checkpoint,
    latest_checkpoint,
    verify_checkpoint,
)
from evservice.audit._domain import SubjectEvent, events_of_subjects
from evservice.audit._event import (
    EVENT_SCHEMA_VERSION,
    EVENT_TYPES,
    JSON,
    AuditRecord,
    canonical_event_bytes,
)
from evservice.audit._keys import ensure_log_key, log_key_path, log_public_key_string
from evservice.audit._log import (
    UNSEQUENCED,
    NewEvent,
    log_size,
    record,
    record_many,
)
from evservice.audit._offline import (
    EMPTY_ROOT,
    BundleVerification,
    Checkpoint,
    VerifiedEvent,
    leaf_hash,
    node_hash,
    verify_bundle,
    verify_consistency,
    verify_inclusion,
)
from evservice.audit._sequencer import (
    Sequencer,
    SequencerOptions,
    consistency_proof,
    inclusion_proof,
    prove_consistency,
    publish_checkpoint,
    queue_length,
    root_at,
    run_sequencer,
    sequence_pending,
    wait_sequenced,
)
from evservice.audit._verify import DomainCheck, LogProblem, LogVerification, verify_log

__all__ = [
    "BUNDLE_ATTACHMENT_NAME",
    "EMPTY_ROOT",
    "EVENT_SCHEMA_VERSION",
    "EVENT_TYPES",
    "JSON",
    "UNSEQUENCED",
    "AuditRecord",
    "BundleVerification",
    "Checkpoint",
    "ConsistencyProof",
    "DomainCheck",
    "LogProblem",
    "LogVerification",
    "NewEvent",
    "Sequencer",
    "SequencerOptions",
    "SignedCheckpoint",
    "SubjectEvent",
    "VerifiedEvent",
    "canonical_event_bytes",
    "consistency_proof",
    "embed_bundle_in_pdf",
    "ensure_log_key",
    "events_of_subjects",
    "extract_bundle_from_pdf",
    "get_checkpoint",
    "inclusion_proof",
    "latest_checkpoint",
    "leaf_hash",
    "log_key_path",
    "log_public_key_string",
    "log_size",
    "node_hash",
    "prove_consistency",
    "prove_subject",
    "publish_checkpoint",
    "queue_length",
    "record",
    "record_many",
    "root_at",
    "run_sequencer",
    "sequence_pending",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "wait_sequenced",
    "write_bundle_beside",
]
