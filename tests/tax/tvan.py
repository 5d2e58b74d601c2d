"""A T-VAN-style HTTP server on 127.0.0.1 for the tests: it accepts, refuses, stalls, repeats.

``POST /messages`` (X-Message-Id) keeps the message, counts the POSTs of each id
and, by ``mode``, answers HTTP 202 (``accept``, ``reject``: the authority then
refuses with a reason), 400 with a JSON reason (``refuse``), or holds the
connection for ``stall`` seconds after keeping it (``stall-once``: only the first
POST; ``stall``: always), or keeps it and refuses it in the technical receipt
(``unreadable``: a 999 with ``TTTNhan`` 1). ``GET /messages/<id>``: 200 held, 404 unknown.
``GET /responses``: every answer so far, each twice (duplicates on purpose),
or none while ``silent``.

The answers are the formats' messages naming ours in ``MTDTChieu``: first the
technical receipt 999 (``TBao``: ``MTDiep MNGui NNhan TTTNhan``, 0 received),
then the result: for a summary table (400) a 204 (01/TB-KTDL; reasons in
``DSLDKCNhan/LDo`` when refused), for a 04/SS notice (300) a 301; for an invoice
sent for a code (200) a 202 carrying the invoice back with its ``MCCQT`` and the
test authority's signature in ``DSCKS/CQT`` (:mod:`.authority`), or, refused, a
204 with the reason and no code.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

from evservice.signing import DocumentSigner

from .authority import code_invoice, new_code

REASON = "Mã số thuế người mua không đúng định dạng"
RECEIPT_REASON = "Thông điệp không đúng định dạng quy định"


def _general(message_id: str, kind: str) -> str:
    return (
        "<TTChung><PBan>2.0.0</PBan><MNGui>TCT</MNGui><MNNhan>TVAN</MNNhan>"
        f"<MLTDiep>{kind}</MLTDiep><MTDiep>TCT{uuid.uuid4().hex.upper()}</MTDiep>"
        f"<MTDTChieu>{message_id}</MTDTChieu><MST>0100101114</MST><SLuong>1</SLuong>"
        "</TTChung>"
    )


def receipt_xml(message_id: str, refused: str | None = None) -> str:
    """The technical receipt (999) of a message: TTTNhan 0, or 1 with a reason."""
    reasons = f"<DSLDo><LDo><MLoi>1</MLoi><MTa>{refused}</MTa></LDo></DSLDo>" if refused else ""
    return (
        f"<TDiep>{_general(message_id, '999')}<DLieu><TBao><MTDiep>{message_id}</MTDiep>"
        f"<MNGui>0100101114</MNGui><NNhan>2026-11-01T09:00:00</NNhan>"
        f"<TTTNhan>{1 if refused else 0}</TTTNhan>{reasons}</TBao></DLieu></TDiep>"
    )


def coded_xml(message_id: str, invoice: bytes) -> str:
    """The 202: the coded, authority-signed invoice in DLieu."""
    return f"<TDiep>{_general(message_id, '202')}<DLieu>{invoice.decode()}</DLieu></TDiep>"


def response_xml(message_id: str, kind: str, reason: str | None = None) -> str:
    reasons = (
        f"<DSLDKCNhan><LDo><MLoi>20001</MLoi><MTLoi>{reason}</MTLoi></LDo></DSLDKCNhan>"
        if reason
        else ""
    )
    return (
        "<TDiep><TTChung><PBan>2.0.0</PBan><MNGui>TCT</MNGui><MNNhan>TVAN</MNNhan>"
        f"<MLTDiep>{kind}</MLTDiep><MTDiep>TCT{uuid.uuid4().hex.upper()}</MTDiep>"
        f"<MTDTChieu>{message_id}</MTDTChieu><MST>0100101114</MST><SLuong>1</SLuong>"
        f"</TTChung><DLieu><TBao><DLTBao><MSo>01/TB-KTDL</MSo>{reasons}</DLTBao></TBao>"
        "</DLieu></TDiep>"
    )


@dataclass
class TVan:
    mode: str = "accept"
    stall: float = 3.0
    silent: bool = False  # keep answers back from /responses
    url: str = ""
    posts: Counter[str] = field(default_factory=Counter)
    held: dict[str, bytes] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    authority: DocumentSigner | None = None  # signs the 202s; without it, 200s get a 204
    codes: dict[str, str] = field(default_factory=dict)  # message id -> MCCQT given
    answers_kept: int | None = None  # per message, only its first n answers while set

    def _result(self, message_id: str, body: bytes) -> str:
        reason = REASON if self.mode == "reject" else None
        kind = etree.fromstring(body).findtext("TTChung/MLTDiep")
        if kind == "400":
            return response_xml(message_id, "204", reason)
        if kind != "200":
            return response_xml(message_id, "301", reason)
        if reason or self.authority is None:
            return response_xml(message_id, "204", reason or "Không ký được mã (thử nghiệm)")
        invoice = etree.fromstring(body).find("DLieu/HDon")
        assert invoice is not None
        code = self.codes[message_id] = new_code()
        when = datetime(2026, 11, 1, 2, 5, tzinfo=UTC)
        signed = code_invoice(etree.tostring(invoice), code, self.authority, when)
        return coded_xml(message_id, signed)

    def shown(self) -> list[str]:
        """The answers /responses gives now (the lock held)."""
        if self.answers_kept is None:
            return list(self.answers)
        seen: Counter[str] = Counter()
        shown = []
        for answer in self.answers:
            about = answer.split("<MTDTChieu>", 1)[1].split("<", 1)[0]
            seen[about] += 1
            if seen[about] <= self.answers_kept:
                shown.append(answer)
        return shown

    def keep(self, message_id: str, body: bytes) -> bool:
        """Count the POST; True if it is new."""
        with self.lock:
            self.posts[message_id] += 1
            if message_id in self.held:
                return False
            self.held[message_id] = body
            if self.mode == "unreadable":  # the receipt refuses it: no result follows
                self.answers.append(receipt_xml(message_id, RECEIPT_REASON))
                return True
            self.answers.append(receipt_xml(message_id))
            self.answers.append(self._result(message_id, body))
            return True


def _handler(tvan: TVan) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, code: int, body: object) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout under test)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            message_id = self.headers.get("X-Message-Id", "")
            if tvan.mode == "refuse":
                with tvan.lock:
                    tvan.posts[message_id] += 1
                self._reply(400, {"reason": "Thông điệp sai cấu trúc"})
                return
            first = tvan.posts[message_id] == 0
            new = tvan.keep(message_id, body)
            if tvan.mode == "stall" or (tvan.mode == "stall-once" and first):
                time.sleep(tvan.stall)
            self._reply(202 if new else 200, {"id": message_id})

        def do_GET(self) -> None:
            if self.path.startswith("/messages/"):
                known = self.path.removeprefix("/messages/") in tvan.held
                self._reply(200 if known else 404, {})
            elif self.path == "/responses":
                with tvan.lock:
                    answers = [] if tvan.silent else [a for a in tvan.shown() for _ in (1, 2)]
                self._reply(200, answers)
            else:
                self._reply(404, {})

    return Handler


@contextmanager
def serve(
    mode: str = "accept", stall: float = 3.0, authority: DocumentSigner | None = None
) -> Iterator[TVan]:
    tvan = TVan(mode=mode, stall=stall, authority=authority)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(tvan))
    server.daemon_threads = True
    tvan.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tvan
    finally:
        server.shutdown()
        server.server_close()
