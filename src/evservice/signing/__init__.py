"""Signing: key material (PKCS#12, PEM, PKCS#11, development key), XMLDSig and PAdES.

``load_signer(settings)`` gives a :class:`DocumentSigner` built once per process
and configuration; its ``signer`` is pyHanko's own ``Signer`` (use it with
pyHanko directly if you like). The XML and PDF signers take any
:class:`Signer` (what key material offers them, ``DocumentSigner`` being one):
``sign_invoice_xml(xml, signer, ...)`` adds the seller's XML signature in
``DSCKS/NBan``, and ``sign_xml_element`` does the same for another message of
the tax authority (any root child with an ``Id``, any ``DSCKS`` slot);
``sign_pdf(pdf, signer, ...)`` adds a PAdES signature (B-B, B-T
or B-LT) with the signed XML attached. Verification lives in
:mod:`evservice.verification`; it reads signatures with ``find_signatures``,
``check_signature``, ``parse_xml``, ``check_xml_limits`` and ``canonical_subset``, and
judges certificates with the trust helpers (``trust_config``, ``to_asn1``,
``is_development_certificate``) here.
"""

from evservice.signing._c14n import check_xml_limits
from evservice.signing._devkeys import (
    DEV_MARKER,
    DEV_TAX_CODE,
    DevKeyPaths,
    dev_key_paths,
    init_dev_keys,
    is_development_certificate,
)
from evservice.signing._keys import (
    DocumentSigner,
    LoadedKeySigner,
    clear_signer_cache,
    load_signer,
    signer_from_files,
    signer_from_key,
    signer_from_pkcs11,
)
from evservice.signing._pades import PdfSignatureBox, sign_pdf
from evservice.signing._signer import PadesLevel, Signer
from evservice.signing._trust import TrustConfig, to_asn1, trust_config, uses_development_key
from evservice.signing._xmlcheck import (
    ReferenceCheck,
    XmlSignatureCheck,
    canonical_subset,
    check_signature,
    find_signatures,
)
from evservice.signing._xmldsig import parse_xml, sign_invoice_xml, sign_xml_element

__all__ = [
    "DEV_MARKER",
    "DEV_TAX_CODE",
    "DevKeyPaths",
    "DocumentSigner",
    "LoadedKeySigner",
    "PadesLevel",
    "PdfSignatureBox",
    "ReferenceCheck",
    "Signer",
    "TrustConfig",
    "XmlSignatureCheck",
    "canonical_subset",
    "check_signature",
    "check_xml_limits",
    "clear_signer_cache",
    "dev_key_paths",
    "find_signatures",
    "init_dev_keys",
    "is_development_certificate",
    "load_signer",
    "parse_xml",
    "sign_invoice_xml",
    "sign_pdf",
    "sign_xml_element",
    "signer_from_files",
    "signer_from_key",
    "signer_from_pkcs11",
    "to_asn1",
    "trust_config",
    "uses_development_key",
]
