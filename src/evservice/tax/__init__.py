"""Reporting to the tax authority: data summary tables, notices of invoices with errors.

``build_summary("2026-11", ctx=ctx)`` builds, signs (XMLDSig, ``DSCKS/NNT``),
checks against the shipped ``bthdlieu.xsd`` and stores the month's data summary
tables (form 01/TH-HĐĐT, message ``BTHDLieu``): one row per invoice and VAT
rate, at most ``MAX_ROWS`` rows a table, numbered per month, later builds
adding supplements. ``notify_correction`` and ``explain`` make the signed
notices of invoices with errors (form 04/SS-HĐĐT, ``tbao.xsd``). Where each part lives:

* ``_format.py``: what the messages share (numbers, the XSDs, signing);
* ``_summary.py``: the summary tables;
* ``_notice.py``: notices of invoices with errors (04/SS-HĐĐT, ``TBao``):
  ``notify_correction`` for a replacement or adjustment, ``explain`` for an error
  that needs no new invoice; never a cancellation (Decree 70/2025 ended it);
* ``_gateway.py``: the ``TaxGateway`` protocol: file drop (default), HTTP
  T-VAN, in-memory twin, chosen by ``open_gateway`` from the settings;
* ``_outbox.py``: the durable outbox: ``send_pending`` submits each message id
  once (retry with backoff) and applies each answer once;
* ``_coded.py``: the answer's ``MCCQT`` put into ``HDon/MCCQT`` (the coded
  XML); ``invoice_code`` is None while the invoice waits;
* ``_withcode.py``: invoices of the coded series (``EVSERVICE_TAX_CODED_SERIES``):
  ``request_code`` queues one signed invoice (message 200), ``queue_coded``
  sweeps every one not queued yet (once each), ``deliver_coded`` hands the
  coded ones to the customer (the PDF printing the code, the coded XML) once;
* ``_tables.py``: the tables of the store.
"""

from evservice.tax._coded import insert_code, invoice_code
from evservice.tax._gateway import (
    FileGateway,
    HttpGateway,
    MemoryGateway,
    Outgoing,
    Response,
    TaxGateway,
    open_gateway,
    parse_response,
)
from evservice.tax._notice import ErrorNotice, NoticeKind, explain, notify_correction
from evservice.tax._outbox import (
    MESSAGE_TYPES,
    SendReport,
    TaxMessage,
    list_messages,
    send_pending,
)
from evservice.tax._summary import (
    MAX_ROWS,
    SummaryBuild,
    SummaryTable,
    build_summary,
    list_summaries,
    summary_rows,
)
from evservice.tax._withcode import CodedDelivery, deliver_coded, queue_coded, request_code

__all__ = [
    "MAX_ROWS",
    "MESSAGE_TYPES",
    "CodedDelivery",
    "ErrorNotice",
    "FileGateway",
    "HttpGateway",
    "MemoryGateway",
    "NoticeKind",
    "Outgoing",
    "Response",
    "SendReport",
    "SummaryBuild",
    "SummaryTable",
    "TaxGateway",
    "TaxMessage",
    "build_summary",
    "deliver_coded",
    "explain",
    "insert_code",
    "invoice_code",
    "list_messages",
    "list_summaries",
    "notify_correction",
    "open_gateway",
    "parse_response",
    "queue_coded",
    "request_code",
    "send_pending",
    "summary_rows",
]
