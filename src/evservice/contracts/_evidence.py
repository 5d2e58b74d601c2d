"""The evidence of a sealed contract: the table on its last page and the same facts as JSON.

Who signed (name, role), by which channel to which masked destination, when the
code went out and when it was confirmed, from which IP address and browser, the
challenge and the audit events; and the two hashes the codes were bound to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from evservice import audit, privacy
from evservice._context import Context
from evservice.contracts._model import SignerRole
from evservice.contracts._pdf import EvidenceRow, group_hex
from evservice.contracts._sealed import signer_name
from evservice.contracts._tables import ContractRow, ContractSignerRow

__all__ = ["evidence_of"]


def _event_indexes(stored: str | None, ctx: Context) -> list[int]:
    """The leaf indexes of a signer's audit events (stored as event ids, or older rows' indexes).

    The events were queued when the signer confirmed; sealing waits (bounded) until
    the log's sequencer has given them their indexes.
    """
    items = [i for i in (stored or "").split(",") if i]
    return [int(i) if i.isdigit() else audit.wait_sequenced(i, ctx).index for i in items]


def evidence_of(
    row: ContractRow, rows: Sequence[ContractSignerRow], ctx: Context
) -> tuple[list[EvidenceRow], dict[str, Any]]:
    """The evidence page's rows and the ``evidence.json`` data of a contract and its signers."""
    table = [
        EvidenceRow("Số hợp đồng", row.number),
        EvidenceRow("SHA-256 văn bản đã hiển thị (shown.pdf)", group_hex(row.shown_sha256 or "")),
        EvidenceRow("SHA-256 nội dung hợp đồng (contract.xml)", group_hex(row.xml_sha256 or "")),
    ]
    data: dict[str, Any] = {
        "contract": row.number,
        "document_sha256": row.shown_sha256,
        "xml_sha256": row.xml_sha256,
        "signers": [],
    }
    keys = privacy.keyring(ctx)
    for s in rows:
        name = signer_name(keys, s)
        role = "Khách hàng (Bên B)" if s.role == SignerRole.CUSTOMER else "Đại diện Bên A"
        events = _event_indexes(s.audit_event_ids, ctx)
        table += [
            EvidenceRow(f"{role}", name),
            EvidenceRow(
                "Kênh và nơi nhận mã", f"{(s.channel or '').upper()} {s.destination_masked or ''}"
            ),
            EvidenceRow("Gửi mã lúc", _when(s.sent_at)),
            EvidenceRow("Xác nhận lúc", _when(s.signed_at)),
            EvidenceRow("Địa chỉ IP, trình duyệt", f"{s.client_ip or '-'}; {s.user_agent or '-'}"),
            EvidenceRow("Mã phiên xác thực", s.challenge_id or "-"),
            EvidenceRow("Sự kiện nhật ký (chỉ số)", ",".join(map(str, events)) or "-"),
        ]
        data["signers"].append(
            {
                "role": s.role,
                "name": name,
                "channel": s.channel,
                "destination": s.destination_masked,
                "challenge_id": s.challenge_id,
                "sent_at": _iso(s.sent_at),
                "signed_at": _iso(s.signed_at),
                "client_ip": s.client_ip,
                "user_agent": s.user_agent,
                "audit_events": events,
            }
        )
    return table, data


def _when(value: datetime | None) -> str:
    from evservice.clock import VN_TZ

    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S (GMT+7)") if value else "-"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
