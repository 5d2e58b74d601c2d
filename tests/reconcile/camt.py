"""camt.053 / camt.054 documents built from the published message structure (ISO 20022).

Element names and nesting follow the schemas camt.053.001.02 / .08 and
camt.054.001.02 / .08: ``Document/BkToCstmrStmt/{GrpHdr, Stmt/{Id, Acct, Bal, Ntry*}}``
and ``Document/BkToCstmrDbtCdtNtfctn/{GrpHdr, Ntfctn/{Id, Acct, Ntry*}}``; in .08 the
entry status is ``Sts/Cd`` and a debtor's name sits in ``RltdPties/Dbtr/Pty/Nm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Entry:
    amount: str
    memo: str = ""
    ref: str | None = "FT001"
    credit: bool = True
    status: str = "BOOK"
    currency: str = "VND"
    booked: str = "2026-11-05"
    reversal: bool = False
    payer: str | None = "NGUYEN VAN A"
    details: tuple[tuple[str, str, str], ...] = ()  # (TxId, amount, memo) for batched entries


def _status(status: str, version: str) -> str:
    return f"<Sts><Cd>{status}</Cd></Sts>" if version == "08" else f"<Sts>{status}</Sts>"


def _debtor(name: str | None, version: str) -> str:
    if name is None:
        return ""
    inner = f"<Pty><Nm>{escape(name)}</Nm></Pty>" if version == "08" else f"<Nm>{escape(name)}</Nm>"
    return f"<RltdPties><Dbtr>{inner}</Dbtr></RltdPties>"


def _tx(
    ref: str | None, amount: str | None, currency: str, memo: str, payer: str | None, version: str
) -> str:
    refs = f"<Refs><EndToEndId>NOTPROVIDED</EndToEndId><TxId>{ref}</TxId></Refs>" if ref else ""
    amt = f'<Amt Ccy="{currency}">{amount}</Amt>' if amount else ""
    if amount and version == "02":
        amt = f'<AmtDtls><TxAmt><Amt Ccy="{currency}">{amount}</Amt></TxAmt></AmtDtls>'
    rmt = f"<RmtInf><Ustrd>{escape(memo)}</Ustrd></RmtInf>" if memo else ""
    return f"<TxDtls>{refs}{amt}{_debtor(payer, version)}{rmt}</TxDtls>"


def _entry(e: Entry, version: str) -> str:
    if e.details:
        txs = "".join(_tx(r, a, e.currency, m, e.payer, version) for r, a, m in e.details)
        entry_ref = ""
    else:
        txs = _tx(e.ref, None, e.currency, e.memo, e.payer, version)
        entry_ref = f"<AcctSvcrRef>E-{e.ref}</AcctSvcrRef>" if e.ref else ""
    return (
        f'<Ntry><Amt Ccy="{e.currency}">{e.amount}</Amt>'
        f"<CdtDbtInd>{'CRDT' if e.credit else 'DBIT'}</CdtDbtInd>"
        f"{'<RvslInd>true</RvslInd>' if e.reversal else ''}"
        f"{_status(e.status, version)}<BookgDt><Dt>{e.booked}</Dt></BookgDt>"
        f"<ValDt><Dt>{e.booked}</Dt></ValDt>{entry_ref}"
        f"<BkTxCd><Prtry><Cd>NTRF</Cd></Prtry></BkTxCd>"
        f"<NtryDtls>{txs}</NtryDtls></Ntry>"
    )


def camt(
    entries: list[Entry],
    *,
    message: str = "053",
    version: str = "02",
    account: str = "0071001234567",
) -> bytes:
    container, report = (
        ("BkToCstmrStmt", "Stmt") if message == "053" else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    )
    balance = (
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="VND">0</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-01</Dt></Dt></Bal>"
        if message == "053"
        else ""
    )
    body = "".join(_entry(e, version) for e in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.{message}.001.{version}">'
        f"<{container}><GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-11-06T00:00:00+07:00</CreDtTm></GrpHdr>"
        f"<{report}><Id>STMT-2026-11-05</Id><CreDtTm>2026-11-06T00:00:00+07:00</CreDtTm>"
        f"<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>VND</Ccy></Acct>{balance}{body}"
        f"</{report}></{container}></Document>"
    ).encode()
