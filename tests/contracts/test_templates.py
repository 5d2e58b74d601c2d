from __future__ import annotations

import pytest

from evservice._pydantic import parse_model
from evservice.contracts._model import (
    ContractDraft,
    format_contract_number,
    validate_contract_number,
)
from evservice.contracts._templates import render_clauses
from evservice.errors import ValidationError


def test_electricity_clauses_are_numbered_without_gaps(electricity_draft: ContractDraft) -> None:
    articles = render_clauses(electricity_draft)
    assert [a.number for a in articles] == list(range(1, len(articles) + 1))
    for article in articles:
        assert article.clauses, article.title
        assert [c.number for c in article.clauses] == [
            f"{article.number}.{i}" for i in range(1, len(article.clauses) + 1)
        ]
    text = " ".join(c.text for a in articles for c in a.clauses)
    assert "PD0123456789" in text
    assert "Số hộ sử dụng chung công tơ: 2; định mức các bậc giá được nhân với số hộ." in text
    assert "tiền bảo đảm" not in text  # no deposit, no deposit clause
    assert "không xác định thời hạn" in text


def test_internet_clauses_show_fees(internet_draft: ContractDraft) -> None:
    text = " ".join(c.text for a in render_clauses(internet_draft) for c in a.clauses)
    assert "Cước thuê bao tháng: 220.000 đồng" in text
    assert "tính cước theo ngày" in text
    assert "phí chấm dứt trước hạn 500.000 đồng" in text
    assert "Phí lắp đặt: 300.000 đồng" in text
    assert internet_draft.amount_due == 300000


def test_contract_numbers() -> None:
    assert format_contract_number(2026, 123) == "HD2026-000123"
    assert validate_contract_number(" hd2026-000123 ") == "HD2026-000123"
    for bad in ("HD2026-0001", "HD26-000123", "HD2026-000000", "XX2026-000001"):
        with pytest.raises(ValidationError) as err:
            validate_contract_number(bad)
        assert err.value.field == "contract_number"


def test_bad_drafts_name_the_field(electricity_draft: ContractDraft) -> None:
    data = electricity_draft.model_dump(mode="json")
    data["customer"]["phone"] = "12345"
    data["customer"]["email"] = None
    with pytest.raises(ValidationError) as err:
        parse_model(ContractDraft, data)
    assert err.value.field == "customer.phone"
    data = electricity_draft.model_dump(mode="json")
    data["terms"]["households"] = 0
    with pytest.raises(ValidationError) as err:
        parse_model(ContractDraft, data)
    assert err.value.field.startswith("terms.electricity.households")
    data = electricity_draft.model_dump(mode="json")
    data["provider"]["tax_code"] = "0100101115"
    with pytest.raises(ValidationError) as err:
        parse_model(ContractDraft, data)
    assert err.value.field == "provider.tax_code"
