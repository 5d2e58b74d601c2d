"""The bank directory: NAPAS acquirer BIN -> bank (code, short name, registered name).

Kept as data (``data/banks.json``) so a renamed or merged bank is a data change.
A BIN missing here is not an error for a payment code (new banks join NAPAS);
the directory only labels codes for people.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["Bank", "bank_directory", "find_bank"]


@dataclass(frozen=True, slots=True)
class Bank:
    """One bank as NAPAS knows it."""

    bin: str
    code: str
    short_name: str
    name: str


@cache
def bank_directory() -> Mapping[str, Bank]:
    """Every known bank by BIN (read once per process)."""
    raw = resources.files("evservice.payments").joinpath("data/banks.json").read_text("utf-8")
    rows = json.loads(raw)["banks"]
    return MappingProxyType(
        {row["bin"]: Bank(row["bin"], row["code"], row["short_name"], row["name"]) for row in rows}
    )


def find_bank(bank_bin: str) -> Bank | None:
    """The bank with this BIN, or None when the directory does not know it."""
    return bank_directory().get(str(bank_bin).strip())
