"""Suppliers, purchase requests, purchase orders and their receipts.

Purchasing sits between orders and inventory: it refers to orders only by foreign key (as
inventory does), puts stock on hand through ``inventory.services`` and is read by
``orders.kitting`` (open quantities due in time count towards an order's materials).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import MONEY, QTY, Product
from orderhub.inventory.models import Warehouse

# the audit subjects whose chains purchasing appends to (``core.audit.append_event``)
SUBJECT_REQUEST = "purchase_request"
SUBJECT_ORDER = "purchase_order"
SUBJECT_SUPPLIER = "supplier"
SUBJECT_RULE = "replenishment_rule"


class Supplier(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SupplierItem(models.Model):
    """What a supplier sells of one material (a catalog product): price, lead time, MOQ."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="supplier_items")
    unit_price = models.DecimalField(_("unit price"), default=Decimal("0"), **MONEY)
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    moq = models.DecimalField(_("minimum order quantity"), default=Decimal("0"), **QTY)

    class Meta:
        verbose_name = _("supplier price")
        verbose_name_plural = _("supplier prices")
        constraints = [models.UniqueConstraint(fields=["supplier", "product"], name="supplier_item_unique")]

    def __str__(self) -> str:
        return f"{self.supplier_id}:{self.product_id} {self.unit_price}"


class PurchaseOrder(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("In transit")
        RECEIVED = "received", _("Fully received")
        CANCELLED = "cancelled", _("cancelled")

    number = models.CharField(_("number"), max_length=40, unique=True)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("receiving warehouse"))
    erp_ref = models.CharField(_("ERP number"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)

    class Meta:
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")
        ordering = ["-created_at", "-pk"]
        permissions = [("receive_purchaseorder", "Can receive goods against purchase orders")]

    def __str__(self) -> str:
        return self.number


class PurchaseOrderLine(models.Model):
    """One material on a PO. The database refuses received > qty (and < 0) on every backend;
    the receipt service locks the line first, so concurrent receipts never over-receive."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    qty = models.DecimalField(_("quantity ordered"), **QTY)
    received = models.DecimalField(_("quantity received"), default=Decimal("0"), **QTY)
    unit_price = models.DecimalField(_("unit price"), default=Decimal("0"), **MONEY)
    expected_date = models.DateField(_("expected date"))
    orders = models.ManyToManyField("orders.Order", through="LineOrder", related_name="+",
                                    blank=True)

    class Meta:
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")
        ordering = ["purchase_order_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "line_no"], name="po_line_unique"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="po_line_qty_positive"),
            models.CheckConstraint(condition=Q(received__gte=0), name="po_line_received_not_negative"),
            models.CheckConstraint(condition=Q(received__lte=F("qty")), name="po_line_never_over_received"),
        ]
        indexes = [models.Index(fields=["product", "expected_date"], name="po_line_product_due")]

    def __str__(self) -> str:
        return f"{self.purchase_order_id}#{self.line_no}"

    @property
    def open_qty(self) -> Decimal:
        return self.qty - self.received


class LineOrder(models.Model):
    """A PO line serves an order: how much of the line is meant for it."""

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, related_name="serves")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    qty = models.DecimalField(_("quantity"), **QTY)

    class Meta:
        verbose_name = _("order served")
        verbose_name_plural = _("orders served")
        constraints = [models.UniqueConstraint(fields=["line", "order"], name="po_line_order_unique"),
                       models.CheckConstraint(condition=Q(qty__gt=0), name="po_line_order_positive")]

    def __str__(self) -> str:
        return f"{self.line_id} → {self.order_id}: {self.qty}"


class PurchaseRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Declined")
        ORDERED = "ordered", _("Ordered")

    class Source(models.TextChoices):
        SHORTAGE = "shortage", _("Order shortage")
        MANUAL = "manual", _("Manual")
        REPLENISHMENT = "replenishment", _("Demand-surge replenishment")

    number = models.CharField(_("number"), max_length=40, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    qty = models.DecimalField(_("quantity"), **QTY)
    needed_by = models.DateField(_("needed by"), null=True, blank=True)
    supplier = models.ForeignKey(Supplier, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    raised_by = models.CharField(_("raised by"), max_length=150)
    raised_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)
    purchase_order = models.ForeignKey(PurchaseOrder, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="requests")
    # why a rule raised it (``replenishment``): daily quantities, peer average, stock vs safety stock
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)

    class Meta:
        verbose_name = _("purchase request")
        verbose_name_plural = _("purchase requests")
        ordering = ["-raised_at", "-pk"]
        permissions = [("approve_purchaserequest", "Can approve purchase requests")]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="pr_qty_positive"),
            # the replenishment rule never has two open requests for one SKU
            models.UniqueConstraint(fields=["product"], name="pr_one_open_replenishment",
                                    condition=Q(source="replenishment", status__in=["pending", "approved"])),
        ]

    def __str__(self) -> str:
        return self.number


class Receipt(models.Model):
    """Goods received against a PO line (the stock move is inventory's)."""

    line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipts")
    qty = models.DecimalField(_("quantity"), **QTY)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("received at"))
    by = models.CharField(_("received by"), max_length=150)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("goods receipt")
        verbose_name_plural = _("goods receipts")
        constraints = [models.CheckConstraint(condition=Q(qty__gt=0), name="receipt_positive")]

    def __str__(self) -> str:
        return f"{self.qty} on {self.line_id}"


class ReplenishmentRule(models.Model):
    """The seed rule for replenishment from order heat, as data (one row, ``pk`` 1): a SKU ordered
    more than ``multiple`` × the average of its peers on each of the last ``days`` days, and below
    its safety stock, gets a purchase request for approval (``purchasing.replenishment``)."""

    class Peers(models.TextChoices):
        UNIT = "unit", _("Products with the same unit")
        ALL = "all", _("All products")

    multiple = models.DecimalField(_("multiple of the peer average"), max_digits=6, decimal_places=2,
                                   default=Decimal("2.3"))
    days = models.PositiveSmallIntegerField(_("consecutive days"), default=3)
    peers = models.CharField(_("peers"), max_length=8, choices=Peers.choices, default=Peers.UNIT)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("replenishment rule")
        verbose_name_plural = _("replenishment rules")

    def __str__(self) -> str:
        return f"×{self.multiple} for {self.days} days"
