"""``evservice audit prove`` takes the keys the rest of the CLI takes, not only internal ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

import evservice._context
from evservice import contracts, invoices
from evservice._context import Context
from evservice.audit import log_public_key_string, verify_bundle
from evservice.cli import main
from evservice.config import get_settings

SELLER = {"name": "Điện lực Hải Dương", "tax_code": "0100101114", "address": "Hải Dương"}
CONTRACT = Path(__file__).resolve().parents[2] / "examples" / "contract_draft.json"


@pytest.fixture
def cli_ctx(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", ctx.settings.db_url)
    get_settings.cache_clear()
    monkeypatch.setattr(evservice._context, "_default", None)
    yield Context.default()
    get_settings.cache_clear()


def _prove(key: str, capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[int, bytes]:
    try:
        main(["audit", "prove", key])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsysbinary.readouterr().out


def test_prove_by_invoice_label_lookup_code_and_contract_number(
    cli_ctx: Context, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    today = date.fromisoformat(cli_ctx.clock.now().date().isoformat())
    issued = invoices.issue(
        {
            "series": f"C{today.year % 100:02d}TAA",
            "issue_date": today.isoformat(),
            "seller": SELLER,
            "buyer": {"person_name": "Nguyễn Văn An", "address": "Hải Dương"},
            "lines": [{"name": "Điện", "quantity": "10", "unit_price": "1984", "vat_rate": "8%"}],
        },
        ctx=cli_ctx,
    )
    contract = contracts.create(CONTRACT.read_text(encoding="utf-8"), ctx=cli_ctx)
    keys = {
        issued.label: issued.row_id,
        issued.lookup_code: issued.row_id,
        issued.row_id: issued.row_id,
        contract.number: contract.id,
    }
    for key, subject in keys.items():
        code, bundle = _prove(key, capsysbinary)
        assert code == 0, key
        result = verify_bundle(bundle, log_public_key_string(cli_ctx.settings))
        assert result.ok, key
        assert result.subject == subject


def test_an_unknown_key_is_one_clean_error(
    cli_ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "prove", "1C26TAA-99999999"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: the audit log has no events about '1C26TAA-99999999'"]
