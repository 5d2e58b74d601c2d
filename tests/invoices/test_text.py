"""Every draft that validates renders: text fields hold only what XML and PDF carry (#19, 1).

Text from the whole Unicode range (surrogates, noncharacters, controls, unassigned
code points included) goes into each text field of a draft. Either the draft is
refused, naming the field, because the text holds a character of the rule in
:mod:`evservice._text`, or it renders: signed XML that parses back to the same
text, and a signed PDF.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evservice._context import Context
from evservice._pydantic import parse_model
from evservice._text import check_text, first_bad_character
from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.errors import ValidationError
from evservice.invoices import Invoice, InvoiceDraft, parse_invoice_xml, render_documents
from evservice.payments import PaymentAccount

#: Any code point, surrogates and unassigned ones too; printable text weighted up so that
#: a good share of drafts validates and renders.
_ANY = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_TEXT = st.text(st.one_of(_ANY, st.characters(codec="utf-8")), min_size=1, max_size=20)

#: (field path as the error names it, where it goes in the draft data)
_FIELDS = [
    ("buyer.person_name", ("buyer", "person_name")),
    ("buyer.address", ("buyer", "address")),
    ("seller.name", ("seller", "name")),
    ("lines.0.name", ("lines", 0, "name")),
    ("lines.0.unit", ("lines", 0, "unit")),
    ("extra.KyHoaDon", ("extra", "KyHoaDon")),
    ("lines.0.extra.Ghi", ("lines", 0, "extra", "Ghi")),
    ("payment.account_name", ("payment", "account_name")),
]


def _data() -> dict[str, Any]:
    return {
        "series": "C26TAA",
        "issue_date": "2026-11-15",
        "seller": {"name": "Điện lực", "tax_code": "0100101114", "address": "69 Đinh Tiên Hoàng"},
        "buyer": {"person_name": "Nguyễn Văn An", "address": "12 Hào Nam"},
        "lines": [{"name": "Điện", "unit": "kWh", "amount": "1000", "vat_rate": "8%", "extra": {}}],
        "payment": {"bank_bin": "970436", "account": "0011001234567", "account_name": "EVN"},
        "extra": {},
    }


def _put(data: dict[str, Any], where: tuple[str | int, ...], value: str) -> None:
    target: Any = data
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value


@pytest.fixture(scope="module")
def render_ctx(tmp_path_factory: pytest.TempPathFactory) -> Context:
    data_dir: Path = tmp_path_factory.mktemp("text-render")
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    return Context(settings=settings, clock=ManualClock(datetime(2026, 11, 15, 3, tzinfo=UTC)))


def _invoice(draft: InvoiceDraft) -> Invoice:
    return Invoice(
        id=uuid.uuid4(),
        draft=draft,
        number=7,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 11, 15, 3, tzinfo=UTC),
    )


def _check(render_ctx: Context, field: str, where: tuple[str | int, ...], text: str) -> None:
    data = _data()
    _put(data, where, text)
    refused: ValidationError | None = None
    try:
        draft = parse_model(InvoiceDraft, data)
    except ValidationError as exc:
        refused = exc
    if refused is not None:
        if first_bad_character(text.strip()) is not None:
            assert refused.field == field
            assert text.strip() not in refused.reason or len(text.strip()) < 2
        return  # else refused for another reason (empty after stripping, too long)
    assert first_bad_character(text.strip()) is None  # pydantic strips the edges
    xml, pdf = render_documents(_invoice(draft), render_ctx)
    assert pdf.startswith(b"%PDF-")
    back = parse_invoice_xml(xml).draft
    if not text.strip():
        return  # an empty optional field is left out of the XML
    assert back.buyer == draft.buyer
    assert back.lines[0].name == draft.lines[0].name
    assert back.extra == draft.extra


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_FIELDS), text=_TEXT)
def test_every_draft_that_validates_renders(
    render_ctx: Context, place: tuple[str, tuple[str | int, ...]], text: str
) -> None:
    _check(render_ctx, place[0], place[1], text)


@pytest.mark.slow
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(_FIELDS), text=_TEXT)
def test_every_draft_that_validates_renders_many(
    render_ctx: Context, place: tuple[str, tuple[str | int, ...]], text: str
) -> None:
    _check(render_ctx, place[0], place[1], text)


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x01", "\t", "\n", "\r", "\x1f", "\x7f", "\x85", "\x9f", "\ud800",
     "\ufdd0", "\ufffe", "\uffff", "\U0001ffff", "\U0010fffe"],
)  # fmt: skip
def test_each_kind_of_bad_character_is_refused_naming_the_field(char: str) -> None:
    data = _data()
    data["buyer"]["person_name"] = f"Nguyễn{char}An"
    with pytest.raises(ValidationError) as info:
        parse_model(InvoiceDraft, data)
    assert info.value.field == "buyer.person_name"
    if not 0xD800 <= ord(char) <= 0xDFFF:  # pydantic refuses surrogates itself
        assert f"U+{ord(char):04X}" in info.value.reason
    assert "Nguyễn" not in info.value.reason  # never the personal value itself


@pytest.mark.parametrize("char", ["\u00a0", "\u200b", "\ufeff", "\ufffd", "\ue000", "\U0001f600"])
def test_unusual_but_drawable_characters_are_kept(char: str) -> None:
    assert check_text(f"a{char}b", "x") == f"a{char}b"


def test_a_bad_key_of_extra_names_the_mapping() -> None:
    data = _data()
    data["extra"] = {"Ky\x00": "1"}
    with pytest.raises(ValidationError) as info:
        parse_model(InvoiceDraft, data)
    assert info.value.field == "extra"


def test_payment_account_name_is_checked() -> None:
    with pytest.raises(ValidationError) as info:
        parse_model(PaymentAccount, {"bank_bin": "970436", "account": "1", "account_name": "A\x00"})
    assert info.value.field == "account_name"
