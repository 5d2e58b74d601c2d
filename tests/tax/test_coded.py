"""Invoices sent for the authority's code: message 200, the 202's MCCQT put into HDon/MCCQT."""

from __future__ import annotations

import pytest
from lxml import etree

from evservice.errors import DocumentError, ValidationError
from evservice.signing import check_signature, find_signatures
from evservice.tax import (
    MemoryGateway,
    Response,
    insert_code,
    invoice_code,
    list_messages,
    request_code,
    send_pending,
)

from .conftest import Month
from .test_withcode import _coded_ctx

CODE = "00A1B2C3D4E5F60718293A4B5C6D7E8F90"


def test_a_code_comes_back_into_the_xml_and_the_seller_signature_holds(month: Month) -> None:
    ctx = _coded_ctx(month.ctx)
    invoice = month.replaced
    assert invoice.invoice.draft.series.startswith("C")
    message_id = request_code(invoice.label, ctx=ctx)
    assert request_code(invoice.row_id, ctx=ctx) == message_id
    assert invoice_code(invoice.row_id, ctx=ctx) is None  # waiting for the code
    gateway = MemoryGateway()
    assert send_pending(ctx, gateway).submitted == 1
    (sent,) = gateway.submitted
    assert sent.type == "200"
    assert b"<MLTDiep>200</MLTDiep>" in sent.xml
    assert b"<HDon>" in sent.xml

    answer = Response(id="R202", message_id=message_id, type="202", accepted=True, code=CODE)
    gateway.answers += [answer, answer]
    report = send_pending(ctx, gateway)
    assert (report.answers, report.duplicates) == (1, 1)
    assert invoice_code(invoice.row_id, ctx=ctx) == CODE
    (message,) = list_messages(ctx, status="accepted")
    assert message.id == message_id
    coded = (ctx.data_dir / "tax" / "coded" / f"{invoice.row_id}.xml").read_bytes()
    root = etree.fromstring(coded)
    assert [child.tag for child in root] == ["DLHDon", "MCCQT", "DSCKS"]
    assert root.findtext("MCCQT") == CODE
    (sig,) = find_signatures(root)
    assert check_signature(sig).intact


def test_a_202_without_a_code_is_a_refusal_and_bad_codes_are_refused(month: Month) -> None:
    ctx = _coded_ctx(month.ctx)
    message_id = request_code(month.adjusted.row_id, ctx=ctx)
    gateway = MemoryGateway()
    send_pending(ctx, gateway)
    gateway.answers.append(Response(id="R1", message_id=message_id, type="202", accepted=True))
    send_pending(ctx, gateway)
    (message,) = list_messages(ctx, status="rejected")
    assert "không có mã" in message.reasons[0]
    assert invoice_code(month.adjusted.row_id, ctx=ctx) is None
    xml = month.adjusted.xml_path.read_bytes() if month.adjusted.xml_path else b""
    with pytest.raises(ValidationError, match="code"):
        insert_code(xml, "mã sai")
    with pytest.raises(DocumentError, match="already"):
        insert_code(insert_code(xml, CODE), CODE)
    with pytest.raises(DocumentError):
        insert_code(b"<BTHDLieu/>", CODE)


def test_parse_response_reads_the_code_of_a_202() -> None:
    from evservice.tax import parse_response

    xml = (
        "<TDiep><TTChung><MLTDiep>202</MLTDiep><MTDiep>TCT1</MTDiep><MTDTChieu>ME1</MTDTChieu>"
        f"</TTChung><DLieu><HDon><DLHDon Id='a'/><MCCQT Id='b'>{CODE}</MCCQT></HDon></DLieu>"
        "</TDiep>"
    )
    response = parse_response(xml.encode())
    assert (response.type, response.message_id, response.code) == ("202", "ME1", CODE)
    assert response.accepted
