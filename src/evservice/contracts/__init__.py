"""Service contracts signed by OTP: model, templates, lifecycle, evidence page, provider seal.

A contract is created from a :class:`ContractDraft` (electricity supply or
internet service), rendered into numbered clauses, a PDF and an XML valid
against the shipped ``contract.xsd``. :func:`request_consent` sends the next
signer a code bound to the SHA-256 of the exact PDF shown; :func:`confirm`
accepts it; after the customer and then the provider's representative have
confirmed, :func:`seal` appends the evidence page and the provider's PAdES
seal. Every transition is checked (:data:`ALLOWED`) and audited. The OTP
message links to the signer's page on the customer portal (:func:`portal_link`);
the portal finds the contract with :func:`for_challenge` and sends the code
again with :func:`resend_consent`.
"""

from evservice.contracts._lifecycle import ALLOWED, check_transition
from evservice.contracts._link import portal_link
from evservice.contracts._model import (
    Contract,
    ContractDraft,
    ContractKind,
    ContractStatus,
    Customer,
    ElectricityTerms,
    InternetTerms,
    Provider,
    SignerRole,
    format_contract_number,
    validate_contract_number,
)
from evservice.contracts._portal import for_challenge, resend_consent
from evservice.contracts._sealed import SEALED_TABLES
from evservice.contracts._service import (
    ClientInfo,
    ConsentRequest,
    amend,
    confirm,
    create,
    decline,
    expire_stale,
    get,
    paths,
    request_consent,
    seal,
    signers,
    void,
)
from evservice.contracts._templates import Article, Clause, render_clauses
from evservice.contracts._xml import NAMESPACE as CONTRACT_NAMESPACE
from evservice.contracts._xml import contract_to_xml, validate_contract_xml

__all__ = [
    "ALLOWED",
    "CONTRACT_NAMESPACE",
    "SEALED_TABLES",
    "Article",
    "Clause",
    "ClientInfo",
    "ConsentRequest",
    "Contract",
    "ContractDraft",
    "ContractKind",
    "ContractStatus",
    "Customer",
    "ElectricityTerms",
    "InternetTerms",
    "Provider",
    "SignerRole",
    "amend",
    "check_transition",
    "confirm",
    "contract_to_xml",
    "create",
    "decline",
    "expire_stale",
    "for_challenge",
    "format_contract_number",
    "get",
    "paths",
    "portal_link",
    "render_clauses",
    "request_consent",
    "resend_consent",
    "seal",
    "signers",
    "validate_contract_number",
    "validate_contract_xml",
    "void",
]
