"""Settings, read from the environment (prefix ``EVSERVICE_``) or a ``.env`` file.

Everything has a working default so that the embedded set-up (SQLite file and
development keys under ``data_dir``) needs no configuration at all. Secrets are
``SecretStr`` so they never print.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

_CODED_SERIES = re.compile(r"^[1-6]C[0-9]{2}[A-Z]{3}$")


class Settings(BaseSettings):
    """All knobs of evservice. Construct one explicitly in code, or use :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="EVSERVICE_", env_file=".env", extra="ignore", frozen=True
    )

    # -- store -------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("evservice-data"), description="Where files and the SQLite store live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )

    # -- invoices ----------------------------------------------------------
    provider_tax_code: str | None = Field(
        default=None, description="MSTTCGP: tax code of the e-invoice service provider."
    )
    tariff_dir: Path | None = Field(
        default=None,
        description="Tariff and VAT JSON files overlaying the packaged ones (a code replaces).",
    )
    lookup_url: str = Field(
        default="https://tracuu.evservice.example/",
        description="Where customers look a document up by its lookup code.",
    )
    invoice_series: str | None = Field(
        default=None,
        description="KHHDon of the monthly batch (C26TEV); default C<yy>TEV of the issue year.",
    )
    seller_name: str | None = Field(default=None, description="NBan/Ten of batch invoices.")
    seller_tax_code: str | None = Field(default=None, description="NBan/MST (10 or 10-3 digits).")
    seller_address: str | None = Field(default=None, description="NBan/DChi.")
    seller_phone: str | None = None
    seller_email: str | None = None
    seller_bank_account: str | None = None
    seller_bank_name: str | None = None

    # -- reporting to the tax authority ----------------------------------------
    tax_authority_code: str | None = Field(
        default=None, max_length=5, description="MCQT: code of the tax office (04/SS-HĐĐT)."
    )
    tax_authority_name: str | None = Field(
        default=None, max_length=100, description="TCQT: name of the tax office (04/SS-HĐĐT)."
    )
    tax_place: str | None = Field(
        default=None, max_length=50, description="DDanh: where notices are made (Hà Nội)."
    )
    tax_gateway: Literal["file", "tvan"] = Field(
        default="file", description="file: data_dir/tax/outbox and inbox; tvan: an HTTP T-VAN."
    )
    tax_tvan_url: str | None = Field(default=None, description="Base URL of the T-VAN's API.")
    tax_tvan_token: SecretStr | None = None
    tax_tvan_timeout: float = Field(default=10.0, gt=0, le=300)
    tax_send_lease_seconds: float = Field(
        default=120.0, gt=0, le=3600,
        description="How long a claimed message waits before its attempt counts as unknown.",
    )  # fmt: skip
    tax_receiver_code: str = Field(
        default="TCT", max_length=14, description="MNNhan of messages (the tax authority)."
    )
    tax_coded_series: str = Field(
        default="",
        description="Series whose invoices need the authority's code (MCCQT), comma-separated "
        "template+series (1C26TAA,2C26TBB); each must be a C series. Empty: none.",
    )

    # -- payment QR ----------------------------------------------------------
    payee_bank_bin: str | None = Field(default=None, description="6-digit acquirer BIN (NAPAS).")
    payee_account: str | None = None
    payee_name: str | None = None

    # -- getting paid (reconcile) -------------------------------------------------
    payment_due_days: int = Field(default=10, description="Days from issue to due date.")
    payment_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key of bank/aggregator transfer webhooks."
    )
    payment_webhook_tolerance_seconds: int = Field(
        default=300, description="How old (or early) a signed webhook may be."
    )
    reminder_days_before: tuple[int, ...] = Field(
        default=(3,), description="Remind this many days before the due date."
    )
    reminder_days_after: tuple[int, ...] = Field(
        default=(1, 7), description="Remind this many days after the due date."
    )

    # -- signing -------------------------------------------------------------
    signing_pkcs12: Path | None = Field(default=None, description=".p12/.pfx with key and chain.")
    signing_pkcs12_password: SecretStr | None = None
    signing_key_pem: Path | None = None
    signing_cert_pem: Path | None = None
    signing_chain_pem: Path | None = None
    pkcs11_module: Path | None = None
    pkcs11_token_label: str | None = None
    pkcs11_key_label: str | None = None
    pkcs11_pin: SecretStr | None = None
    tsa_url: str | None = Field(default=None, description="RFC 3161 time-stamp authority URL.")
    pades_level: Literal["B-B", "B-T", "B-LT"] = "B-B"
    trust_roots: tuple[Path, ...] = Field(default=(), description="PEM/DER roots to trust.")
    allow_legacy_algorithms: bool = Field(
        default=False, description="Accept RSA-SHA1 XML signatures of older invoices."
    )

    # -- audit -----------------------------------------------------------------
    audit_origin: str = Field(
        default="evservice.example/audit-log", description="Checkpoint origin line."
    )
    audit_key_path: Path | None = Field(default=None, description="Ed25519 log key (PEM).")

    # -- personal data at rest (privacy) -----------------------------------------
    privacy_encrypt: bool = Field(
        default=True,
        description="Encrypt personal data columns (AES-256-GCM). Off only to measure its cost "
        "(bench/bench_privacy.py); a store written with it off is encrypted by 'keys migrate'.",
    )
    privacy_kek: SecretStr | None = Field(
        default=None,
        description="Key-encryption key, 64 hex digits (EVSERVICE_PRIVACY_KEK). "
        "First choice after a PKCS#11 key.",
    )
    privacy_kek_path: Path | None = Field(
        default=None,
        description="File holding the key-encryption key (64 hex digits). Unset with no other "
        "source: a development key keys_dir/privacy-kek.key is made on first use.",
    )
    privacy_kek_pkcs11_label: str | None = Field(
        default=None,
        description="Label of an AES key on the PKCS#11 token of pkcs11_module, "
        "pkcs11_token_label and pkcs11_pin: data keys are wrapped on the token.",
    )

    # -- OTP -------------------------------------------------------------------
    otp_key_path: Path | None = Field(default=None, description="HMAC key for stored OTP hashes.")
    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 5
    otp_resend_cooldown_seconds: int = 60
    otp_max_sends: int = 5
    otp_rate_window_seconds: int = Field(
        default=3600, description="Window of the per-recipient and per-document send limits."
    )
    otp_max_sends_per_recipient: int = Field(
        default=5, description="Codes to one destination per window, across challenges."
    )
    otp_max_sends_per_subject: int = Field(
        default=5, description="Codes for one document per window, across challenges."
    )
    otp_lock_cooldown_seconds: int = Field(
        default=900, description="No new code to the destination or document after a lock."
    )
    otp_totp_issuer: str | None = Field(
        default=None,
        description="Issuer the authenticator app shows for TOTP enrolments "
        "(default: the seller's name, else 'evservice').",
    )
    otp_totp_recovery_codes: int = Field(
        default=10, ge=1, le=50, description="Recovery codes made per TOTP enrolment."
    )

    # -- customer portal (evservice serve) -------------------------------------
    portal_url: str | None = Field(
        default="http://127.0.0.1:8000/",
        description="Base URL of the customer portal; OTP messages link to the signing page "
        "there. Empty: messages carry no link.",
    )
    portal_link_ttl_seconds: int = Field(
        default=86400, ge=300, description="How long the signed link in an OTP message works."
    )

    # -- delivery --------------------------------------------------------------
    delivery_channel: Literal["outbox", "smtp", "sms-webhook", "sms-twilio"] = "outbox"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    mail_from: str = "hoadon@evservice.example"
    sms_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: SecretStr | None = None
    sms_from: str | None = None

    @field_validator("tax_coded_series")
    @classmethod
    def _coded_series(cls, value: str) -> str:
        entries = [e.strip().upper() for e in value.split(",") if e.strip()]
        for entry in entries:
            if not _CODED_SERIES.match(entry):
                raise ValueError(
                    f"{entry!r} is not a template and C series like 1C26TAA "
                    "(only series of letter C carry the authority's code)"
                )
        return ",".join(entries)

    @property
    def coded_series(self) -> frozenset[str]:
        """The (template + series) strings of ``tax_coded_series``: ``{"1C26TAA"}``.

        An explicit list, not "every series of letter C": the batch's default
        series ``C<yy>TEV`` is used by sellers who report by summary table.
        """
        return frozenset(e for e in self.tax_coded_series.split(",") if e)

    def is_coded(self, template: str, series: str) -> bool:
        """Whether invoices of this template and series wait for the authority's code."""
        return f"{template}{series}".upper() in self.coded_series

    @property
    def db_url(self) -> str:
        """The effective database URL (the SQLite file in ``data_dir`` unless set)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'evservice.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        """Development keys made by ``evservice init`` live here."""
        return self.data_dir / "keys"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings from the environment (read once)."""
    return Settings()
