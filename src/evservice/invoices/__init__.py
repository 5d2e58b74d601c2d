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
from evservice.invoices._pdf import PageBox, RenderedPdf, render_invoice_pdf
from evservice.invoices._pricing import (
    MeterReading,
    PricedReading,
    PricedSegment,
    TierCharge,
    price_meter_reading,
    price_reading,
)
from evservice.invoices._subscriptions import (
    CreditApplication,
    CreditBalance,
    SubscriptionPlan,
    apply_credit,
    bill_subscription,
)
from evservice.invoices._tariffs import Tariff, TariffBook, TariffSchedule, load_tariffs
from evservice.invoices._xml import ParsedInvoice, invoice_to_xml, parse_invoice_xml

__all__ = [
    "Buyer",
    "CorrectionKind",
    "CreditApplication",
    "CreditBalance",
    "Invoice",
    "InvoiceDraft",
    "InvoiceLine",
    "InvoiceStatus",
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
    "apply_credit",
    "bill_subscription",
    "compute_totals",
    "invoice_to_xml",
    "load_tariffs",
    "parse_invoice_xml",
    "price_meter_reading",
    "price_reading",
    "render_invoice_pdf",
]
