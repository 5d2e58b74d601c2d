"""Invoices: model, tariffs, numbering, XML, PDF, corrections and the batch."""

from evservice.invoices._model import (
    Buyer,
    CorrectionKind,
    Invoice,
    InvoiceDraft,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    PaymentAccount,
    RateTotal,
    RelatedInvoice,
    Seller,
    Totals,
    compute_totals,
)

__all__ = [
    "Buyer",
    "CorrectionKind",
    "Invoice",
    "InvoiceDraft",
    "InvoiceLine",
    "InvoiceStatus",
    "LineKind",
    "PaymentAccount",
    "RateTotal",
    "RelatedInvoice",
    "Seller",
    "Totals",
    "compute_totals",
]
