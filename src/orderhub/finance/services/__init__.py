"""Finance writes, the only ones, one use case per module: ``invoices`` (issue), ``payments``
(record, apply), ``bank`` (statement import), ``promises`` (record, the overdue sweep),
``returns`` (raise, QC, receive → credit note), ``credit`` (the one door to
``Customer.unpaid_amount``)."""

from .bank import BankRowError, bank_import
from .credit import unpaid_changed
from .invoices import invoice_issue
from .payments import payment_apply, payment_record
from .promises import promise_create, promises_sweep
from .returns import ReturnInput, return_create, return_qc, return_receive

__all__ = ["BankRowError", "ReturnInput", "bank_import", "invoice_issue", "payment_apply",
           "payment_record", "promise_create", "promises_sweep", "return_create", "return_qc",
           "return_receive", "unpaid_changed"]
