"""A T-VAN-style HTTP server on 127.0.0.1 for the tests: it accepts, refuses, stalls, repeats.

``POST /messages`` (X-Message-Id) keeps the message, counts the POSTs of each id
and, by ``mode``, answers 202 (``accept``, ``reject``: the authority's 204 then
refuses with a reason), 400 with a JSON reason (``refuse``), or holds the
connection for ``stall`` seconds after keeping it (``stall-once``: only the first
POST; ``stall``: always). ``GET /messages/<id>``: 200 held, 404 unknown.
``GET /responses``: every answer so far, each twice (duplicates on purpose),
or none while ``silent``.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REASON = "Mã số thuế người mua không đúng định dạng"


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

    def keep(self, message_id: str, body: bytes) -> bool:
        """Count the POST; True if it is new."""
        with self.lock:
            self.posts[message_id] += 1
            if message_id in self.held:
                return False
            self.held[message_id] = body
            kind = "204" if b"<MLTDiep>400<" in body else "301"
            self.answers.append(response_xml(message_id, "999"))
            reason = REASON if self.mode == "reject" else None
            self.answers.append(response_xml(message_id, kind, reason))
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
                    answers = [] if tvan.silent else [a for a in tvan.answers for _ in (1, 2)]
                self._reply(200, answers)
            else:
                self._reply(404, {})

    return Handler


@contextmanager
def serve(mode: str = "accept", stall: float = 3.0) -> Iterator[TVan]:
    tvan = TVan(mode=mode, stall=stall)
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
