"""Contract drafts for the tests: one of each kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from evservice.contracts._model import (
    ContractDraft,
    Customer,
    ElectricityTerms,
    InternetTerms,
    Provider,
)
from evservice.invoices import PaymentAccount

PROVIDER = Provider(
    name="Tổng công ty Điện lực TP Hà Nội",
    tax_code="0100101114",
    address="69 Đinh Tiên Hoàng, Hoàn Kiếm, Hà Nội",
    representative="Nguyễn Văn Đức",
    representative_title="Phó Tổng giám đốc",
    representative_email="daidien@evnhanoi.example",
    payment=PaymentAccount(bank_bin="970436", account="0011001234567", account_name="EVN HANOI"),
)


@pytest.fixture
def electricity_draft() -> ContractDraft:
    return ContractDraft(
        provider=PROVIDER,
        customer=Customer(
            name="Trần Thị Ánh",
            id_number="001190012345",
            address="12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
            phone="0912 345 678",
            email="anh.tran@example.com",
        ),
        terms=ElectricityTerms(
            service_address="12 ngõ 45 Hào Nam, Đống Đa, Hà Nội",
            meter_id="PD0123456789",
            households=2,
            deposit=Decimal(0),
        ),
        start_date=date(2026, 11, 1),
        reference="elec-1",
    )


@pytest.fixture
def internet_draft() -> ContractDraft:
    return ContractDraft(
        provider=PROVIDER.model_copy(update={"name": "Công ty Viễn thông Mẫu"}),
        customer=Customer(
            name="Lê Văn Bình",
            address="5 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội",
            email="binh.le@example.com",
        ),
        terms=InternetTerms(
            service_address="5 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội",
            plan="Home 300 Mbps",
            monthly_fee=Decimal(220000),
            early_termination_fee=Decimal(500000),
            installation_fee=Decimal(300000),
        ),
        start_date=date(2026, 11, 15),
    )
