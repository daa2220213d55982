"""The events finance emits (audit events in each document's own chain, and the alert it sends).
Nothing else spells these strings.

``invoice.issued`` (INVOICE_ISSUED)
    An invoice issued for a shipment (``invoice_issue``). data: number, shipment, order, kind,
    amount, tax_amount.
``payment.recorded`` (PAYMENT_RECORDED)
    A payment or deposit recorded by hand or from a bank statement row. data: number, amount,
    customer, source, bank_ref.
``payment.applied`` (PAYMENT_APPLIED)
    Part of a payment (or a credit note) settling an invoice. data: invoice, amount.
``bank_import.applied`` (BANK_IMPORT_APPLIED)
    A bank statement file applied. data: name, rows, matched, unmatched.
``promise.created`` (PROMISE_CREATED) / ``promise.broken`` (PROMISE_BROKEN)
    A payment promise recorded / its date passed unpaid (the alert was queued).
``return.created`` (RETURN_CREATED) / ``return.qc_recorded`` (RETURN_QC_RECORDED) /
``return.received`` (RETURN_RECEIVED)
    A return raised against shipped lines / its QC result / goods back in stock.
``credit_note.issued`` (CREDIT_NOTE_ISSUED)
    The credit note that follows a received return. data: number, amount, applied.

Notification:

``payment_promise.overdue`` (PROMISE_OVERDUE)
    To the customer's sales owner and the finance role, once per promise.
"""

INVOICE_ISSUED = "invoice.issued"
PAYMENT_RECORDED = "payment.recorded"
PAYMENT_APPLIED = "payment.applied"
BANK_IMPORT_APPLIED = "bank_import.applied"
PROMISE_CREATED = "promise.created"
PROMISE_BROKEN = "promise.broken"
RETURN_CREATED = "return.created"
RETURN_QC_RECORDED = "return.qc_recorded"
RETURN_RECEIVED = "return.received"
CREDIT_NOTE_ISSUED = "credit_note.issued"
PROMISE_OVERDUE = "payment_promise.overdue"

ALL = (INVOICE_ISSUED, PAYMENT_RECORDED, PAYMENT_APPLIED, BANK_IMPORT_APPLIED, PROMISE_CREATED,
       PROMISE_BROKEN, RETURN_CREATED, RETURN_QC_RECORDED, RETURN_RECEIVED, CREDIT_NOTE_ISSUED,
       PROMISE_OVERDUE)
