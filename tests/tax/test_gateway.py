"""The durable outbox and the gateways: each message id sent once, each answer applied once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evservice import audit
from evservice._context import Context
from evservice.errors import DeliveryError
from evservice.tax import (
    FileGateway,
    HttpGateway,
    MemoryGateway,
    Response,
    build_summary,
    list_messages,
    notify_correction,
    open_gateway,
    parse_response,
    send_pending,
)

from .conftest import REPORT_PERIOD, Month
from .tvan import REASON, response_xml, serve


def _queue(month: Month) -> list[str]:
    build_summary(REPORT_PERIOD, ctx=month.ctx, max_rows=20)
    notify_correction(month.replacement.row_id, ctx=month.ctx)
    messages = list_messages(month.ctx)
    assert sorted(m.type for m in messages) == ["300", "400", "400"]
    assert {m.status for m in messages} == {"queued"}
    return [m.id for m in messages]


def _events(ctx: Context, subject: str) -> list[str]:
    key = audit.log_public_key_string(ctx.settings)
    proof = audit.verify_bundle(audit.prove_subject(subject, ctx), key)
    assert proof.ok, proof.summary()
    return [e.type for e in proof.events]


def test_memory_gateway_sends_once_retries_and_applies_an_answer_once(month: Month) -> None:
    ctx = month.ctx
    ids = _queue(month)
    gateway = MemoryGateway()
    gateway.fail_next(DeliveryError("T-VAN bận"))
    report = send_pending(ctx, gateway)
    assert (report.submitted, report.retrying) == (2, 1)
    waiting = [m for m in list_messages(ctx) if m.status == "queued"]
    assert len(waiting) == 1
    assert waiting[0].next_attempt_at > ctx.clock.now()
    assert send_pending(ctx, gateway).submitted == 0  # not due yet: backoff
    ctx.clock.advance(minutes=2)  # type: ignore[attr-defined]
    assert send_pending(ctx, gateway).submitted == 1
    assert sorted(m.id for m in gateway.submitted) == sorted(ids)
    assert {m.status for m in list_messages(ctx)} == {"sent"}

    accepted, refused = ids[0], ids[1]
    answer = Response(id="TCT1", message_id=accepted, type="204", accepted=True)
    refusal = Response(id="TCT2", message_id=refused, type="204", accepted=False, reasons=(REASON,))
    gateway.answers += [answer, answer, refusal, refusal]
    report = send_pending(ctx, gateway)
    assert (report.answers, report.duplicates) == (2, 2)
    assert send_pending(ctx, gateway).duplicates == 4
    by_id = {m.id: m for m in list_messages(ctx)}
    assert by_id[accepted].status == "accepted"
    assert by_id[refused].status == "rejected"
    assert by_id[refused].reasons == (REASON,)
    events = _events(ctx, by_id[accepted].subject_id)
    assert events.count("tax.message.submitted") == 1
    assert events.count("tax.message.answered") == 1


def test_a_refusing_gateway_rejects_and_a_failing_one_gives_up(month: Month) -> None:
    ctx = month.ctx
    _queue(month)
    gateway = MemoryGateway()
    gateway.fail_next(DeliveryError("Thông điệp sai cấu trúc", retryable=False))
    for _ in range(30):
        gateway.fail_next(DeliveryError("T-VAN bận"))
    send_pending(ctx, gateway)
    for _ in range(12):
        ctx.clock.advance(hours=2)  # type: ignore[attr-defined]
        send_pending(ctx, gateway)
    statuses = sorted(m.status for m in list_messages(ctx))
    assert statuses == ["failed", "failed", "rejected"]
    assert gateway.submitted == []


def test_the_file_drop_writes_each_message_once_and_reads_the_inbox(month: Month) -> None:
    ctx = month.ctx
    ids = _queue(month)
    gateway = open_gateway(ctx)
    assert isinstance(gateway, FileGateway)
    assert send_pending(ctx).submitted == 3
    outbox = ctx.data_dir / "tax" / "outbox"
    assert sorted(p.stem for p in outbox.glob("*.xml")) == sorted(ids)
    envelope = (outbox / f"{ids[0]}.xml").read_bytes()
    assert b"<MTDiep>" + ids[0].encode() in envelope
    inbox = ctx.data_dir / "tax" / "inbox"
    inbox.mkdir()
    (inbox / "a.xml").write_text(response_xml(ids[0], "204", REASON), encoding="utf-8")
    (inbox / "junk.xml").write_bytes(b"<not a response")
    report = send_pending(ctx)
    assert (report.submitted, report.answers) == (0, 1)
    (rejected,) = list_messages(ctx, status="rejected")
    assert rejected.reasons == (REASON,)


def test_a_tvan_that_stalls_is_asked_before_a_resend_and_answers_twice(month: Month) -> None:
    ctx = month.ctx
    _queue(month)
    with serve("stall-once", stall=2.0) as tvan:
        tvan.silent = True
        gateway = HttpGateway(tvan.url, timeout=0.5)
        first = send_pending(ctx, gateway)
        assert first.retrying == 3  # every first POST timed out, yet the T-VAN kept it
        assert {m.status for m in list_messages(ctx)} == {"queued"}
        tvan.silent = False
        ctx.clock.advance(minutes=5)  # type: ignore[attr-defined]
        second = send_pending(ctx, gateway)
        gateway.close()
    assert second.already_held == 3  # asked first, so not sent again
    assert second.submitted == 0
    assert set(tvan.posts.values()) == {1}
    assert {m.status for m in list_messages(ctx)} == {"accepted"}
    assert (second.answers, second.duplicates) == (6, 6)  # 999 + 204/301 each, each twice


def test_a_tvan_rejection_keeps_the_reason_in_vietnamese(month: Month) -> None:
    ctx = month.ctx
    _queue(month)
    with serve("reject") as tvan:
        gateway = HttpGateway(tvan.url)
        send_pending(ctx, gateway)
        report = send_pending(ctx, gateway)
        gateway.close()
    assert report.duplicates >= 6
    assert set(tvan.posts.values()) == {1}
    rejected = list_messages(ctx, status="rejected")
    assert len(rejected) == 3
    assert all(m.reasons == (REASON,) for m in rejected)
    with serve("refuse") as tvan:
        notify_correction(month.adjustment.row_id, ctx=ctx)
        gateway = HttpGateway(tvan.url)
        assert send_pending(ctx, gateway).refused == 1
        gateway.close()
    (refused,) = [m for m in list_messages(ctx, status="rejected") if m.reasons != (REASON,)]
    assert "Thông điệp sai cấu trúc" in refused.reasons[0]


def test_parse_response_refuses_what_is_not_an_answer() -> None:
    for junk in (b"", b"<x/>", b"<TDiep><TTChung/></TDiep>", b"<TDiep"):
        with pytest.raises(Exception, match="response"):
            parse_response(junk)
    ok = parse_response(response_xml("ABC", "999").encode())
    assert (ok.message_id, ok.type, ok.accepted) == ("ABC", "999", True)
    assert json.dumps(ok.reasons) == "[]"


def test_open_gateway_follows_the_settings(tmp_path: Path, month: Month) -> None:
    settings = month.ctx.settings.model_copy(
        update={"tax_gateway": "tvan", "tax_tvan_url": "http://127.0.0.1:9"}
    )
    gateway = open_gateway(Context(settings=settings, clock=month.ctx.clock))
    assert isinstance(gateway, HttpGateway)
