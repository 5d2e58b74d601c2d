"""``evservice audit``: verify names tampered rows (exit 1), proofs and checkpoints round-trip.

The commands run in-process through ``evservice.cli.main`` with the store chosen
by environment variables, as an operator would run them; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from reportlab.pdfgen import canvas

import evservice._context
from evservice._context import Context
from evservice.audit import NewEvent, record_many, sequence_pending
from evservice.audit._log import queue_many
from evservice.cli import main
from evservice.config import get_settings
from evservice.store import transaction

N = 12


@pytest.fixture
def cli_ctx(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """The suite's store made the CLI's default context, with ``N`` events in the log."""
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", ctx.settings.db_url)
    get_settings.cache_clear()
    monkeypatch.setattr(evservice._context, "_default", None)
    default = Context.default()
    assert default.settings.db_url == ctx.settings.db_url
    events = [
        NewEvent(
            type="invoice.issued" if i % 2 else "otp.sent",
            subject=f"doc-{i % 4}",
            actor="system",
            at=ctx.clock.now(),
            data={"n": i},
        )
        for i in range(N)
    ]
    with transaction(default.engine) as session:
        record_many(session, events)
    sequence_pending(default)  # as the sequencer of a running deployment would
    yield default
    get_settings.cache_clear()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _sql(ctx: Context, statement: str) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_verify_passes_on_an_intact_log(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 0
    assert f"audit log intact: {N} events re-hashed" in out


def test_verify_names_an_edited_row(cli_ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(cli_ctx, "update audit_event set subject = 'doc-9' where idx = 3")
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 1
    assert "NOT intact" in out
    assert "edited at index 3" in out


def test_verify_names_a_deleted_row(cli_ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    _sql(cli_ctx, "delete from audit_event where idx = 2")
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 1
    assert "deleted at index 2" in out


def test_verify_names_an_inserted_row(cli_ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    with cli_ctx.engine.begin() as conn:
        row = dict(conn.execute(sa.text("select * from audit_event where idx = 0")).one()._mapping)
        row.update(idx=N, event_id="11111111-1111-4111-8111-111111111111")
        columns = ", ".join(row)
        conn.execute(
            sa.text(f"insert into audit_event ({columns}) values (:{', :'.join(row)})"), row
        )
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 1
    assert f"inserted at index {N}" in out


def test_verify_checks_checkpoints_kept_outside(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, note, _ = run(["audit", "checkpoint"], capsys)
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(note)
    code, out, _ = run(["audit", "verify", "--checkpoint", str(kept)], capsys)
    assert code == 0, out
    assert "2 signed checkpoint(s) match" in out
    kept.write_text(note.replace(f"\n{N}\n", f"\n{N + 1}\n"))
    code, out, _ = run(["audit", "verify", "--checkpoint", str(kept)], capsys)
    assert code == 1
    assert "given checkpoint #1 does not verify" in out


def test_checkpoint_prove_and_verify_bundle(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, key, _ = run(["audit", "public-key"], capsys)
    assert code == 0
    key = key.strip()
    code, note, _ = run(["audit", "checkpoint"], capsys)
    assert code == 0
    assert note.splitlines()[:2] == [cli_ctx.settings.audit_origin, str(N)]
    bundle_path = tmp_path / "doc-1.json"
    code, _, err = run(["audit", "prove", "doc-1", "--out", str(bundle_path)], capsys)
    assert code == 0, err
    assert json.loads(bundle_path.read_bytes())["subject"] == "doc-1"
    code, out, _ = run(["audit", "verify-bundle", str(bundle_path), "--key", key], capsys)
    assert code == 0
    assert "audit bundle OK: 3 event(s) for 'doc-1'" in out
    tampered = bytearray(bundle_path.read_bytes())
    tampered[len(tampered) // 2] ^= 1
    bundle_path.write_bytes(bytes(tampered))
    code, out, _ = run(["audit", "verify-bundle", str(bundle_path), "--key", key], capsys)
    assert code == 1
    assert "INVALID" in out


def test_prove_into_a_pdf_and_beside_it(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    buf = io.BytesIO()
    page = canvas.Canvas(buf)
    page.drawString(72, 720, "Hop dong dich vu")
    page.save()
    pdf = tmp_path / "doc-2.pdf"
    pdf.write_bytes(buf.getvalue())
    code, _, err = run(["audit", "prove", "doc-2", "--pdf", str(pdf), "--beside", str(pdf)], capsys)
    assert code == 0, err
    assert pdf.read_bytes().startswith(buf.getvalue())
    assert (tmp_path / "doc-2.pdf.audit-proof.json").exists()
    code, out, _ = run(["audit", "verify-bundle", str(pdf)], capsys)
    assert code == 0, out
    assert "for 'doc-2'" in out


def test_prove_to_stdout(cli_ctx: Context, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    main(["audit", "prove", "doc-3"])  # success returns; a failure would raise SystemExit
    out = capsysbinary.readouterr().out
    assert json.loads(out)["subject"] == "doc-3"


def test_consistency_by_size_and_by_checkpoint_file(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, note, _ = run(["audit", "checkpoint"], capsys)
    old_file = tmp_path / "old.checkpoint"
    old_file.write_text(note)
    with transaction(cli_ctx.engine) as session:
        record_many(
            session,
            [
                NewEvent("contract.sealed", "ctr-1", "system", cli_ctx.clock.now(), {"i": i})
                for i in range(5)
            ],
        )
    code, out, _ = run(["audit", "consistency", "4", str(N + 5)], capsys)
    assert code == 0, out
    assert "verification: consistent" in out
    code, out, _ = run(["audit", "consistency", str(old_file)], capsys)
    assert code == 0, out
    assert "given old checkpoint: consistent" in out
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(note.replace(f"\n{N}\n", f"\n{N - 1}\n"))
    code, _, err = run(["audit", "consistency", str(forged)], capsys)
    assert code == 2
    assert "does not verify" in err


def test_errors_exit_2_with_one_line(cli_ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["audit", "prove", "no-such-doc"], capsys)
    assert code == 2
    assert err.startswith("error: ")
    code, _, err = run(["audit", "consistency", "10", "3"], capsys)
    assert code == 2
    assert "old_size" in err


def test_sequence_once_integrates_the_queue(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    with transaction(cli_ctx.engine) as session:  # queued on both back ends
        queue_many(
            session,
            [
                NewEvent("otp.sent", "otp-1", "system", cli_ctx.clock.now(), {"i": i})
                for i in range(3)
            ],
        )
    code, out, _ = run(["audit", "sequence", "--once", "--batch-size", "2"], capsys)
    assert code == 0
    assert "integrated 3 event(s); 0 queued" in out
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 0, out
    assert f"{N + 3} events re-hashed" in out


def test_verify_names_a_stale_queue(cli_ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    with transaction(cli_ctx.engine) as session:  # queued an hour ago, never integrated
        queue_many(
            session,
            [NewEvent("otp.sent", "otp-2", "system", cli_ctx.clock.now() - timedelta(hours=1), {})],
        )
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 1
    assert "queue: 1 event(s) wait in the queue longer than 0:10:00" in out
