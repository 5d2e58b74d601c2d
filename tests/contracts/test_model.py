"""Contract drafts: our error names the field and what is allowed, not pydantic's wording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evservice._pydantic import parse_model
from evservice.contracts import ContractDraft
from evservice.errors import ValidationError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contract_draft.json"


def _draft(**terms: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["terms"] = terms
    return data


def test_an_unknown_kind_names_the_kinds_there_are() -> None:
    with pytest.raises(ValidationError) as info:
        parse_model(ContractDraft, _draft(kind="water", service_address="1 Hàng Bạc"))
    assert info.value.field == "terms.kind"
    assert info.value.reason == "must be one of: electricity, internet"
    assert "water" not in str(info.value)
    assert "ContractKind" not in str(info.value)


def test_a_missing_kind_says_so() -> None:
    with pytest.raises(ValidationError) as info:
        parse_model(ContractDraft, _draft(service_address="1 Hàng Bạc"))
    assert info.value.field == "terms.kind"
    assert info.value.reason == "is missing: one of electricity, internet"


@pytest.mark.parametrize("field", ["customer.email", "provider.representative_email"])
def test_contract_e_mails_follow_the_one_address_rule(field: str) -> None:
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    group, name = field.split(".")
    data[group][name] = 'odd"quote@example.vn'  # the looser pattern this replaced let it in
    with pytest.raises(ValidationError) as info:
        parse_model(ContractDraft, data)
    assert info.value.field == field
    assert "odd" not in str(info.value)
