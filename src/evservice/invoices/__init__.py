"""Invoices: model, tariffs, pricing, numbering, XML, PDF, corrections and lookup.

The monthly batch that issues them by the million lives in :mod:`evservice.batch`,
which uses this package through these names; nothing here imports the batch.
"""

from evservice.invoices import _lookup as lookup
from evservice.invoices._audit_check import audit_check
from evservice.invoices._codedpdf import render_coded_pdf
from evservice.invoices._corrections import adjust, history, replace
from evservice.invoices._documents import (
    complete_pending,
    ensure_documents,
    ensure_many_documents,
    payment_code,
    render_documents,
    render_to,
)
from evservice.invoices._identifiers import validate_series_for_date, validate_template
from evservice.invoices._issue import issue, record_invoice, record_invoices
from evservice.invoices._issued import IssuedInvoice, get, list_invoices, stored_draft
from evservice.invoices._model import (
    Buyer,
    CorrectionKind,
    Invoice,
    InvoiceDraft,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    RateTotal,
    RelatedInvoice,
    Seller,
    Totals,
    compute_totals,
)
from evservice.invoices._numbering import next_number, next_numbers
from evservice.invoices._pdf import PageBox, RenderedPdf, render_invoice_pdf
from evservice.invoices._pricing import (
    MeterReading,
    PricedReading,
    PricedSegment,
    TierCharge,
    price_meter_reading,
    price_reading,
)
from evservice.invoices._sealed import SEALED_TABLES
from evservice.invoices._subscriptions import (
    CreditApplication,
    CreditBalance,
    SubscriptionPlan,
    apply_credit,
    bill_subscription,
)
from evservice.invoices._tariffs import Tariff, TariffBook, TariffSchedule, load_tariffs
from evservice.invoices._xmlparse import ParsedInvoice, parse_invoice_xml
from evservice.invoices._xmlwrite import invoice_to_xml
from evservice.payments import PaymentAccount

__all__ = [
    "SEALED_TABLES",
    "Buyer",
    "CorrectionKind",
    "CreditApplication",
    "CreditBalance",
    "Invoice",
    "InvoiceDraft",
    "InvoiceLine",
    "InvoiceStatus",
    "IssuedInvoice",
    "LineKind",
    "MeterReading",
    "PageBox",
    "ParsedInvoice",
    "PaymentAccount",
    "PricedReading",
    "PricedSegment",
    "RateTotal",
    "RelatedInvoice",
    "RenderedPdf",
    "Seller",
    "SubscriptionPlan",
    "Tariff",
    "TariffBook",
    "TariffSchedule",
    "TierCharge",
    "Totals",
    "adjust",
    "apply_credit",
    "audit_check",
    "bill_subscription",
    "complete_pending",
    "compute_totals",
    "ensure_documents",
    "ensure_many_documents",
    "get",
    "history",
    "invoice_to_xml",
    "issue",
    "list_invoices",
    "load_tariffs",
    "lookup",
    "next_number",
    "next_numbers",
    "parse_invoice_xml",
    "payment_code",
    "price_meter_reading",
    "price_reading",
    "record_invoice",
    "record_invoices",
    "render_coded_pdf",
    "render_documents",
    "render_invoice_pdf",
    "render_to",
    "replace",
    "stored_draft",
    "validate_series_for_date",
    "validate_template",
]
