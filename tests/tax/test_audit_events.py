"""Every audit event type the tax package records is declared, and every step records one."""

from __future__ import annotations

import ast
from pathlib import Path

from evservice import audit, tax
from evservice._context import Context
from evservice.errors import DeliveryError
from evservice.tax import (
    HttpGateway,
    MemoryGateway,
    build_summary,
    list_messages,
    notify_correction,
    request_code,
    send_pending,
)

from .authority import Authority
from .conftest import REPORT_PERIOD, Month
from .test_withcode import _coded_ctx
from .tvan import serve

TAX = Path(tax.__file__).parent


def _recorded_types() -> dict[str, list[str]]:
    """Event type literals passed to ``audit.record(type=...)`` or ``_event(_, _, type)``."""
    found: dict[str, list[str]] = {}
    for path in sorted(TAX.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "record":
                (value,) = [k.value for k in node.keywords if k.arg == "type"]
            elif name == "_event":
                value = node.args[2]
            else:
                continue
            where = f"{path.name}:{node.lineno}"
            if isinstance(value, ast.Name) and value.id == "type_":
                continue  # _event's own body passes its argument through
            assert isinstance(value, ast.Constant), f"{where}: the event type is not a literal"
            found.setdefault(str(value.value), []).append(where)
    return found


def test_every_event_type_recorded_by_tax_is_declared() -> None:
    recorded = _recorded_types()
    assert len(recorded) >= 10  # the walk found the calls
    undeclared = {t: w for t, w in recorded.items() if t not in audit.EVENT_TYPES}
    assert undeclared == {}
    declared = {t for t in audit.EVENT_TYPES if t.startswith("tax.")}
    assert declared == set(recorded)  # and nothing declared that tax never records


def _types(ctx: Context, subject: str) -> list[str]:
    key = audit.log_public_key_string(ctx.settings)
    proof = audit.verify_bundle(audit.prove_subject(subject, ctx), key)
    assert proof.ok, proof.summary()
    return [e.type for e in proof.events]


def test_each_submission_and_response_of_each_kind_is_audited(
    month: Month, authority: Authority
) -> None:
    ctx = _coded_ctx(month.ctx)
    build_summary(REPORT_PERIOD, ctx=month.ctx)  # the uncoded settings: the month's table
    notify_correction(month.replacement.row_id, ctx=ctx)
    request_code(month.adjusted.row_id, ctx=ctx)
    messages = {m.type: m for m in list_messages(ctx)}
    assert sorted(messages) == ["200", "300", "400"]
    with serve(authority=authority.signer()) as tvan:
        gateway = HttpGateway(tvan.url)
        send_pending(ctx, gateway)
        gateway.close()
    for kind, message in messages.items():
        types = _types(ctx, message.subject_id)
        steps = [t for t in types if t.startswith("tax.message.")]
        assert steps == [
            "tax.message.queued", "tax.message.submitted",
            "tax.message.answered", "tax.message.answered",  # the 999, then the result
        ], kind  # fmt: skip
    assert "tax.summary.built" in _types(ctx, messages["400"].subject_id)
    assert "tax.invoice.coded" in _types(ctx, messages["200"].subject_id)
    with ctx.engine.connect() as conn:
        events = audit.events_of_subjects(
            conn, [messages["200"].subject_id], ["tax.message.answered"]
        )[messages["200"].subject_id]
    assert [(e.data["response_type"], e.data["accepted"]) for e in events] == [
        ("999", True), ("202", True),
    ]  # fmt: skip


def test_deferred_refused_and_failed_attempts_are_audited(month: Month) -> None:
    ctx = month.ctx
    build_summary(REPORT_PERIOD, ctx=ctx, max_rows=20)
    notify_correction(month.replacement.row_id, ctx=ctx)
    assert len(list_messages(ctx)) == 3
    gateway = MemoryGateway()
    # Claimed oldest first: the first summary table, the second, then the notice.
    gateway.fail_next(DeliveryError("Thông điệp sai cấu trúc", retryable=False))
    for _ in range(20):
        gateway.fail_next(DeliveryError("T-VAN bận"))
    send_pending(ctx, gateway)
    for _ in range(10):
        ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
        send_pending(ctx, gateway)
    by_status = {m.status: m for m in list_messages(ctx)}
    assert set(by_status) == {"rejected", "failed"}
    rejected = _types(ctx, by_status["rejected"].subject_id)
    assert [t for t in rejected if t.startswith("tax.message.")] == [
        "tax.message.queued", "tax.message.rejected",
    ]  # fmt: skip
    failed = [t for t in _types(ctx, by_status["failed"].subject_id) if t.startswith("tax.")]
    assert failed.count("tax.message.deferred") == 7  # 8 attempts: 7 retried, then failed
    assert failed[-1] == "tax.message.failed"
