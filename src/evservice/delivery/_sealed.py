"""The outbox's personal data: the recipient and the bodies, sealed under their own key.

A message is the recipient's data: its address, text and HTML (which name the
customer) are sealed under the recipient's own key (scope ``subject:<blind
index of the address>``), so ``privacy forget`` of that phone or e-mail erases
them. ``to_index`` (the blind index) finds a recipient's messages without the
plaintext. The subject line and the masked address stay clear: listings show
them, and neither names the person.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from evservice import privacy
from evservice.delivery._tables import OutboxRow
from evservice.errors import DeliveryError

__all__ = ["SEALED_COLUMNS", "SEALED_TABLES", "open_fields", "seal_fields"]

SEALED_COLUMNS = ("to_address", "text", "html")
_TABLE = "delivery_outbox"


def seal_fields(keys: privacy.Keyring, conn: sa.Connection, row: OutboxRow) -> None:
    """Seal ``row``'s recipient and bodies in place, and set its blind index."""
    scope = keys.subject_scope(row.to_address, conn)
    row.to_index = keys.index(row.to_address, conn)
    for column in SEALED_COLUMNS:
        place = privacy.FieldPlace(_TABLE, column, row.id)
        setattr(row, column, keys.seal(getattr(row, column), place, scope, conn))


def open_fields(keys: privacy.Keyring, row: Any) -> dict[str, str | None]:
    """The plaintext recipient and bodies of ``row``; DeliveryError if they were erased."""
    opened = {
        column: keys.open(getattr(row, column), privacy.FieldPlace(_TABLE, column, row.id))
        for column in SEALED_COLUMNS
    }
    if opened["to_address"] == privacy.ERASED:
        raise DeliveryError(
            f"message {row.id} cannot be sent: its recipient's data was erased on request",
            retryable=False,
        )
    return opened


def _place(row: Any) -> str:
    return str(row.id)


def _scope(keys: privacy.Keyring, conn: sa.Connection, plain: privacy.Plain) -> str:
    return keys.subject_scope(plain["to_address"] or "", conn)


def _index(keys: privacy.Keyring, conn: sa.Connection, plain: privacy.Plain) -> str | None:
    address = plain["to_address"]
    if address is None or address == privacy.ERASED:
        return None
    return keys.index(address, conn)


SEALED_TABLES = (
    privacy.SealedTable(
        table=OutboxRow.__table__,  # type: ignore[attr-defined]
        columns=SEALED_COLUMNS,
        place=_place,
        scope=_scope,
        indexes={"to_index": _index},
    ),
)
