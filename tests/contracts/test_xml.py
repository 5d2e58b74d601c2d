from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from lxml import etree

from evservice.contracts._model import Contract, ContractDraft, ContractStatus
from evservice.contracts._xml import NAMESPACE, contract_to_xml, validate_contract_xml
from evservice.errors import DocumentError


def _contract(draft: ContractDraft) -> Contract:
    return Contract(
        id=str(uuid.uuid4()),
        number="HD2026-000007",
        draft=draft,
        status=ContractStatus.DRAFT,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("which", ["electricity_draft", "internet_draft"])
def test_xml_is_valid_against_the_shipped_xsd(which: str, request: pytest.FixtureRequest) -> None:
    draft = request.getfixturevalue(which)
    contract = _contract(draft)
    data = contract_to_xml(contract)
    validate_contract_xml(data)
    assert contract_to_xml(contract) == data  # deterministic
    root = etree.fromstring(data)
    ns = {"c": NAMESPACE}
    assert root.findtext("c:Number", namespaces=ns) == "HD2026-000007"
    assert root.findtext("c:Customer/c:Name", namespaces=ns) == draft.customer.name
    clauses = root.findall("c:Articles/c:Article/c:Clause", namespaces=ns)
    assert clauses
    assert all(c.get("number") for c in clauses)


def test_xsd_rejects_a_changed_document(electricity_draft: ContractDraft) -> None:
    data = contract_to_xml(_contract(electricity_draft))
    broken = data.replace(b"<Households>2</Households>", b"<Households>0</Households>")
    assert broken != data
    with pytest.raises(DocumentError, match=r"contract\.xsd"):
        validate_contract_xml(broken)
    with pytest.raises(DocumentError, match="well-formed"):
        validate_contract_xml(data[:-20])
