"""Real servers on loopback for the delivery tests: SMTP (aiosmtpd) and an SMS gateway.

* ``smtp_server``: aiosmtpd with STARTTLS (a self-signed certificate made
  here) and AUTH required after TLS; it records every accepted message.
* ``sms_gateway``: an ``http.server`` in a thread that speaks the webhook
  shape and Twilio's Messages API shape, checks credentials and the
  signature, records what it received, and answers what the test scripts
  (``gateway.script(503, 503)`` for an outage, ``gateway.delay`` for a timeout).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from evservice.store import _engine

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-smtp-pass"
WEBHOOK_SECRET = "webhook-shared-secret"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-xyz"


@dataclass
class TlsFiles:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evservice test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsFiles(cert_path, key_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A loopback port where nothing listens (for connection-refused tests)."""
    return _free_port()


class RecordingHandler:
    """aiosmtpd handler keeping every accepted envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.auth_logins: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    tls: TlsFiles
    user: str = SMTP_USER
    password: str = SMTP_PASSWORD


@pytest.fixture
def smtp_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    handler = RecordingHandler()

    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        if ok:
            handler.auth_logins.append(auth_data.login)
        return AuthResult(success=ok, handled=False)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_files.cert), str(tls_files.key))
    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, tls_files)
    finally:
        controller.stop()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass
class Gateway:
    """State of the loopback SMS gateway: what it got and what it will answer."""

    url: str
    webhook_secret: str = WEBHOOK_SECRET
    twilio_sid: str = TWILIO_SID
    twilio_token: str = TWILIO_TOKEN
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    delivered: list[Received] = field(default_factory=list)

    def script(self, *answers: int | tuple[int, Any]) -> None:
        """Answer the next requests with these statuses (and bodies), then normally."""
        with self.lock:
            for answer in answers:
                self.answers.append(answer if isinstance(answer, tuple) else (answer, None))

    @property
    def twilio_base(self) -> str:
        return self.url

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/hooks/sms?token=query-secret"


def _handler_for(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    twilio_path = f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

        def _reply(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            got = Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with gateway.lock:
                gateway.received.append(got)
                scripted = gateway.answers.pop(0) if gateway.answers else None
            if gateway.delay:
                time.sleep(gateway.delay)
            path = urllib.parse.urlsplit(self.path).path
            if scripted is not None:
                status, payload = scripted
                if payload is None:
                    payload = {"code": 20500, "message": "Service unavailable", "status": status}
                self._reply(status, payload)
                return
            if path == "/hooks/sms":
                expected = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
                if got.headers.get("x-evservice-signature") != f"sha256={expected}":
                    self._reply(401, {"error": "bad signature"})
                    return
                with gateway.lock:
                    gateway.delivered.append(got)
                    number = len(gateway.delivered)
                self._reply(200, {"id": f"wh-{number}", "status": "accepted"})
                return
            if path == twilio_path:
                expected_auth = (
                    "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
                )
                if got.headers.get("authorization") != expected_auth:
                    self._reply(
                        401,
                        {"code": 20003, "message": "Authenticate", "status": 401},
                    )
                    return
                form = got.form()
                if not form.get("To", "").startswith("+"):
                    self._reply(
                        400,
                        {
                            "code": 21211,
                            "message": f"The 'To' number {form.get('To')} is not valid.",
                            "more_info": "https://www.twilio.com/docs/errors/21211",
                            "status": 400,
                        },
                    )
                    return
                with gateway.lock:
                    gateway.delivered.append(got)
                    number = len(gateway.delivered)
                self._reply(
                    201,
                    {
                        "sid": f"SM{number:032x}",
                        "status": "queued",
                        "to": form["To"],
                        "from": form.get("From"),
                        "body": form.get("Body"),
                    },
                )
                return
            self._reply(404, {"code": 20404, "message": "Not found", "status": 404})

    return Handler


@pytest.fixture
def sms_gateway() -> Iterator[Gateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    gateway = Gateway(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler_for(gateway)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _release_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the test's pooled connections when it ends (see tests/otp/conftest.py)."""
    url = request.getfixturevalue("db_url") if "db_url" in request.fixturenames else None
    yield
    engine = _engine._engines.get((os.getpid(), url)) if url else None
    if engine is not None:
        engine.dispose()
