"""Imports every domain's tables so that one metadata describes the whole store."""

from __future__ import annotations

import importlib

from sqlmodel import SQLModel

#: Domains whose ``<domain>._tables`` module defines tables (each has its own
#: Alembic branch). Keep sorted; a domain adds its name with its first migration.
DOMAINS = (
    "audit", "batch", "contracts", "delivery", "invoices", "otp", "privacy", "reconcile", "tax",
)  # fmt: skip

for _domain in DOMAINS:
    importlib.import_module(f"evservice.{_domain}._tables")

metadata = SQLModel.metadata

__all__ = ["DOMAINS", "metadata"]
