"""The payee's bank account, as a QR payment code needs it (shared by invoices and contracts)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evservice._text import check_model_text

__all__ = ["PaymentAccount"]


class PaymentAccount(BaseModel):
    """Where the customer pays (for the VietQR code): bank BIN, account and holder.

    The holder's name is printed beside the code, so it follows the rule of every
    document's text (:mod:`evservice._text`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    bank_bin: str = Field(pattern=r"^\d{6}$", description="NAPAS acquirer BIN, 6 digits")
    account: str = Field(pattern=r"^[0-9A-Za-z]{1,19}$")
    account_name: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _text(self) -> PaymentAccount:
        check_model_text(self)
        return self
