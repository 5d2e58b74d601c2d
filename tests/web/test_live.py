"""The portal on a real uvicorn server on loopback: headers, limits and a signing over HTTP/1.1."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.web.conftest import Server, free_port, send_contract

from evservice import Context
from evservice.cli._serve import TokenRedactor
from evservice.contracts import get


def raw_request(server: Server, head: str) -> str:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(65536).decode(errors="replace")


def test_headers_and_uniform_404_on_the_real_server(live: tuple[Server, Context]) -> None:
    server, _ = live
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        one = client.get("/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        two = client.get("/nothing/here")
        assert one.status_code == two.status_code == 404
        assert one.text == two.text


def test_post_without_length_or_too_long_is_refused_before_parsing(
    live: tuple[Server, Context],
) -> None:
    server, _ = live
    chunked = raw_request(
        server,
        "POST /hoa-don HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n0\r\n\r\n",
    )
    assert chunked.startswith("HTTP/1.1 411")
    huge = raw_request(
        server,
        "POST /kiem-tra HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n\r\n",
    )
    assert huge.startswith("HTTP/1.1 413")
    form = raw_request(
        server,
        "POST /hoa-don HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n",
    )
    assert form.startswith("HTTP/1.1 413")


def test_sign_over_http(live: tuple[Server, Context]) -> None:
    server, ctx = live
    sent = send_contract(ctx, "live-http")
    assert sent.link.startswith(server.url + "/c/")
    sha = get(sent.number, ctx=ctx).document_sha256
    with httpx.Client(base_url=server.url) as client:
        state = client.get(f"/api/v1/contracts/{sent.token}").json()
        assert state["document_sha256"] == sha
        wrong = "000000" if sent.code != "000000" else "111111"
        url = f"/api/v1/contracts/{sent.token}/confirm"
        assert client.post(url, json={"code": wrong, "document_sha256": sha}).status_code == 422
        ok = client.post(url, json={"code": sent.code, "document_sha256": sha})
        assert ok.json()["status"] == "consented"
        form = client.post(sent.path, content=b"code=1", headers={"content-type": "text/plain"})
        assert form.status_code == 403  # no CSRF token


def test_access_log_hides_tokens() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:1",
            "GET",
            "/c/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-/document.pdf",
            "1.1",
            200,
        ),
        None,
    )
    assert TokenRedactor().filter(record)
    assert "AbCdEf" not in record.getMessage()
    assert "/c/…/document.pdf" in record.getMessage()


def test_evservice_serve_runs_the_portal(tmp_path: Path) -> None:
    """``evservice serve`` in its own process, with the embedded store and development keys."""
    port = free_port()
    env = {**os.environ, "EVSERVICE_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-c", "from evservice.cli import main; main()"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        page = httpx.get(f"http://127.0.0.1:{port}/minh-bach")
        assert page.status_code == 200
        assert (tmp_path / "data" / "evservice.db").exists()
        assert "evservice portal on http://127.0.0.1:" in log.read_text()
    finally:
        process.terminate()
        process.wait(20)
