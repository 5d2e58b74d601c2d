"""A coded invoice whose coded XML is missing or damaged stops no delivery run."""

from __future__ import annotations

import pytest

from evservice._context import Context
from evservice.cli import main
from evservice.tax import MemoryGateway, deliver_coded, queue_coded, send_pending

from .conftest import SELLER_SETTINGS, Month
from .test_withcode import _answer_all, _coded_ctx, _events


def _break(ctx: Context, ids: list[str]) -> dict[str, bytes]:
    """Damage three coded XMLs three ways; what each held."""
    coded = ctx.data_dir / "tax" / "coded"
    kept = {i: (coded / f"{i}.xml").read_bytes() for i in ids}
    (coded / f"{ids[0]}.xml").unlink()  # missing
    (coded / f"{ids[1]}.xml").write_bytes(b"<HDon><DLHDon")  # unreadable
    (coded / f"{ids[2]}.xml").write_bytes(kept[ids[2]].replace(b"<MCCQT", b"<!-- --><MCCQT"))
    return kept


def test_broken_coded_xml_is_reported_left_pending_and_the_rest_delivered(
    month: Month, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = _coded_ctx(month.ctx)
    queued = queue_coded(ctx)
    gateway = MemoryGateway()
    send_pending(ctx, gateway)
    codes = _answer_all(ctx, gateway)
    send_pending(ctx, gateway)
    assert len(codes) == len(queued) == 32
    broken = sorted(codes)[:3]
    kept = _break(ctx, broken)

    settings = ctx.settings
    for name, value in SELLER_SETTINGS.items():
        monkeypatch.setenv(f"EVSERVICE_{name.upper()}", value)
    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("EVSERVICE_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("EVSERVICE_TAX_CODED_SERIES", "1C26TEV")
    with pytest.raises(SystemExit) as exit_info:
        main(["tax", "send"])
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert "coded invoices delivered 29" in out
    lines = [line for line in err.splitlines() if line.startswith("not delivered, left pending")]
    assert len(lines) == 3
    assert "cannot read the coded XML" in err
    assert "cannot be parsed" in err
    assert "SHA-256 differs" in err

    delivered = _events(ctx, sorted(codes), "tax.invoice.delivered")
    assert sorted(i for i, events in delivered.items() if events) == sorted(codes)[3:]
    again = deliver_coded(ctx)  # still pending, still reported
    assert again.invoices == 0
    assert len(again.failed) == 3
    for invoice_id, xml in kept.items():  # put right: delivered on the next run
        (ctx.data_dir / "tax" / "coded" / f"{invoice_id}.xml").write_bytes(xml)
    fixed = deliver_coded(ctx)
    assert (fixed.invoices, fixed.failed) == (3, ())
    assert deliver_coded(ctx).invoices == 0
