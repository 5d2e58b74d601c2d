"""The data summary table: rows, totals to the dong, splitting, supplements, idempotence."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from lxml import etree

from evservice import audit
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.errors import DocumentError, ValidationError
from evservice.invoices import InvoiceLine, adjust, list_invoices
from evservice.signing import check_signature, find_signatures
from evservice.tax import build_summary, list_summaries
from evservice.tax._format import validate_message

from .conftest import REPORT_PERIOD, Month

DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _rows(xml: bytes) -> list[etree._Element]:
    return etree.fromstring(xml).findall("DLBTHop/NDBTHDLieu/DSDLieu/DLieu")


def _totals(xmls: list[bytes]) -> dict[str, dict[str, Decimal]]:
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for xml in xmls:
        for row in _rows(xml):
            rate = row.findtext("TSuat") or ""
            sums[rate]["before_tax"] += Decimal(row.findtext("TTCThue") or "0")
            sums[rate]["tax"] += Decimal(row.findtext("TgTThue") or "0")
            sums[rate]["payable"] += Decimal(row.findtext("TgTTToan") or "0")
    return {rate: dict(v) for rate, v in sums.items()}


def test_the_month_is_split_signed_valid_and_adds_up_to_the_batch(month: Month) -> None:
    ctx = month.ctx
    build = build_summary(REPORT_PERIOD, ctx=ctx, max_rows=7)
    invoices = 30 + 2
    assert [t.sequence for t in build.tables] == list(range(1, len(build.tables) + 1))
    assert build.created == build.tables
    assert sum(t.invoices for t in build.tables) == invoices
    assert all(t.rows <= 7 for t in build.tables)
    assert len(build.tables) == -(-sum(t.rows for t in build.tables) // 7)
    xmls = [t.xml_path.read_bytes() for t in build.tables]
    for table, xml in zip(build.tables, xmls, strict=True):
        validate_message(xml, "bthdlieu.xsd")
        root = etree.fromstring(xml)
        general = root.find("DLBTHop/TTChung")
        assert general is not None
        assert general.findtext("SBTHDLieu") == str(table.sequence)
        assert general.findtext("KDLieu") == "11/2026"
        assert general.findtext("LKDLieu") == "T"
        assert general.findtext("LDau") == "1"
        assert general.find("BSLThu") is None
        assert general.findtext("MST") == "0100101114"
        (sig,) = find_signatures(root)
        assert sig.getparent() is not None
        assert sig.getparent().tag == "NNT"
        check = check_signature(sig)
        assert check.intact, check
        assert [int(r.findtext("STT") or 0) for r in _rows(xml)] == list(range(1, table.rows + 1))

    # Totals by VAT rate: the batch's to the dong, plus the two corrections.
    sums = _totals(xmls)
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for rate, values in month.batch.by_vat_rate.items():
        for key, value in values.items():
            expected[rate][key] += value
    for correction in (month.replacement, month.adjustment):
        for group in correction.invoice.totals.by_rate:
            expected[group.rate]["before_tax"] += group.amount
            expected[group.rate]["tax"] += group.tax or 0
            expected[group.rate]["payable"] += group.amount + (group.tax or 0)
    assert sums == {rate: dict(v) for rate, v in expected.items()}

    # Each correction names what it corrects; TThai 3 replacement, 2 adjustment; no 1.
    by_number = {(r.findtext("KHHDon"), r.findtext("SHDon")): r for x in xmls for r in _rows(x)}
    statuses = [r.findtext("TThai") for r in by_number.values()]
    assert statuses.count("3") == 1
    assert statuses.count("2") == 1
    assert "1" not in statuses
    for correction, original, status in (
        (month.replacement, month.replaced, "3"),
        (month.adjustment, month.adjusted, "2"),
    ):
        row = by_number[(correction.invoice.draft.series, str(correction.number))]
        assert row.findtext("TThai") == status
        assert row.findtext("SHDCLQuan") == str(original.number)
        assert row.findtext("KHHDCLQuan") == original.invoice.draft.series
        assert row.findtext("LHDCLQuan") == "1"
    original = by_number[(month.replaced.invoice.draft.series, str(month.replaced.number))]
    assert original.findtext("TThai") == "0"

    # One audit event per table (and its message's), provable offline.
    key = audit.log_public_key_string(ctx.settings)
    for table in build.tables:
        proof = audit.verify_bundle(audit.prove_subject(table.id, ctx), key)
        assert proof.ok, proof.summary()
        assert [e.type for e in proof.events] == ["tax.summary.built", "tax.message.queued"]
        event = proof.events[0]
        assert event.data["xml_sha256"] == table.xml_sha256
        assert event.data["rows"] == table.rows


def test_a_rerun_adds_nothing_and_a_late_correction_is_a_supplement(
    month: Month, clock: ManualClock
) -> None:
    ctx = month.ctx
    first = build_summary(REPORT_PERIOD, ctx=ctx, max_rows=20)
    before = [t.xml_path.read_bytes() for t in first.tables]
    clock.advance(hours=3)
    again = build_summary(REPORT_PERIOD, ctx=ctx, max_rows=20)
    assert again.created == ()
    assert again.tables == first.tables
    assert [t.xml_path.read_bytes() for t in again.tables] == before

    third = list_invoices(ctx=ctx, limit=3)[2]
    vat = next(line.vat_rate for line in third.invoice.draft.lines if line.vat_rate)
    line = InvoiceLine(name="Điều chỉnh giảm", amount=Decimal(-5_000), vat_rate=vat)
    late = adjust(
        third.row_id,
        third.invoice.draft.model_copy(update={"lines": [line], "reference": None}),
        reason="Ghi sai chỉ số",
        ctx=ctx,
    )
    supplement = build_summary(REPORT_PERIOD, ctx=ctx, max_rows=20)
    (table,) = supplement.created
    assert table.sequence == len(first.tables) + 1
    assert table.supplement == 1
    assert not table.first
    assert supplement.tables == (*first.tables, table)
    general = etree.fromstring(table.xml_path.read_bytes()).find("DLBTHop/TTChung")
    assert general is not None
    assert (general.findtext("LDau"), general.findtext("BSLThu")) == ("0", "1")
    (row,) = _rows(table.xml_path.read_bytes())
    assert (row.findtext("SHDon"), row.findtext("TThai")) == (str(late.number), "2")
    assert row.findtext("TTCThue") == "-5000"
    assert list_summaries(REPORT_PERIOD, ctx=ctx) == list(supplement.tables)
    assert [t.xml_path.read_bytes() for t in first.tables] == before


def test_a_table_is_tamper_evident_and_the_schema_refuses_what_the_format_does(
    month: Month,
) -> None:
    build = build_summary(REPORT_PERIOD, ctx=month.ctx)
    (table,) = build.tables
    xml = table.xml_path.read_bytes()
    amount = _rows(xml)[0].findtext("TTCThue")
    forged = xml.replace(f"<TTCThue>{amount}<".encode(), f"<TTCThue>{amount}1<".encode(), 1)
    (sig,) = find_signatures(etree.fromstring(forged))
    assert not check_signature(sig).intact
    for bad in (
        xml.replace(b"<TThai>0</TThai>", b"<TThai>7</TThai>", 1),
        xml.replace(b"<LKDLieu>T</LKDLieu>", b"<LKDLieu>X</LKDLieu>"),
        xml.replace(b"<MST>0100101114</MST>", b"<MST>123</MST>"),
    ):
        with pytest.raises(DocumentError, match=r"bthdlieu\.xsd"):
            validate_message(bad, "bthdlieu.xsd")


@pytest.mark.parametrize("period", ["2026-13", "11/2026", "", "1999-01", "2026"])
def test_a_bad_period_is_refused_naming_it(tctx: Context, period: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_summary(period, ctx=tctx)
    assert info.value.field == "period"


def test_a_month_without_invoices_builds_nothing(tctx: Context) -> None:
    build = build_summary("2026-09", ctx=tctx)
    assert build.created == ()
    assert build.tables == ()
    with pytest.raises(ValidationError, match="max_rows"):
        build_summary("2026-09", ctx=tctx, max_rows=0)
