"""The invoice columns that hold personal data, as ``evservice keys`` walks them.

All under the retention key: the law keeps issued invoices with the buyer's
name and tax code, so an erasure request leaves them readable.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from evservice import privacy
from evservice.invoices._issued import SEALED_COLUMNS
from evservice.invoices._tables import InvoiceRow

__all__ = ["SEALED_TABLES"]


def _place(row: Any) -> str:
    return str(row.id)


def _scope(_keys: privacy.Keyring, _conn: sa.Connection, _plain: privacy.Plain) -> str:
    return privacy.RETENTION_SCOPE


SEALED_TABLES = (
    privacy.SealedTable(
        table=InvoiceRow.__table__,  # type: ignore[attr-defined]
        columns=SEALED_COLUMNS,
        place=_place,
        scope=_scope,
    ),
)
