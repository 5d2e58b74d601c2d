"""Key material knows nothing of XML or PDF; the XML and PDF signers take a Signer."""

from __future__ import annotations

import ast
from pathlib import Path

from cryptography import x509

from evservice.config import Settings
from evservice.signing import DocumentSigner, Signer, load_signer

SIGNING = Path(__file__).parents[2] / "src" / "evservice" / "signing"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top, in functions or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_keys_import_no_xml_or_pdf_signing() -> None:
    imported = _imports(SIGNING / "_keys.py")
    for module in ("_pades", "_fastpades", "_xmldsig"):
        assert f"evservice.signing.{module}" not in imported
    assert not any(name.startswith("evservice.pdf") for name in imported)


def test_the_signing_modules_import_no_circle() -> None:
    graph = {
        path.stem: {
            name.rsplit(".", 1)[1]
            for name in _imports(path)
            if name.startswith("evservice.signing._")
        }
        for path in SIGNING.glob("_*.py")
        if path.name != "__init__.py"
    }

    def visit(module: str, trail: tuple[str, ...]) -> None:
        assert module not in trail, " -> ".join((*trail, module))
        for target in graph.get(module, ()):
            visit(target, (*trail, module))

    for module in graph:
        visit(module, ())


def test_a_document_signer_offers_what_the_protocol_names(settings: Settings) -> None:
    signer: Signer = load_signer(settings)
    assert isinstance(signer, DocumentSigner)
    members = [name for name in vars(Signer) if not name.startswith("_")]
    assert members  # the protocol is not empty
    for name in members:
        assert hasattr(signer, name), name
    assert isinstance(signer.certificate, x509.Certificate)
    assert signer.xml_key_info[0] == signer.certificate.subject.rfc4514_string()
    assert len(signer.cms_sign(b"data")) > 0  # DER, for the CMS
    assert len(signer.raw_sign(b"data")) > 0  # as XMLDSig encodes it
