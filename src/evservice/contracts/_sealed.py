"""The contracts' personal data, sealed under the customer's own key.

The draft (names, phone, e-mail, addresses, ID number) and the signers' names
are sealed under the key of the customer (scope ``subject:<blind index>`` of
the customer's phone, or e-mail when there is no phone), so ``privacy forget``
of that phone or e-mail erases them; a forgotten contract reads as
:class:`~evservice.errors.DataErased`. The signer rows have no key before
their insert, so their names are bound to (contract id, position) instead.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from evservice import privacy
from evservice.contracts._model import ContractDraft
from evservice.contracts._tables import ContractRow, ContractSignerRow
from evservice.errors import DataErased

__all__ = ["SEALED_TABLES", "open_draft", "seal_draft", "seal_signer_name", "signer_name"]


def _identity(draft: ContractDraft) -> str:
    return draft.customer.phone or draft.customer.email or ""


def seal_draft(
    keys: privacy.Keyring, conn: sa.Connection, row: ContractRow, draft: ContractDraft
) -> None:
    """Seal ``row.draft_json`` (plaintext on entry) and set the customer's blind index."""
    identity = _identity(draft)
    row.customer_index = keys.index(identity, conn)
    place = privacy.FieldPlace("contract", "draft_json", row.id)
    sealed = keys.seal(row.draft_json, place, keys.subject_scope(identity, conn), conn)
    row.draft_json = sealed or ""


def open_draft(keys: privacy.Keyring, row: Any) -> str:
    """The draft JSON of a contract row; :class:`DataErased` once its key was destroyed."""
    place = privacy.FieldPlace("contract", "draft_json", str(row.id))
    opened = keys.open(row.draft_json, place)
    if opened == privacy.ERASED:
        raise DataErased(f"contract {row.number}: the customer's data was erased on request")
    return opened or ""


def _signer_place(contract_id: str, position: int) -> privacy.FieldPlace:
    return privacy.FieldPlace("contract_signer", "name", f"{contract_id}/{position}")


def seal_signer_name(
    keys: privacy.Keyring,
    conn: sa.Connection,
    row: ContractRow,
    position: int,
    name: str,
    draft: ContractDraft,
) -> str:
    scope = keys.subject_scope(_identity(draft), conn)
    return keys.seal(name, _signer_place(row.id, position), scope, conn) or ""


def signer_name(keys: privacy.Keyring, row: ContractSignerRow) -> str:
    """A signer's name, or :data:`~evservice.privacy.ERASED`."""
    return keys.open(row.name, _signer_place(row.contract_id, row.position)) or ""


def _contract_scope(keys: privacy.Keyring, conn: sa.Connection, plain: privacy.Plain) -> str:
    customer = json.loads(plain["draft_json"] or "{}").get("customer", {})
    return keys.subject_scope(customer.get("phone") or customer.get("email") or "", conn)


def _contract_index(keys: privacy.Keyring, conn: sa.Connection, plain: privacy.Plain) -> str | None:
    if plain["draft_json"] is None:
        return None
    customer = json.loads(plain["draft_json"]).get("customer", {})
    return keys.index(customer.get("phone") or customer.get("email") or "", conn)


_CONTRACTS: sa.Table = ContractRow.__table__  # type: ignore[attr-defined]
_SIGNERS: sa.Table = ContractSignerRow.__table__  # type: ignore[attr-defined]


def _signer_scope(keys: privacy.Keyring, conn: sa.Connection, plain: privacy.Plain) -> str:
    """A plaintext signer row goes under its contract's customer key."""
    contract_id = plain["_contract_id"]
    row = conn.execute(
        sa.select(_CONTRACTS.c.id, _CONTRACTS.c.draft_json).where(_CONTRACTS.c.id == contract_id)
    ).one()
    place = privacy.FieldPlace("contract", "draft_json", row.id)
    return _contract_scope(keys, conn, {"draft_json": keys.open(row.draft_json, place, conn)})


SEALED_TABLES = (
    privacy.SealedTable(
        table=_CONTRACTS,
        columns=("draft_json",),
        place=lambda row: str(row.id),
        scope=_contract_scope,
        indexes={"customer_index": _contract_index},
    ),
    privacy.SealedTable(
        table=_SIGNERS,
        columns=("name",),
        place=lambda row: f"{row.contract_id}/{row.position}",
        scope=_signer_scope,
        context=("contract_id", "position"),
    ),
)
