"""Imports every domain's tables so that one metadata describes the whole store."""

from __future__ import annotations

from sqlmodel import SQLModel

# Each domain's tables register themselves on SQLModel.metadata when imported.
# Keep this list sorted; a domain adds its line together with its first migration.
import evservice.invoices._tables  # noqa: F401

metadata = SQLModel.metadata

__all__ = ["metadata"]
