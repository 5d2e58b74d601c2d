"""Form 04/SS-HĐĐT: notices of corrections and explanations, signed, valid, never a cancel."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from evservice import audit
from evservice._context import Context
from evservice.errors import ConfigurationError, DocumentError, ValidationError
from evservice.signing import check_signature, find_signatures
from evservice.tax import NoticeKind, explain, notify_correction
from evservice.tax._format import validate_message

from .conftest import Month


def _item(xml: bytes) -> etree._Element:
    item = etree.fromstring(xml).find("DLTBao/DSHDon/HDon")
    assert item is not None
    return item


def test_a_correction_is_notified_once_signed_and_valid(month: Month) -> None:
    ctx = month.ctx
    for correction, original, kind in (
        (month.replacement, month.replaced, NoticeKind.REPLACEMENT),
        (month.adjustment, month.adjusted, NoticeKind.ADJUSTMENT),
    ):
        notice = notify_correction(correction.label, ctx=ctx)
        assert notice.created
        assert notice.invoice_id == original.row_id
        assert notice.correction_id == correction.row_id
        assert notice.kind == kind
        xml = notice.xml_path.read_bytes()
        validate_message(xml, "tbao.xsd")
        root = etree.fromstring(xml)
        general = root.find("DLTBao")
        assert general is not None
        assert general.findtext("MSo") == "04/SS-HĐĐT"
        assert general.findtext("Loai") == "1"
        assert general.find("So") is None
        assert (general.findtext("MCQT"), general.findtext("MST")) == ("10100", "0100101114")
        item = _item(xml)
        assert item.findtext("SHDon") == str(original.number)
        assert item.findtext("KHHDon") == original.invoice.draft.series
        assert item.findtext("TCTBao") == str(kind)
        assert item.findtext("LDo") == correction.invoice.draft.related.note
        (sig,) = find_signatures(root)
        assert check_signature(sig).intact
        again = notify_correction(correction.row_id, ctx=ctx)
        assert not again.created
        assert again.id == notice.id
        assert again.xml_path.read_bytes() == xml
    key = audit.log_public_key_string(ctx.settings)
    proof = audit.verify_bundle(audit.prove_subject(month.replaced.row_id, ctx), key)
    assert "tax.notice.built" in [e.type for e in proof.events]


def test_an_explanation_answers_the_authority_and_an_original_is_no_correction(
    month: Month,
) -> None:
    ctx = month.ctx
    notice = explain(
        month.replaced.label,
        reason="Sai địa chỉ người mua, mã số thuế đúng",
        authority_notice=("123/TB-CT", date(2026, 10, 30)),
        ctx=ctx,
    )
    assert notice.kind == NoticeKind.EXPLANATION
    xml = notice.xml_path.read_bytes()
    general = etree.fromstring(xml).find("DLTBao")
    assert general is not None
    assert (general.findtext("Loai"), general.findtext("So")) == ("2", "123/TB-CT")
    assert general.findtext("NTBCCQT") == "2026-10-30"
    assert _item(xml).findtext("TCTBao") == "4"
    with pytest.raises(ValidationError) as info:
        notify_correction(month.replaced.label, ctx=ctx)
    assert info.value.field == "correction_key"
    with pytest.raises(ValidationError, match="reason"):
        explain(month.replaced.label, reason=" ", ctx=ctx)
    with pytest.raises(ValidationError, match=r"authority_notice\.number"):
        explain(month.replaced.label, reason="x", authority_notice=("", date(2026, 1, 1)), ctx=ctx)


def test_the_schema_refuses_a_cancellation(month: Month) -> None:
    notice = notify_correction(month.replacement.row_id, ctx=month.ctx)
    xml = notice.xml_path.read_bytes()
    with pytest.raises(DocumentError, match=r"tbao\.xsd"):
        validate_message(xml.replace(b"<TCTBao>3<", b"<TCTBao>1<"), "tbao.xsd")


def test_a_notice_needs_the_tax_office(month: Month) -> None:
    settings = month.ctx.settings.model_copy(update={"tax_authority_code": None})
    ctx = Context(settings=settings, clock=month.ctx.clock)
    with pytest.raises(ConfigurationError, match="EVSERVICE_TAX_AUTHORITY_CODE"):
        notify_correction(month.replacement.row_id, ctx=ctx)
