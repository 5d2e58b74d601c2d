"""``evservice outbox``: list (masked), dispatch, retry what failed; exit codes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from evservice._context import Context
from evservice.cli import main
from evservice.delivery import MemoryChannel, Message, dispatch, enqueue
from evservice.store import transaction

RAW_PHONE = "0912345678"
RAW_MAIL = "khach.hang@example.com"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """The CLI reads its settings from the environment: point it at a fresh data dir."""
    import evservice._context as context_module
    from evservice.config import get_settings

    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    get_settings.cache_clear()
    monkeypatch.setattr(context_module, "_default", None)
    yield Context.default()
    get_settings.cache_clear()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _fill(ctx: Context) -> tuple[Message, Message, Message]:
    """One message sent, one failed for good, one still queued (a different kind)."""
    sent = Message(to=RAW_PHONE, kind="sms", text="Hoa don 1")
    failed = Message(to="0987654321", kind="sms", text="Hoa don 2")
    queued = Message(to=RAW_MAIL, subject="Hoa don 3", text="Body")
    with transaction(ctx.engine) as session:
        for message in (sent, failed):
            enqueue(session, message, ctx=ctx)
    channel = MemoryChannel(["sms"])
    channel.fail_next(1, retryable=False)
    report = dispatch(ctx, channel)
    assert (report.sent, report.failed) == (1, 1)
    with transaction(ctx.engine) as session:
        enqueue(session, queued, ctx=ctx)
    first_failed = channel.sent[0].id != sent.id
    return (failed, sent, queued) if first_failed else (sent, failed, queued)


def test_list_shows_masked_destinations(ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    _sent, failed, _queued = _fill(ctx)
    code, out, err = _run(capsys, "outbox", "list")
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert "+84 *** *** 678" in out
    assert "k***@example.com" in out
    for raw in (RAW_PHONE, "912345678", RAW_MAIL, "987654321"):
        assert raw not in out
    code, out, _ = _run(capsys, "outbox", "list", "--status", "failed")
    assert code == 0
    assert out.startswith(failed.id)
    assert "simulated outage" in out
    code, out, _ = _run(capsys, "outbox", "list", "--json")
    rows = json.loads(out)
    assert {r["status"] for r in rows} == {"sent", "failed", "queued"}
    assert {r["to"] for r in rows} >= {"k***@example.com"}
    assert RAW_MAIL not in out


def test_retry_resends_what_failed(ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    sent, failed, queued = _fill(ctx)
    code, out, err = _run(capsys, "outbox", "retry")
    assert (code, err) == (0, "")
    assert "1 failed message(s) queued again" in out
    assert "sent 2, retrying later 0, failed 0" in out  # the failed SMS and the queued e-mail
    outbox = ctx.data_dir / "outbox"
    assert (outbox / "sms" / f"{failed.id}.json").exists()
    assert (outbox / "email" / f"{queued.id}.eml").exists()
    assert not (outbox / "sms" / f"{sent.id}.json").exists()  # sent once, not again
    code, out, _ = _run(capsys, "outbox", "list", "--status", "failed")
    assert (code, out.strip()) == (0, "no failed messages")


def test_retry_without_sending_and_dispatch(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    _, failed, _ = _fill(ctx)
    code, out, _ = _run(capsys, "outbox", "retry", failed.id, "--no-send")
    assert code == 0
    assert "1 failed message(s) queued again" in out
    assert "sent" not in out
    code, out, _ = _run(capsys, "outbox", "dispatch")
    assert code == 0
    assert "sent 2" in out


def test_gateway_down_exits_1(
    ctx: Context, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import evservice._context as context_module
    from evservice.config import get_settings

    _fill(ctx)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EVSERVICE_DELIVERY_CHANNEL", "sms-webhook")
    monkeypatch.setenv("EVSERVICE_SMS_URL", f"http://127.0.0.1:{port}/sms")
    monkeypatch.setenv("EVSERVICE_SMS_AUTH_TOKEN", "tok")
    get_settings.cache_clear()
    monkeypatch.setattr(context_module, "_default", None)
    code, out, _ = _run(capsys, "outbox", "retry")
    assert code == 1
    assert "sent 1, retrying later 1, failed 0" in out  # the e-mail goes to the file outbox
    code, out, _ = _run(capsys, "outbox", "list", "--status", "queued")
    assert "unreachable" in out


def test_bad_status_is_a_clean_error(ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _run(capsys, "outbox", "list", "--status", "lost")
    assert code == 2
    assert err.startswith("error: status: must be one of")


def _write_codes(ctx: Context) -> dict[str, str]:
    """An SMS and an e-mail with a code, written by the file outbox (the embedded set-up)."""
    from evservice.delivery import FileOutboxChannel, otp_email, otp_sms

    channel = FileOutboxChannel(ctx.data_dir / "outbox")
    sms = otp_sms(to=RAW_PHONE, code="482913", document_label="HD2026-000001")
    mail = otp_email(
        to=RAW_MAIL, code="731650", document_label="HD2026-000001", document_sha256="ab" * 32
    )
    channel.send(sms)
    channel.send(mail)
    return {sms.id: "482913", mail.id: "731650"}


def test_list_shows_the_files_that_hold_codes_masked(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = _write_codes(ctx)
    code, out, _ = _run(capsys, "outbox", "list")
    assert code == 0
    for message_id in codes:
        assert message_id in out
    assert "+84 *** *** 678" in out
    assert "k***@example.com" in out
    for secret in (RAW_PHONE, "912345678", RAW_MAIL, *codes.values()):
        assert secret not in out
    code, out, _ = _run(capsys, "outbox", "list", "--json")
    rows = [row for row in json.loads(out) if row["source"] == "file"]
    assert {row["id"] for row in rows} == set(codes)
    assert {row["tags"]["purpose"] for row in rows} == {"contract.sign"}


def test_show_hides_the_code_unless_revealed(
    ctx: Context, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import evservice._context as context_module
    from evservice.config import get_settings

    def settings_changed() -> None:
        get_settings.cache_clear()
        monkeypatch.setattr(context_module, "_default", None)

    for message_id, secret in _write_codes(ctx).items():
        code, out, _ = _run(capsys, "outbox", "show", message_id)
        assert code == 0
        assert secret not in out
        assert "******" in out
        code, out, _ = _run(capsys, "outbox", "show", message_id, "--reveal")
        assert code == 0
        assert secret in out
        monkeypatch.setenv("EVSERVICE_DELIVERY_CHANNEL", "smtp")
        settings_changed()
        code, out, err = _run(capsys, "outbox", "show", message_id, "--reveal")
        assert code == 2
        assert secret not in out + err
        assert err.startswith("error: --reveal is for local testing with the file outbox")
        monkeypatch.delenv("EVSERVICE_DELIVERY_CHANNEL")
        settings_changed()


@pytest.mark.parametrize("bad", ["../../etc/passwd", "no-such-message"])
def test_show_of_an_unknown_id_is_one_clean_line(
    ctx: Context, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code, _, err = _run(capsys, "outbox", "show", bad)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")


def test_a_usage_error_is_clicks_message_not_a_traceback(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "outbox", "show")
    assert code == 2
    assert "Traceback" not in err
    assert "Missing argument" in err
