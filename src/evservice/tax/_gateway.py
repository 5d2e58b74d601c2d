"""How messages reach the tax authority: the ``TaxGateway`` protocol and its implementations.

A message is a ``TDiep`` (the transport envelope of the v2.0.x formats)::

    TDiep
      TTChung  PBan MNGui MNNhan MLTDiep MTDiep [MTDTChieu] MST SLuong
      DLieu    the signed BTHDLieu (MLTDiep 400) or TBao (MLTDiep 300)

and the authority answers with ``TDiep`` messages whose ``MTDTChieu`` names
ours: 999 (technical receipt, ``DLieu/TBao``: ``TTTNhan`` 0 received, 1 refused
with ``DSLDo/LDo/MTa``), 202 (an invoice sent for a code given one: the
invoice itself back in ``DLieu/HDon``, with ``MCCQT`` and the authority's
signature in ``DSCKS/CQT``; :attr:`Response.invoice`), 204 (01/TB-KTDL, the
result of checking the data: a summary table's, or the refusal of an invoice
sent for a code), 301 (result of the 04/SS notice). We read a result as
accepted unless it lists reasons (``DSLDKCNhan/LDo/MTLoi``, or ``DSLDo/LDo/MTa``
in a 999) -- a simplification of the formats, written down in the README; a
204 answering an invoice sent for a code is a refusal whatever it lists
(:mod:`._outbox`).

A gateway offers ``submit`` (idempotent on the far side by ``MTDiep``),
``known`` (has the far side this message id? asked before a resend whose first
attempt has an unknown outcome, so the same id is never sent twice) and
``responses`` (what has come back; duplicates are fine, the outbox applies each
response id once). :class:`FileGateway` (the default) drops messages into
``data_dir/tax/outbox`` and reads answers from ``data_dir/tax/inbox``;
:class:`HttpGateway` speaks a T-VAN-style HTTP API; :class:`MemoryGateway` is
the in-memory twin for tests. :func:`open_gateway` picks one from the settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx
from lxml import etree

from evservice._context import Context
from evservice._files import write_atomically
from evservice.errors import ConfigurationError, DeliveryError, DocumentError

__all__ = [
    "FileGateway",
    "HttpGateway",
    "MemoryGateway",
    "Outgoing",
    "Response",
    "TaxGateway",
    "open_gateway",
    "parse_response",
]


@dataclass(frozen=True)
class Outgoing:
    """A message as a gateway sends it: its ``MTDiep``, ``MLTDiep`` and ``TDiep`` bytes."""

    id: str
    type: str
    xml: bytes


@dataclass(frozen=True)
class Response:
    """An answer of the authority, about message ``message_id``."""

    id: str
    message_id: str
    type: str
    accepted: bool
    reasons: tuple[str, ...] = ()
    code: str | None = None  # MCCQT, in a 202 (result of an invoice sent for a code)
    #: The invoice a 202 returns (``DLieu/HDon``: ours, with ``MCCQT`` and the
    #: authority's signature in ``DSCKS/CQT``), as the bytes of that element.
    invoice: bytes | None = field(default=None, repr=False)


@runtime_checkable
class TaxGateway(Protocol):
    """Where messages go and answers come from."""

    name: str

    def submit(self, message: Outgoing) -> None:
        """Hand the message over; :class:`DeliveryError` (``retryable``) if that failed."""
        ...

    def known(self, message_id: str) -> bool:
        """True if the far side already holds this message id."""
        ...

    def responses(self) -> Sequence[Response]:
        """Answers that have come back (maybe again)."""
        ...


def _text(root: etree._Element, path: str) -> str:
    return (root.findtext(path) or "").strip()


def parse_response(data: bytes) -> Response:
    """Read a response ``TDiep``; :class:`DocumentError` if it is not one."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"a response is not well-formed XML: {exc}") from exc
    if root.tag != "TDiep":
        raise DocumentError("a response is not a TDiep")
    kind = _text(root, "TTChung/MLTDiep")
    ident = _text(root, "TTChung/MTDiep")
    about = _text(root, "TTChung/MTDTChieu")
    if not kind or not ident or not about:
        raise DocumentError("a response needs TTChung/MLTDiep, MTDiep and MTDTChieu")
    reasons = [
        (r.text or "").strip() for r in root.iterfind(".//LDo/MTLoi") if (r.text or "").strip()
    ]
    reasons += [
        (r.text or "").strip() for r in root.iterfind(".//LDo/MTa") if (r.text or "").strip()
    ]
    refused = "1" in (_text(root, "DLieu/TBao/TTTNhan"), _text(root, "DLieu/TBao/DLTBao/TTTNhan"))
    code = (root.findtext(".//MCCQT") or "").strip() or None
    returned = root.find("DLieu/HDon")
    invoice = (
        None
        if returned is None
        else bytes(etree.tostring(returned, encoding="UTF-8", with_tail=False))
    )
    return Response(
        id=ident[:46],
        message_id=about[:46],
        type=kind[:3],
        accepted=not reasons and not refused,
        reasons=tuple(reasons),
        code=code,
        invoice=invoice,
    )


class MemoryGateway:
    """The in-memory twin: keeps what was submitted; answers are put in by the test."""

    name = "memory"

    def __init__(self) -> None:
        self.submitted: list[Outgoing] = []
        self.answers: list[Response] = []
        self.failures: list[DeliveryError] = []
        self._lock = threading.Lock()

    def fail_next(self, error: DeliveryError) -> None:
        with self._lock:
            self.failures.append(error)

    def submit(self, message: Outgoing) -> None:
        with self._lock:
            if self.failures:
                raise self.failures.pop(0)
            if any(m.id == message.id for m in self.submitted):
                return
            self.submitted.append(message)

    def known(self, message_id: str) -> bool:
        with self._lock:
            return any(m.id == message_id for m in self.submitted)

    def responses(self) -> Sequence[Response]:
        with self._lock:
            return list(self.answers)


@dataclass
class FileGateway:
    """Drops each message as ``outbox/<MTDiep>.xml``, reads ``inbox/*.xml`` answers."""

    folder: Path
    name: str = "file"

    def submit(self, message: Outgoing) -> None:
        path = self.folder / "outbox" / f"{message.id}.xml"
        if path.exists():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, message.xml)
        except OSError as exc:
            raise DeliveryError(f"cannot write {path.name}: {exc.strerror or exc}") from exc

    def known(self, message_id: str) -> bool:
        return (self.folder / "outbox" / f"{message_id}.xml").exists()

    def responses(self) -> Sequence[Response]:
        inbox = self.folder / "inbox"
        if not inbox.is_dir():
            return []
        found = []
        for path in sorted(inbox.glob("*.xml")):
            try:
                found.append(parse_response(path.read_bytes()))
            except (OSError, DocumentError):
                continue  # a file being written, or not a response: left for a person
        return found


@dataclass
class HttpGateway:
    """A T-VAN-style HTTP API (see the README for its shape).

    ``POST {url}/messages`` with the ``TDiep`` (``X-Message-Id``): 202 taken,
    200 already held, 4xx refused (JSON ``reason``), 5xx or a timeout: try again.
    ``GET {url}/messages/{id}``: 200 held, 404 unknown. ``GET {url}/responses``:
    a JSON list of response ``TDiep`` texts.
    """

    url: str
    token: str | None = None
    timeout: float = 10.0
    transport: httpx.BaseTransport | None = None
    name: str = "tvan"
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def _http(self) -> httpx.Client:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            self._client = httpx.Client(
                base_url=self.url.rstrip("/"), timeout=self.timeout, headers=headers,
                transport=self.transport,
            )  # fmt: skip
        return self._client

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            return self._http().request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"the T-VAN did not answer {method} {path} in time") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"the T-VAN is unreachable: {type(exc).__name__}") from exc

    def submit(self, message: Outgoing) -> None:
        reply = self._call(
            "POST", "/messages", content=message.xml,
            headers={"Content-Type": "application/xml", "X-Message-Id": message.id},
        )  # fmt: skip
        if reply.status_code in (200, 201, 202):
            return
        if 400 <= reply.status_code < 500 and reply.status_code not in (408, 429):
            try:
                reason = str(reply.json().get("reason", ""))[:300]
            except ValueError:
                reason = ""
            raise DeliveryError(
                f"the T-VAN refused the message ({reply.status_code}): {reason}", retryable=False
            )
        raise DeliveryError(f"the T-VAN answered {reply.status_code}; will try again")

    def known(self, message_id: str) -> bool:
        reply = self._call("GET", f"/messages/{message_id}")
        if reply.status_code == 200:
            return True
        if reply.status_code == 404:
            return False
        raise DeliveryError(f"the T-VAN answered {reply.status_code} to a status query")

    def responses(self) -> Sequence[Response]:
        reply = self._call("GET", "/responses")
        if reply.status_code != 200:
            raise DeliveryError(f"the T-VAN answered {reply.status_code} to a poll")
        try:
            texts = json.loads(reply.content)
        except ValueError as exc:
            raise DeliveryError("the T-VAN's responses are not JSON") from exc
        found = []
        for text in texts if isinstance(texts, list) else []:
            try:
                found.append(parse_response(str(text).encode()))
            except DocumentError:
                continue
        return found

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def open_gateway(ctx: Context) -> TaxGateway:
    """The gateway the settings name: ``file`` (default) or ``tvan`` (an HTTP T-VAN)."""
    s = ctx.settings
    if s.tax_gateway == "file":
        return FileGateway(ctx.data_dir / "tax")
    if not s.tax_tvan_url:
        raise ConfigurationError("EVSERVICE_TAX_GATEWAY=tvan needs EVSERVICE_TAX_TVAN_URL")
    token = s.tax_tvan_token.get_secret_value() if s.tax_tvan_token else None
    return HttpGateway(s.tax_tvan_url, token=token, timeout=s.tax_tvan_timeout)
