"""camt.053 / camt.054 (.02 and .08) and CSV statements; hostile XML; junk."""

from __future__ import annotations

import contextlib
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import DocumentError, EvServiceError, ValidationError
from evservice.reconcile import CsvColumns, read_camt, read_csv_statement, read_statement

from .camt import Entry, camt


@pytest.mark.parametrize("message", ["053", "054"])
@pytest.mark.parametrize("version", ["02", "08"])
def test_booked_vnd_credits_are_read(message: str, version: str) -> None:
    data = camt(
        [
            Entry("250000", "HD 1C26TAA0000012375", ref="FT1"),
            Entry("100000.00", "tien dien", ref="FT2", payer=None),
            Entry("50000", "phi", ref="FT3", credit=False),
            Entry("70000", "cho", ref="FT4", status="PDNG"),
            Entry("70000", "hoan", ref="FT5", reversal=True),
            Entry("10", "usd", ref="FT6", currency="USD"),
            Entry(
                "300000",
                details=(("B1", "120000", "HD A"), ("B2", "180000", "HD B")),
            ),
        ],
        message=message,
        version=version,
    )
    statement = read_camt(data)
    assert statement.format == f"camt.{message}.001.{version}"
    got = [(t.bank_ref, t.amount, t.memo, t.payer_name) for t in statement.transactions]
    assert got == [
        ("FT1", Decimal("250000"), "HD 1C26TAA0000012375", "NGUYEN VAN A"),
        ("FT2", Decimal("100000.00"), "tien dien", None),
        ("B1", Decimal("120000"), "HD A", "NGUYEN VAN A"),
        ("B2", Decimal("180000"), "HD B", "NGUYEN VAN A"),
    ]
    assert all(t.booked_on == date(2026, 11, 5) for t in statement.transactions)
    assert all(t.account == "0071001234567" for t in statement.transactions)
    assert [reason for _, reason in statement.skipped] == [
        "not a credit",
        "status PDNG, not booked",
        "a reversal",
        "currency USD, not VND",
    ]
    assert read_statement(data).transactions == statement.transactions


def test_without_any_reference_the_position_in_the_statement_is_the_id() -> None:
    data = camt([Entry("1000", "a", ref=None), Entry("2000", "b", ref=None)])
    refs = [t.bank_ref for t in read_camt(data).transactions]
    assert refs == ["STMT-2026-11-05/Stmt[0].Ntry[0]/0", "STMT-2026-11-05/Stmt[0].Ntry[1]/0"]
    # The same statement again gives the same keys (so it is recognised as a duplicate).
    assert [t.key for t in read_camt(data).transactions] == [
        t.key for t in read_camt(data).transactions
    ]


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><d/>'.encode(
            "utf-16"
        ),
        b"<Document xmlns='urn:other'><x/></Document>",
        b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><Other/></Document>",
        b"<Document",
        b"\x00\xff",
        "not bytes",
    ],
)
def test_hostile_or_foreign_xml_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentError):
        read_camt(data)


def test_a_billion_laughs_is_refused_before_parsing() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>'
    )
    with pytest.raises(DocumentError, match="DTD or entities"):
        read_statement(bomb)


_VCB = (
    "Số bút toán;Ngày giao dịch;Số tiền ghi có;Nội dung;Mã KH\n"
    "VCB001;05/11/2026;250.000;HD 1C26TAA0000012375;PE01\n"
    "VCB002;05/11/2026;1.250.000,00;tien dien thang 11;\n"
    "VCB003;05/11/2026;-50.000;phi chuyen tien;\n"
    "VCB004;32/11/2026;10.000;bad date;\n"
    "VCB005;05/11/2026;abc;bad amount;\n"
)


def test_csv_with_configured_columns() -> None:
    columns = CsvColumns(
        bank_ref="Số bút toán",
        booked_on="Ngày giao dịch",
        amount="Số tiền ghi có",
        memo="Nội dung",
        customer="Mã KH",
        date_format="%d/%m/%Y",
        delimiter=";",
        thousands=".",
        decimal=",",
    )
    statement = read_csv_statement(_VCB.encode(), columns, account="0071001234567")
    got = [(t.bank_ref, t.amount, t.customer_hint) for t in statement.transactions]
    assert got == [("VCB001", Decimal(250000), "PE01"), ("VCB002", Decimal("1250000.00"), None)]
    assert statement.skipped == [
        ("line 4", "amount: not a credit"),
        ("line 5", "booked_on: not a date like %d/%m/%Y"),
        ("line 6", "amount: 'abc' is not a number"),
    ]
    assert statement.transactions[0].account == "0071001234567"


def test_csv_default_columns_and_a_credit_debit_column() -> None:
    text = (
        "transaction_id,date,amount,description,cd\n"
        "A1,2026-11-05,250000,HD x,C\nA2,2026-11-05,250000,refund,D\n"
    )
    statement = read_csv_statement(text, CsvColumns(credit_debit="cd"))
    assert [t.bank_ref for t in statement.transactions] == ["A1"]
    assert read_statement(text.encode()).transactions[0].bank_ref == "A1"


def test_csv_without_the_needed_columns_names_them() -> None:
    with pytest.raises(ValidationError) as caught:
        read_csv_statement("a,b\n1,2\n")
    assert caught.value.field == "columns"
    assert "transaction_id" in caught.value.reason


@given(st.binary(max_size=300))
def test_junk_statements_fail_with_our_errors(junk: bytes) -> None:
    with contextlib.suppress(EvServiceError):
        read_statement(junk)


@given(st.text(max_size=300))
def test_junk_csv_text(junk: str) -> None:
    with contextlib.suppress(EvServiceError):
        read_csv_statement(junk)
