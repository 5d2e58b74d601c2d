"""The payee's bank account, as a QR payment code needs it (shared by invoices and contracts)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PaymentAccount"]


class PaymentAccount(BaseModel):
    """Where the customer pays (for the VietQR code): bank BIN, account and holder."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    bank_bin: str = Field(pattern=r"^\d{6}$", description="NAPAS acquirer BIN, 6 digits")
    account: str = Field(pattern=r"^[0-9A-Za-z]{1,19}$")
    account_name: str | None = Field(default=None, max_length=100)
