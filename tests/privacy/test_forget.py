"""``privacy forget``: crypto-shredding of a customer's data keys, on both back ends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

import evservice._context
from evservice import audit, contracts, delivery, invoices, privacy
from evservice._context import Context
from evservice.cli import main
from evservice.cli._keys import SEALED_TABLES
from evservice.config import get_settings
from evservice.delivery import MemoryChannel
from evservice.errors import DataErased, NotFoundError

from .conftest import EMAIL, NAME, PHONE, PHONE_E164, contract_draft


def _forget(ctx: Context) -> privacy.Forgotten:
    return privacy.forget(ctx, [PHONE, EMAIL], SEALED_TABLES)


def test_forget_erases_contracts_and_messages_and_keeps_invoices(
    ctx: Context, populated: dict[str, Any]
) -> None:
    result = _forget(ctx)
    assert result.keys_destroyed == 2  # the phone's and the e-mail's
    assert result.rows == {"contract": 1, "delivery_outbox": 20}
    with pytest.raises(DataErased, match="erased on request") as caught:
        contracts.get(populated["contract"], ctx=ctx)
    assert NAME not in str(caught.value)
    names = [s["name"] for s in contracts.signers(populated["contract"], ctx=ctx)]
    assert names == [privacy.ERASED, privacy.ERASED]
    for invoice_id in populated["invoices"]:  # the law keeps invoices: still readable
        assert invoices.get(invoice_id, ctx=ctx).invoice.draft.buyer.person_name == NAME
    report = delivery.dispatch(ctx)
    assert (report.sent, report.failed) == (0, 20)  # nothing sent to an erased recipient
    failed = delivery.list_outbox(ctx=ctx, status="failed")
    assert all("erased on request" in (entry.last_error or "") for entry in failed)
    verified = privacy.verify(ctx, SEALED_TABLES)
    assert verified.ok, verified.summary()
    by_column = {(c.table, c.column): c for c in verified.columns}
    assert by_column["delivery_outbox", "to_address"].erased == 20
    assert by_column["invoice", "draft_json"].live == 6
    # A rotation leaves erased values alone.
    assert privacy.rotate(ctx, SEALED_TABLES).resealed == 6 * 2


def test_the_audit_event_names_no_one(ctx: Context, populated: dict[str, Any]) -> None:
    result = _forget(ctx)
    audit.sequence_pending(ctx)
    with ctx.engine.connect() as conn:
        (row,) = conn.execute(
            sa.text("select subject, data from audit_event where type = 'privacy.forgotten'")
        ).all()
    data = json.loads(row.data)
    assert data["keys_destroyed"] == 2
    assert data["rows"] == {"contract": 1, "delivery_outbox": 20}
    assert data["subjects"] == list(result.subjects)
    keys = privacy.keyring(ctx)
    assert data["subjects"] == [keys.index(PHONE), keys.index(EMAIL)]
    for secret in (NAME, EMAIL, PHONE_E164, "0912345678"):
        assert secret not in row.data
        assert secret not in row.subject


def test_forget_is_idempotent_and_a_returning_customer_gets_a_new_key(
    ctx: Context, populated: dict[str, Any]
) -> None:
    _forget(ctx)
    assert _forget(ctx).keys_destroyed == 0
    draft = contract_draft()
    draft["reference"] = "HK-2026-000999"
    again = contracts.create(draft, ctx=ctx)
    assert contracts.get(again.id, ctx=ctx).draft.customer.name == NAME
    with ctx.engine.connect() as conn:
        generations = conn.execute(
            sa.text("select generation from privacy_key where scope = :s"),
            {"s": privacy.keyring(ctx).subject_scope(PHONE)},
        ).scalars()
        assert sorted(generations) == [1, 2]


@pytest.fixture
def cli_ctx(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", ctx.settings.db_url)
    get_settings.cache_clear()
    monkeypatch.setattr(evservice._context, "_default", None)
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


def test_the_cli_forgets_and_then_says_erased(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    made = populate_default(cli_ctx)
    code, out, _ = _run(capsys, "privacy", "forget", PHONE, EMAIL)
    assert code == 0
    assert "2 data keys destroyed" in out
    code, _, err = _run(capsys, "contract", "show", made["contract"])
    assert code == 2
    assert "erased on request" in err
    code, out, _ = _run(capsys, "outbox", "list")
    assert code == 0
    assert "***" in out  # masked destinations, as before
    code, out, _ = _run(capsys, "keys", "verify")
    assert code == 0
    assert "0 values in plaintext" in out


def populate_default(ctx: Context) -> dict[str, Any]:
    from .conftest import populate

    return populate(ctx, invoices_count=2, messages=4)


def test_the_portal_link_of_a_forgotten_contract_finds_nothing(
    ctx: Context, populated: dict[str, Any]
) -> None:
    """The portal turns NotFoundError into its one 404 page; DataErased is one."""
    asked = contracts.request_consent(
        populated["contract"], channel="sms", delivery=MemoryChannel(), ctx=ctx
    )
    contract, _role = contracts.for_challenge(asked.challenge_id, ctx=ctx)
    assert contract.draft.customer.name == NAME
    _forget(ctx)
    with pytest.raises(NotFoundError, match="erased on request"):
        contracts.for_challenge(asked.challenge_id, ctx=ctx)
