"""Finance: invoices per shipment, payments (by hand or from a bank statement) and what they
settle, payment promises, returns with their QC report, credit notes. Written only by
``finance.services``; ``Customer.unpaid_amount`` follows the open invoice balances through
``finance.services.credit.unpaid_changed``."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import MONEY, QTY, Customer
from orderhub.inventory.models import Warehouse
from orderhub.orders.models import Order, OrderLine
from orderhub.shipping.models import Shipment

ZERO = Decimal("0")


class Invoice(models.Model):
    """A VAT invoice for one shipment (never two: the shipment is unique). The buyer's tax and
    bank details are copied from the customer when it is issued."""

    class Kind(models.TextChoices):
        NORMAL = "normal", _("VAT ordinary invoice")
        SPECIAL = "special", _("VAT special invoice")

    number = models.CharField(_("Invoice number"), max_length=40, unique=True)
    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, related_name="invoice",
                                    verbose_name=_("Shipment"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(_("Invoice type"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("Invoice title"), max_length=200)
    tax_no = models.CharField(_("Taxpayer ID"), max_length=32)
    bank_name = models.CharField(_("Bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("Bank account"), max_length=64, blank=True)
    address_phone = models.CharField(_("Address and phone"), max_length=300, blank=True)
    amount = models.DecimalField(_("Total incl. tax"), **MONEY)
    tax_rate = models.DecimalField(_("Tax rate"), max_digits=5, decimal_places=4)
    tax_amount = models.DecimalField(_("Tax amount"), **MONEY)
    settled = models.DecimalField(_("Settled"), default=ZERO, **MONEY)
    issued_on = models.DateField(_("Invoice date"))
    due_on = models.DateField(_("Due date"))
    issued_at = models.DateTimeField(_("Invoiced at"))
    issued_by = models.CharField(_("Invoiced by"), max_length=150)

    class Meta:
        verbose_name = _("Invoice")
        verbose_name_plural = _("Invoice")
        ordering = ["-issued_at", "-pk"]
        permissions = [("manage_finance", _("Can issue invoices, record payments and import bank statements"))]
        constraints = [
            models.CheckConstraint(condition=Q(settled__gte=0) & Q(settled__lte=models.F("amount")),
                                   name="invoice_settled_within_amount"),
        ]
        indexes = [models.Index(fields=["customer", "issued_on"], name="invoice_customer")]

    def __str__(self) -> str:
        return self.number

    @property
    def balance(self) -> Decimal:
        return self.amount - self.settled


class Payment(models.Model):
    """Money received: a deposit (预收款) or a payment, typed in or read from a bank statement;
    ``applied`` of it settles invoices (``Allocation``), never more than ``amount``."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment for goods")
        DEPOSIT = "deposit", _("Deposit")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Entered by hand")
        BANK = "bank", _("Bank statement import")

    number = models.CharField(_("Payment number"), max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments",
                                 null=True, blank=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", null=True,
                              blank=True)
    kind = models.CharField(_("Type"), max_length=16, choices=Kind.choices, default=Kind.PAYMENT)
    source = models.CharField(_("Source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    amount = models.DecimalField(_("Amount"), **MONEY)
    applied = models.DecimalField(_("Settled"), default=ZERO, **MONEY)
    received_on = models.DateField(_("Date received"))
    payer = models.CharField(_("Payer"), max_length=200, blank=True)
    memo = models.CharField(_("Summary"), max_length=300, blank=True)
    bank_ref = models.CharField(_("Bank transaction number"), max_length=64, blank=True)
    bank_import = models.ForeignKey("BankImport", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="payments")
    recorded_at = models.DateTimeField(_("Recorded at"))
    recorded_by = models.CharField(_("Recorded by"), max_length=150)

    class Meta:
        verbose_name = _("Payment")
        verbose_name_plural = _("Payment")
        ordering = ["-received_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(applied__gte=0) & Q(applied__lte=models.F("amount")),
                                   name="payment_applied_within_amount"),
            models.UniqueConstraint(fields=["bank_ref"], condition=~Q(bank_ref=""),
                                    name="payment_bank_ref_unique"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def unapplied(self) -> Decimal:
        return self.amount - self.applied


class CreditNote(models.Model):
    """A credit note (红字 / 贷项通知) for goods returned: settles the customer's open invoices
    like a payment does (``Allocation``)."""

    number = models.CharField(_("Credit note number"), max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_notes")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="credit_notes")
    return_order = models.OneToOneField("ReturnOrder", on_delete=models.PROTECT,
                                        related_name="credit_note")
    amount = models.DecimalField(_("Amount"), **MONEY)
    tax_rate = models.DecimalField(_("Tax rate"), max_digits=5, decimal_places=4)
    tax_amount = models.DecimalField(_("Tax amount"), **MONEY)
    applied = models.DecimalField(_("Offset"), default=ZERO, **MONEY)
    issued_on = models.DateField(_("Date"))
    issued_at = models.DateTimeField(_("Issued at"))
    issued_by = models.CharField(_("Issued by"), max_length=150)

    class Meta:
        verbose_name = _("Credit note")
        verbose_name_plural = _("Credit note")
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(applied__gte=0) & Q(applied__lte=models.F("amount")),
                                   name="credit_note_applied_within_amount"),
        ]

    def __str__(self) -> str:
        return self.number


class Allocation(models.Model):
    """Part of a payment or a credit note settling part of an invoice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations",
                                null=True, blank=True)
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="allocations",
                                    null=True, blank=True)
    amount = models.DecimalField(_("Amount"), **MONEY)
    at = models.DateTimeField(_("Time"))
    by = models.CharField(_("Operator"), max_length=150)

    class Meta:
        verbose_name = _("Settle")
        verbose_name_plural = _("Settle")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(
                condition=(Q(payment__isnull=False) & Q(credit_note__isnull=True))
                | (Q(payment__isnull=True) & Q(credit_note__isnull=False)),
                name="allocation_one_source"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.amount}"


class PaymentPromise(models.Model):
    """The customer promised to pay an invoice by a date. Kept when the invoice is settled;
    broken when the date passes with a balance left: sales owner and finance are told once."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="promises")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payment_promises")
    amount = models.DecimalField(_("Promised amount"), **MONEY)
    promised_on = models.DateField(_("Promised payment date"), db_index=True)
    note = models.CharField(_("Note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("Recorded at"))
    created_by = models.CharField(_("Recorded by"), max_length=150)
    kept_at = models.DateTimeField(_("Kept at"), null=True, blank=True)
    alerted_at = models.DateTimeField(_("Overdue reminder sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Payment promise")
        verbose_name_plural = _("Payment promise")
        ordering = ["promised_on", "pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.promised_on}"


class BankImport(models.Model):
    """One bank statement file applied (every row or none): who, when, what became of each row."""

    name = models.CharField(_("File name"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    rows = models.PositiveIntegerField(_("Number of lines"))
    matched = models.PositiveIntegerField(_("Matched"))
    unmatched = models.PositiveIntegerField(_("Awaiting manual matching"))
    results = models.JSONField(_("Result per row"), default=list)
    created_at = models.DateTimeField(_("Imported at"))
    created_by = models.CharField(_("Imported by"), max_length=150)

    class Meta:
        verbose_name = _("Bank statement import")
        verbose_name_plural = _("Bank statement import")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.name


def qc_path(instance: "QCReport", filename: str) -> str:
    return f"returns/{instance.return_order_id}/{filename}"


class ReturnOrder(models.Model):
    """Goods coming back against an order's shipped lines. Needs a QC report before the
    warehouse receives it; on receipt stock goes back where it shipped from and a credit note
    is issued."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Awaiting inspection")
        CHECKED = "checked", _("Awaiting receipt into stock")
        REJECTED = "rejected", _("Failed inspection")
        RECEIVED = "received", _("Received into stock")

    number = models.CharField(_("Return number"), max_length=40, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(_("Status"), max_length=16, choices=Status.choices,
                              default=Status.REQUESTED)
    reason = models.CharField(_("Return reason"), max_length=500)
    created_at = models.DateTimeField(_("Created at"))
    created_by = models.CharField(_("Created by"), max_length=150)
    received_at = models.DateTimeField(_("Received into stock at"), null=True, blank=True)
    received_by = models.CharField(_("Received into stock by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("Return")
        verbose_name_plural = _("Return")
        ordering = ["-created_at", "-pk"]
        permissions = [("add_return", _("Can record returns")), ("receive_return", _("Can receive returns into stock")),
                       ("record_qc", _("Can record return inspections"))]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_order = models.ForeignKey(ReturnOrder, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    qty = models.DecimalField(_("Quantity"), **QTY)
    base_qty = models.DecimalField(_("Quantity in base unit"), **QTY)
    amount = models.DecimalField(_("Amount"), **MONEY)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")

    class Meta:
        verbose_name = _("Return line")
        verbose_name_plural = _("Return line")
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="return_line_qty_positive"),
            models.UniqueConstraint(fields=["return_order", "order_line"], name="return_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.return_order_id}/{self.order_line_id}: {self.qty}"


class QCReport(models.Model):
    """The QC result of a return: pass or fail, a remark, optionally the report file (stored
    bytes, served only as a download)."""

    return_order = models.OneToOneField(ReturnOrder, on_delete=models.CASCADE, related_name="qc")
    passed = models.BooleanField(_("Passed"))
    remark = models.CharField(_("Inspection remarks"), max_length=500)
    file = models.FileField(_("Inspection report"), upload_to=qc_path, blank=True)
    file_name = models.CharField(_("File name"), max_length=200, blank=True)
    file_sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    recorded_at = models.DateTimeField(_("Recorded at"))
    recorded_by = models.CharField(_("Inspector"), max_length=150)

    class Meta:
        verbose_name = _("Return inspection")
        verbose_name_plural = _("Return inspection")

    def __str__(self) -> str:
        return f"{self.return_order_id}: {'pass' if self.passed else 'fail'}"
