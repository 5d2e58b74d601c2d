"""A customer signs an internet service contract with a one-time code sent by e-mail.

Run it with a data directory (created if missing), or without one to use a
temporary directory::

    python examples/consent_flow.py ./evservice-data

What happens, end to end, with real parts:

1. A local SMTP server starts on 127.0.0.1 (aiosmtpd, from the ``dev`` extra) and
   stands in for your mail provider; evservice talks SMTP to it.
2. The provider creates the contract: numbered clauses, a PDF with a verification
   QR code and a VietQR code for the installation fee, and XML valid against the
   shipped XSD.
3. ``request_consent`` e-mails the customer a six-digit code (and the PDF). The
   code is bound to the SHA-256 of that exact PDF; the store keeps only a keyed hash.
4. The customer types the code in (here: read from the e-mail the server got);
   ``confirm`` records who, when, from which IP address and browser.
5. The provider's representative countersigns the same way, in that order.
6. The last signature seals the contract: an evidence page is added, the shown
   PDF, the XML and the evidence are attached, and the provider's PAdES seal is
   applied. ``evservice.verify`` checks all of it; the audit log has every step.
"""

from __future__ import annotations

import re
import socket
import sys
import tempfile
from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

import evservice
from evservice import Context, Settings, audit, contracts
from evservice.clock import vn_date

CODE = re.compile(r"(?<![\w-])(\d{6})(?!\w)")


class Inbox:
    """The SMTP server's handler: it keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def code_for(self, address: str) -> str:
        """What the person at ``address`` reads in the newest mail: the six-digit code."""
        for mail in reversed(self.messages):
            if address in str(mail["To"]):
                for part in mail.walk():
                    if part.get_content_type() == "text/plain":
                        text = part.get_payload(decode=True).decode(part.get_content_charset())
                        match = CODE.search(text)
                        if match:
                            return match.group(1)
        raise LookupError(f"no code was mailed to {address}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    data_dir = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="evservice-"))
    inbox = Inbox()
    port = free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        # Settings: e-mail goes over SMTP (plain SMTP is fine on loopback; in
        # production keep the default STARTTLS and set a user and password).
        ctx = Context(
            settings=Settings(
                data_dir=data_dir,
                delivery_channel="smtp",
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_starttls=False,
                mail_from="hopdong@vienthong.example",
            )
        )
        today = vn_date(ctx.clock.now())
        draft = contracts.ContractDraft(
            provider=contracts.Provider(
                name="Công ty Cổ phần Viễn thông Mẫu",
                tax_code="0100109106",
                address="Số 1 Phạm Văn Bạch, Cầu Giấy, Hà Nội",
                representative="Phạm Minh Quân",
                representative_title="Giám đốc chi nhánh",
                representative_email="daidien@vienthong.example",
                payment={"bank_bin": "970436", "account": "0011001234567"},
            ),
            customer=contracts.Customer(
                name="Lê Văn Bình",
                address="5 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội",
                email="binh.le@example.com",
            ),
            terms=contracts.InternetTerms(
                service_address="5 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội",
                plan="Home 300 Mbps",
                monthly_fee=Decimal(220000),
                installation_fee=Decimal(300000),
                early_termination_fee=Decimal(500000),
            ),
            start_date=today + timedelta(days=1),
            reference=f"example-consent-{today.isoformat()}",
        )
        contract = contracts.create(draft, ctx=ctx)
        print(f"created {contract.number}, the customer is shown {contract.document_sha256}")
        if contract.status is contracts.ContractStatus.SEALED:
            print("(already sealed in this data directory)")
        else:
            for role, address in (
                ("customer", "binh.le@example.com"),
                ("representative", "daidien@vienthong.example"),
            ):
                sent = contracts.request_consent(contract.id, channel="email", ctx=ctx)
                print(f"code mailed to the {role} at {sent.destination_masked}")
                contract = contracts.confirm(
                    sent.challenge_id,
                    inbox.code_for(address),
                    client=contracts.ClientInfo(ip="198.51.100.23", user_agent="Example/1.0"),
                    ctx=ctx,
                )
                print(f"{role} confirmed: the contract is {contract.status.value}")
        final = contracts.paths(contract, ctx)["final_pdf"]
        report = evservice.verify(final, ctx=ctx)
        print(report.text())
        checkpoint = audit.publish_checkpoint(ctx)
        print(f"audit log: {checkpoint.size} events, checkpoint signed")
        print(f"sealed contract: {final}")
        return 0 if report.ok else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
