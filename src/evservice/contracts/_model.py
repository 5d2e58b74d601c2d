"""Contract model: two real kinds (electricity supply, internet service), frozen, Decimal only.

A draft is what the provider prepares; the contract number comes from a yearly
series (``HD2026-000123``) when it is created. Terms are a discriminated union
on ``kind`` so a JSON draft says which kind it is.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evservice.errors import ValidationError
from evservice.money import Amount
from evservice.payments import PaymentAccount
from evservice.vn import EmailAddress, TaxCode

__all__ = [
    "CONTRACT_NUMBER_RE",
    "Contract",
    "ContractDraft",
    "ContractKind",
    "ContractStatus",
    "Customer",
    "ElectricityTerms",
    "InternetTerms",
    "Provider",
    "SignerRole",
    "format_contract_number",
    "validate_contract_number",
]

_frozen = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

#: ``HD`` + year + ``-`` + six digits, e.g. ``HD2026-000123``.
CONTRACT_NUMBER_RE = re.compile(r"^HD(\d{4})-(\d{6})$")


def format_contract_number(year: int, number: int) -> str:
    """``(2026, 123)`` -> ``HD2026-000123``."""
    if not 1 <= number <= 999_999:
        raise ValidationError("number", "contract numbers run from 1 to 999999 each year")
    return f"HD{year:04d}-{number:06d}"


def validate_contract_number(text: str, field: str = "contract_number") -> str:
    """Return the normalised contract number or raise naming ``field``."""
    value = "".join(str(text).split()).upper()
    if not CONTRACT_NUMBER_RE.match(value) or value.endswith("-000000"):
        raise ValidationError(field, "must look like HD2026-000123")
    return value


class ContractKind(enum.StrEnum):
    ELECTRICITY = "electricity"
    INTERNET = "internet"


class ContractStatus(enum.StrEnum):
    """The lifecycle: draft -> sent -> consented -> countersigned -> sealed; or a dead end."""

    DRAFT = "draft"
    SENT = "sent"  # the customer was sent a code for the document shown
    CONSENTED = "consented"  # the customer confirmed with the code
    COUNTERSIGNED = "countersigned"  # the provider's representative signed after the customer
    SEALED = "sealed"  # evidence page added and the provider's PAdES seal applied
    DECLINED = "declined"
    EXPIRED = "expired"
    VOIDED = "voided"


class SignerRole(enum.StrEnum):
    CUSTOMER = "customer"
    REPRESENTATIVE = "representative"


#: A customer or staff code: what an authenticator-app enrolment is filed under.
HOLDER_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Customer(BaseModel):
    """Bên B: the customer. Phone and e-mail are where the codes go; ``customer_code``
    names the customer's authenticator-app enrolment (the ``totp`` channel)."""

    model_config = _frozen
    name: str = Field(min_length=1, max_length=200)
    customer_code: str | None = Field(default=None, pattern=HOLDER_CODE)
    id_number: str | None = Field(default=None, pattern=r"^\d{9}(\d{3})?$", description="CCCD/CMND")
    tax_code: TaxCode = None
    address: str = Field(min_length=1, max_length=400)
    phone: str | None = Field(default=None, max_length=30)
    email: EmailAddress | None = Field(default=None, max_length=254)

    @model_validator(mode="after")
    def _reachable(self) -> Customer:
        if not (self.phone or self.email):
            raise ValidationError("customer.phone", "give a phone number or an e-mail for the code")
        if self.phone:
            from evservice.vn import phone as vn_phone

            object.__setattr__(self, "phone", vn_phone.validate(self.phone, "customer.phone"))
        return self


class Provider(BaseModel):
    """Bên A: the provider, its representative (who countersigns) and its bank account."""

    model_config = _frozen
    name: str = Field(min_length=1, max_length=400)
    tax_code: TaxCode = Field(description="MST")
    address: str = Field(min_length=1, max_length=400)
    phone: str | None = Field(default=None, max_length=30)
    representative: str = Field(min_length=1, max_length=200)
    representative_title: str = Field(default="Giám đốc", max_length=100)
    representative_email: EmailAddress | None = Field(default=None, max_length=254)
    representative_code: str | None = Field(
        default=None, pattern=HOLDER_CODE, description="staff code of the app enrolment (totp)"
    )
    payment: PaymentAccount | None = None

    @model_validator(mode="after")
    def _tax_code(self) -> Provider:
        if not self.tax_code:
            raise ValidationError("provider.tax_code", "the provider's tax code (MST) is required")
        return self


class ElectricityTerms(BaseModel):
    """Hợp đồng mua bán điện phục vụ mục đích sinh hoạt."""

    model_config = _frozen
    kind: Literal[ContractKind.ELECTRICITY] = ContractKind.ELECTRICITY
    service_address: str = Field(min_length=1, max_length=400)
    meter_id: str = Field(min_length=1, max_length=30)
    purpose: str = Field(default="Sinh hoạt", max_length=100)
    tariff_code: str = Field(default="EVN-SH", max_length=20)
    households: int = Field(default=1, ge=1, le=50)
    term_months: int | None = Field(default=None, ge=1, le=600, description="None: indefinite")
    deposit: Amount = Field(default=Decimal(0), ge=0, description="Tiền đảm bảo, dong")


class InternetTerms(BaseModel):
    """Hợp đồng cung cấp dịch vụ Internet."""

    model_config = _frozen
    kind: Literal[ContractKind.INTERNET] = ContractKind.INTERNET
    service_address: str = Field(min_length=1, max_length=400)
    plan: str = Field(min_length=1, max_length=100)
    monthly_fee: Amount = Field(gt=0, description="dong per month, VAT included")
    bill_by_day: bool = Field(default=True, description="part months billed by the day")
    term_months: int = Field(default=12, ge=1, le=60)
    early_termination_fee: Amount = Field(default=Decimal(0), ge=0)
    installation_fee: Amount = Field(default=Decimal(0), ge=0)


Terms = Annotated[ElectricityTerms | InternetTerms, Field(discriminator="kind")]


class ContractDraft(BaseModel):
    """What the provider prepares. ``reference`` makes creation idempotent."""

    model_config = _frozen
    provider: Provider
    customer: Customer
    terms: Terms
    start_date: date
    sign_place: str = Field(default="Hà Nội", max_length=100)
    language: Literal["vi"] = "vi"
    reference: str | None = Field(default=None, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _terms_say_their_kind(cls, data: object) -> object:
        """A draft whose terms name no kind is told the kinds there are (not pydantic's words)."""
        if isinstance(data, dict):
            terms = data.get("terms")
            if isinstance(terms, dict) and "kind" not in terms:
                kinds = ", ".join(kind.value for kind in ContractKind)
                raise ValidationError("terms.kind", f"is missing: one of {kinds}")
        return data

    @property
    def kind(self) -> ContractKind:
        return self.terms.kind

    @property
    def amount_due(self) -> Decimal:
        """What the customer pays on signing (deposit or installation fee); 0 if nothing."""
        if isinstance(self.terms, ElectricityTerms):
            return self.terms.deposit
        return self.terms.installation_fee


class Contract(BaseModel):
    """A created contract: its number, status and the hash of the document shown."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    number: str
    draft: ContractDraft
    status: ContractStatus
    created_at: datetime
    document_sha256: str | None = None
    final_sha256: str | None = None
