"""A test PKI made once per session, served over HTTP on loopback, and an invoice to sign.

certomancer declares the PKI (root CA -> intermediate CA -> RSA and ECDSA
signers; a TSA and an OCSP responder) from keys generated here, and its aiohttp
"animator" serves the RFC 3161 time-stamp authority, the OCSP responder and
the CRLs on 127.0.0.1 with a random port, in a thread: a real HTTP TSA, not an
in-process stand-in.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from certomancer.integrations.aiohttp_animator import build_animator_app
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from evservice.clock import ManualClock
from evservice.config import Settings
from evservice.invoices import Invoice, InvoiceDraft, invoice_to_xml, render_invoice_pdf
from evservice.signing import clear_signer_cache

ARCH = "evs"
SELLER_TAX_CODE = "0100100079"
P12_PASSWORD = "mật-khẩu-thử"

_KEYS: dict[str, str] = {
    "root": "ec",
    "interm": "ec",
    "signer-rsa": "rsa",
    "signer-ec": "ec",
    "tsa": "ec",
    "interm-ocsp": "ec",
}


def _validity() -> dict[str, str]:
    return {"valid-from": "2020-01-01T00:00:00+0000", "valid-to": "2050-01-01T00:00:00+0000"}


def _ku(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def _signer_cert(key: str) -> dict[str, Any]:
    return {
        "subject": key,
        "issuer": "interm",
        "validity": _validity(),
        "extensions": [
            _ku("digital_signature", "non_repudiation"),
            {
                "id": "authority_information_access",
                "smart-value": {
                    "schema": "aia-urls",
                    "params": {"ocsp-responder-names": ["interm-ocsp"]},
                },
            },
        ],
    }


def _config(keydir: Path, url: str) -> dict[str, Any]:
    ca_ext = {"id": "basic_constraints", "critical": True, "value": {"ca": True}}
    root_crl = {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
    }
    return {
        "external-url-prefix": url,
        "keysets": {
            "testing": {
                "path-prefix": str(keydir),
                "keys": {name: {"path": f"{name}.key.pem"} for name in _KEYS},
            }
        },
        "pki-architectures": {
            ARCH: {
                "keyset": "testing",
                "entity-defaults": {
                    "country-name": "VN",
                    "organization-name": "evservice test PKI",
                },
                "entities": {
                    "root": {"common-name": "evservice Test Root CA"},
                    "interm": {"common-name": "evservice Test Issuing CA"},
                    "signer-rsa": {
                        "common-name": "CÔNG TY ĐIỆN LỰC HẢI DƯƠNG (thử nghiệm)",
                        "user-id": f"MST:{SELLER_TAX_CODE}",
                    },
                    "signer-ec": {
                        "common-name": "Công ty Viễn thông Thử nghiệm",
                        "user-id": "MST:0109999904",
                    },
                    "tsa": {"common-name": "evservice Test TSA"},
                    "interm-ocsp": {"common-name": "evservice Test OCSP"},
                },
                "certs": {
                    "root": {
                        "subject": "root",
                        "issuer": "root",
                        "validity": _validity(),
                        "extensions": [
                            ca_ext,
                            _ku("digital_signature", "key_cert_sign", "crl_sign"),
                        ],
                    },
                    "interm": {
                        "subject": "interm",
                        "issuer": "root",
                        "validity": _validity(),
                        "extensions": [
                            ca_ext,
                            _ku("digital_signature", "key_cert_sign", "crl_sign"),
                            root_crl,
                        ],
                    },
                    "signer-rsa": _signer_cert("signer-rsa"),
                    "signer-ec": _signer_cert("signer-ec"),
                    "tsa": {
                        "subject": "tsa",
                        "issuer": "root",
                        "validity": _validity(),
                        "extensions": [
                            _ku("digital_signature", "non_repudiation"),
                            {
                                "id": "extended_key_usage",
                                "critical": True,
                                "value": ["time_stamping"],
                            },
                            root_crl,
                        ],
                    },
                    "interm-ocsp": {
                        "subject": "interm-ocsp",
                        "issuer": "interm",
                        "validity": _validity(),
                        "extensions": [
                            _ku("digital_signature"),
                            {
                                "id": "extended_key_usage",
                                "critical": True,
                                "value": ["ocsp_signing"],
                            },
                            {"id": "ocsp_no_check"},
                        ],
                    },
                },
                "services": {
                    "ocsp": {
                        "interm-ocsp": {
                            "for-issuer": "interm",
                            "responder-cert": "interm-ocsp",
                            "signing-key": "interm-ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P90D",
                        }
                    },
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


@dataclass(frozen=True)
class TestPKI:
    """Files and URLs of the session's PKI."""

    __test__ = False  # not a test class, whatever its name says

    dir: Path
    url: str
    root_pem: Path
    interm_pem: Path
    tsa_url: str
    rsa_p12: Path
    rsa_key: Path
    rsa_cert: Path
    ec_key: Path
    ec_cert: Path
    pki_arch: Any

    def settings(self, data_dir: Path, **changes: Any) -> Settings:
        """Settings signing with the RSA PKCS#12 and trusting the test root."""
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": f"sqlite:///{data_dir / 'store.db'}",
            "signing_pkcs12": self.rsa_p12,
            "signing_pkcs12_password": P12_PASSWORD,
            "signing_chain_pem": self.interm_pem,
            "trust_roots": (self.root_pem,),
        }
        values.update(changes)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _write_key(path: Path, kind: str) -> None:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class _Server:
    """certomancer's aiohttp animator on a socket already bound to 127.0.0.1:0."""

    def __init__(self, sock: socket.socket, app: web.Application) -> None:
        self.sock = sock
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="test-tsa", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.SockSite(runner, self.sock).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(15):
            raise RuntimeError("the test TSA did not start")

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPKI]:
    base = tmp_path_factory.mktemp("pki")
    for name, kind in _KEYS.items():
        _write_key(base / f"{name}.key.pem", kind)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = CertomancerConfig(_config(base, url), key_search_dir=str(base))
    arch = config.get_pki_arch(ArchLabel(ARCH))

    def pem(label: str) -> bytes:
        der = arch.get_cert(CertLabel(label)).dump()
        return _pem(der)

    files = {}
    for label in ("root", "interm", "signer-rsa", "signer-ec", "tsa"):
        files[label] = base / f"{label}.cert.pem"
        files[label].write_bytes(pem(label))
    p12 = base / "signer-rsa.p12"
    p12.write_bytes(arch.package_pkcs12(CertLabel("signer-rsa"), password=P12_PASSWORD.encode()))
    server = _Server(sock, build_animator_app({ArchLabel(ARCH): arch}, with_web_ui=False))
    server.start()
    try:
        yield TestPKI(
            dir=base,
            url=url,
            root_pem=files["root"],
            interm_pem=files["interm"],
            tsa_url=f"{url}/{ARCH}/tsa/tsa",
            rsa_p12=p12,
            rsa_key=base / "signer-rsa.key.pem",
            rsa_cert=files["signer-rsa"],
            ec_key=base / "signer-ec.key.pem",
            ec_cert=files["signer-ec"],
            pki_arch=arch,
        )
    finally:
        server.stop()
        sock.close()


def _pem(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(autouse=True)
def _fresh_signers() -> Iterator[None]:
    """Each test loads its own signers (the cache is keyed on settings, paths are per test)."""
    clear_signer_cache()
    yield
    clear_signer_cache()


@pytest.fixture
def now_clock() -> ManualClock:
    """A clock at the real time: the TSA stamps real time, the chain must agree."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


def make_invoice(number: int = 42) -> Invoice:
    draft = InvoiceDraft.model_validate(
        {
            "series": "C26TAA",
            "issue_date": date(2026, 10, 31),
            "seller": {
                "name": "Tổng công ty Điện lực miền Bắc - Công ty Điện lực Hải Dương",
                "tax_code": SELLER_TAX_CODE,
                "address": "Số 33 Đại lộ Hồ Chí Minh, thành phố Hải Dương",
            },
            "buyer": {
                "person_name": "Nguyễn Thị Ánh Tuyết",
                "customer_code": "PA01000001",
                "address": "Số 1 Ngõ 2 Phố Đông Hải, Hải Dương",
            },
            "lines": [
                {
                    "name": "Điện sinh hoạt bậc 1",
                    "unit": "kWh",
                    "quantity": "50",
                    "unit_price": "1984",
                    "vat_rate": "8%",
                },
                {
                    "name": "Điện sinh hoạt bậc 2",
                    "unit": "kWh",
                    "quantity": "77",
                    "unit_price": "2050",
                    "vat_rate": "8%",
                },
            ],
        }
    )
    return Invoice(
        id=uuid.UUID(int=number),
        draft=draft,
        number=number,
        lookup_code="ABCD2345EFGH",
        issued_at=datetime(2026, 10, 31, 3, 0, tzinfo=UTC),
    )


@dataclass(frozen=True)
class InvoiceDocs:
    invoice: Invoice
    xml: bytes
    pdf: bytes
    box: Any  # RenderedPdf.signature_box


@pytest.fixture(scope="session")
def invoice_docs() -> InvoiceDocs:
    """A real invoice: the XML writer's and the PDF renderer's output, unsigned."""
    invoice = make_invoice()
    rendered = render_invoice_pdf(invoice)
    return InvoiceDocs(invoice, invoice_to_xml(invoice), rendered.pdf, rendered.signature_box)
