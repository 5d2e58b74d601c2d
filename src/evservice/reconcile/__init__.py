"""Getting paid: bank statements in, transfers matched to invoices, reminders, receivables.

* Receivables: :func:`track_invoices` opens one per issued invoice
  (:func:`open_receivables` for plain :class:`Receivable` values).
* Statements: :func:`read_camt` (ISO 20022 camt.053 / camt.054),
  :func:`read_csv_statement` (:class:`CsvColumns` says which columns),
  :func:`read_statement` (either, by sniffing); :func:`handle_webhook` for
  banks' and aggregators' transfer notifications (HMAC-SHA256, replay-protected).
* Matching: :func:`reconcile` applies transfers by payment reference, proposes
  amount + customer matches for review (:func:`apply_reviewed`), applies each
  bank transaction once, carries overpayments as credit.
* Reminders: :func:`send_reminders` queues e-mail/SMS before and after the due
  date (:class:`ReminderPolicy`), once per invoice and stage.
* Views: :func:`receivables_status` (paid, partly paid, unpaid, overdue, ageing)
  and :func:`customer_statement`.
"""

from evservice.reconcile._match import Outcome, ReconcileReport, apply_reviewed, reconcile
from evservice.reconcile._receivables import (
    Receivable,
    open_receivables,
    receivable_of,
    track_invoices,
)
from evservice.reconcile._reminders import (
    ReminderPolicy,
    ReminderReport,
    reminder_messages,
    send_reminders,
)
from evservice.reconcile._statements import (
    MAX_STATEMENT_BYTES,
    BankTransaction,
    CsvColumns,
    Statement,
    read_camt,
    read_csv_statement,
    read_statement,
)
from evservice.reconcile._views import (
    AGEING_BUCKETS,
    CustomerStatement,
    ReceivablesStatus,
    customer_statement,
    receivables_status,
)
from evservice.reconcile._webhook import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    WebhookConfig,
    WebhookResult,
    handle_webhook,
    sign_webhook,
)

__all__ = [
    "AGEING_BUCKETS",
    "MAX_BODY_BYTES",
    "MAX_STATEMENT_BYTES",
    "SIGNATURE_HEADER",
    "BankTransaction",
    "CsvColumns",
    "CustomerStatement",
    "Outcome",
    "Receivable",
    "ReceivablesStatus",
    "ReconcileReport",
    "ReminderPolicy",
    "ReminderReport",
    "Statement",
    "WebhookConfig",
    "WebhookResult",
    "apply_reviewed",
    "customer_statement",
    "handle_webhook",
    "open_receivables",
    "read_camt",
    "read_csv_statement",
    "read_statement",
    "receivable_of",
    "receivables_status",
    "reconcile",
    "reminder_messages",
    "send_reminders",
    "sign_webhook",
    "track_invoices",
]
