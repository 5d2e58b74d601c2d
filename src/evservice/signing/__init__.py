"""Signing: key material (PKCS#12, PEM, PKCS#11, development key), XMLDSig and PAdES.

``load_signer(settings)`` gives a :class:`DocumentSigner` built once per process
and configuration; its ``signer`` is pyHanko's own ``Signer`` (use it with
pyHanko directly if you like). ``sign_xml`` adds the seller's XML signature in
``DSCKS/NBan``; ``sign_pdf`` adds a PAdES signature (B-B, B-T or B-LT) with the
signed XML attached. Verification lives in :mod:`evservice.verification`.
"""

from evservice.signing._devkeys import (
    DEV_MARKER,
    DevKeyPaths,
    dev_key_paths,
    init_dev_keys,
    is_development_certificate,
)
from evservice.signing._keys import (
    DocumentSigner,
    LoadedKeySigner,
    PadesLevel,
    clear_signer_cache,
    load_signer,
    signer_from_files,
    signer_from_key,
    signer_from_pkcs11,
)
from evservice.signing._pades import PdfSignatureBox, sign_pdf
from evservice.signing._trust import TrustConfig, trust_config
from evservice.signing._xmldsig import sign_invoice_xml

__all__ = [
    "DEV_MARKER",
    "DevKeyPaths",
    "DocumentSigner",
    "LoadedKeySigner",
    "PadesLevel",
    "PdfSignatureBox",
    "TrustConfig",
    "clear_signer_cache",
    "dev_key_paths",
    "init_dev_keys",
    "is_development_certificate",
    "load_signer",
    "sign_invoice_xml",
    "sign_pdf",
    "signer_from_files",
    "signer_from_key",
    "signer_from_pkcs11",
    "trust_config",
]
