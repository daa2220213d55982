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
        NORMAL = "normal", _("增值税普通发票")
        SPECIAL = "special", _("增值税专用发票")

    number = models.CharField(_("发票号"), max_length=40, unique=True)
    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, related_name="invoice",
                                    verbose_name=_("发货单"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(_("发票类型"), max_length=16, choices=Kind.choices)
    title = models.CharField(_("发票抬头"), max_length=200)
    tax_no = models.CharField(_("纳税人识别号"), max_length=32)
    bank_name = models.CharField(_("开户银行"), max_length=100, blank=True)
    bank_account = models.CharField(_("银行账号"), max_length=64, blank=True)
    address_phone = models.CharField(_("地址电话"), max_length=300, blank=True)
    amount = models.DecimalField(_("价税合计"), **MONEY)
    tax_rate = models.DecimalField(_("税率"), max_digits=5, decimal_places=4)
    tax_amount = models.DecimalField(_("税额"), **MONEY)
    settled = models.DecimalField(_("已核销"), default=ZERO, **MONEY)
    issued_on = models.DateField(_("开票日期"))
    due_on = models.DateField(_("到期日"))
    issued_at = models.DateTimeField(_("开票时间"))
    issued_by = models.CharField(_("开票人"), max_length=150)

    class Meta:
        verbose_name = _("发票")
        verbose_name_plural = _("发票")
        ordering = ["-issued_at", "-pk"]
        permissions = [("manage_finance", _("可以开票、登记收款和导入银行流水"))]
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
        PAYMENT = "payment", _("货款")
        DEPOSIT = "deposit", _("预收定金")

    class Source(models.TextChoices):
        MANUAL = "manual", _("手工登记")
        BANK = "bank", _("银行流水导入")

    number = models.CharField(_("收款单号"), max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments",
                                 null=True, blank=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", null=True,
                              blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.PAYMENT)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    amount = models.DecimalField(_("金额"), **MONEY)
    applied = models.DecimalField(_("已核销"), default=ZERO, **MONEY)
    received_on = models.DateField(_("到账日期"))
    payer = models.CharField(_("付款方"), max_length=200, blank=True)
    memo = models.CharField(_("摘要"), max_length=300, blank=True)
    bank_ref = models.CharField(_("银行流水号"), max_length=64, blank=True)
    bank_import = models.ForeignKey("BankImport", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="payments")
    recorded_at = models.DateTimeField(_("登记时间"))
    recorded_by = models.CharField(_("登记人"), max_length=150)

    class Meta:
        verbose_name = _("收款")
        verbose_name_plural = _("收款")
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

    number = models.CharField(_("贷项通知单号"), max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_notes")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="credit_notes")
    return_order = models.OneToOneField("ReturnOrder", on_delete=models.PROTECT,
                                        related_name="credit_note")
    amount = models.DecimalField(_("金额"), **MONEY)
    tax_rate = models.DecimalField(_("税率"), max_digits=5, decimal_places=4)
    tax_amount = models.DecimalField(_("税额"), **MONEY)
    applied = models.DecimalField(_("已冲抵"), default=ZERO, **MONEY)
    issued_on = models.DateField(_("日期"))
    issued_at = models.DateTimeField(_("开具时间"))
    issued_by = models.CharField(_("开具人"), max_length=150)

    class Meta:
        verbose_name = _("贷项通知单")
        verbose_name_plural = _("贷项通知单")
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
    amount = models.DecimalField(_("金额"), **MONEY)
    at = models.DateTimeField(_("时间"))
    by = models.CharField(_("操作人"), max_length=150)

    class Meta:
        verbose_name = _("核销")
        verbose_name_plural = _("核销")
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
    amount = models.DecimalField(_("承诺金额"), **MONEY)
    promised_on = models.DateField(_("承诺付款日"), db_index=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("登记时间"))
    created_by = models.CharField(_("登记人"), max_length=150)
    kept_at = models.DateTimeField(_("兑现时间"), null=True, blank=True)
    alerted_at = models.DateTimeField(_("逾期提醒时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("付款承诺")
        verbose_name_plural = _("付款承诺")
        ordering = ["promised_on", "pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive")]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.promised_on}"


class BankImport(models.Model):
    """One bank statement file applied (every row or none): who, when, what became of each row."""

    name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True)
    rows = models.PositiveIntegerField(_("行数"))
    matched = models.PositiveIntegerField(_("已匹配"))
    unmatched = models.PositiveIntegerField(_("待人工匹配"))
    results = models.JSONField(_("逐行结果"), default=list)
    created_at = models.DateTimeField(_("导入时间"))
    created_by = models.CharField(_("导入人"), max_length=150)

    class Meta:
        verbose_name = _("银行流水导入")
        verbose_name_plural = _("银行流水导入")
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
        REQUESTED = "requested", _("待质检")
        CHECKED = "checked", _("待入库")
        REJECTED = "rejected", _("质检不通过")
        RECEIVED = "received", _("已入库")

    number = models.CharField(_("退货单号"), max_length=40, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices,
                              default=Status.REQUESTED)
    reason = models.CharField(_("退货原因"), max_length=500)
    created_at = models.DateTimeField(_("创建时间"))
    created_by = models.CharField(_("创建人"), max_length=150)
    received_at = models.DateTimeField(_("入库时间"), null=True, blank=True)
    received_by = models.CharField(_("入库人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("退货单")
        verbose_name_plural = _("退货单")
        ordering = ["-created_at", "-pk"]
        permissions = [("add_return", _("可以登记退货")), ("receive_return", _("可以退货入库")),
                       ("record_qc", _("可以登记退货质检"))]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_order = models.ForeignKey(ReturnOrder, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    qty = models.DecimalField(_("数量"), **QTY)
    base_qty = models.DecimalField(_("基本单位数量"), **QTY)
    amount = models.DecimalField(_("金额"), **MONEY)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")

    class Meta:
        verbose_name = _("退货明细")
        verbose_name_plural = _("退货明细")
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
    passed = models.BooleanField(_("合格"))
    remark = models.CharField(_("质检意见"), max_length=500)
    file = models.FileField(_("质检报告"), upload_to=qc_path, blank=True)
    file_name = models.CharField(_("文件名"), max_length=200, blank=True)
    file_sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    recorded_at = models.DateTimeField(_("登记时间"))
    recorded_by = models.CharField(_("质检员"), max_length=150)

    class Meta:
        verbose_name = _("退货质检")
        verbose_name_plural = _("退货质检")

    def __str__(self) -> str:
        return f"{self.return_order_id}: {'pass' if self.passed else 'fail'}"
