from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import QTY, Product


class Warehouse(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=1, help_text=_("Reservations draw from lower numbers first."))

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StockLevel(models.Model):
    """On-hand and reserved quantity of one product in one warehouse.

    The database itself refuses 0 > reserved or reserved > on_hand, on every backend.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.DecimalField(_("on hand"), default=Decimal("0"), **QTY)
    reserved = models.DecimalField(_("reserved"), default=Decimal("0"), **QTY)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="stock_level_unique"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")),
                                   name="stock_never_oversold"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.warehouse_id}: {self.on_hand} ({self.reserved} reserved)"

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        RELEASED = "released", _("released")
        CONSUMED = "consumed", _("consumed")

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="reservations")
    line = models.ForeignKey("orders.OrderLine", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="reservations")
    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="reservations")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    qty = models.DecimalField(_("quantity"), **QTY)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.ACTIVE)
    created_at = models.DateTimeField(_("reserved at"))
    created_by = models.CharField(_("reserved by"), max_length=150)
    release_condition = models.CharField(_("release condition"), max_length=200)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.CharField(_("closed by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [models.CheckConstraint(condition=Q(qty__gt=0), name="reservation_positive")]
        indexes = [
            models.Index(fields=["order", "status"], name="reservation_order_status"),
            models.Index(fields=["expires_at"], name="reservation_active_expiry",
                         condition=Q(status="active", expires_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.qty} × {self.product_id} for order {self.order_id} ({self.status})"


class StockMove(models.Model):
    """Ledger of on-hand changes: receipts, shipments, adjustments."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("receipt")
        SHIPMENT = "shipment", _("shipment")
        ADJUSTMENT = "adjustment", _("adjustment")

    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    qty = models.DecimalField(_("quantity change"), **QTY)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    at = models.DateTimeField(_("time"))
    actor = models.CharField(_("by"), max_length=150)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")

    def __str__(self) -> str:
        return f"{self.kind} {self.qty} on {self.stock_id}"


class SafetyBreach(models.Model):
    """A material whose free stock (on hand − reserved, every warehouse) is below its
    ``safety_stock``: made when a stock change crosses it downwards, removed when one crosses
    back up (``inventory.safety``). Its presence is the state the crossing is judged against."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, primary_key=True,
                                   related_name="safety_breach")
    since = models.DateTimeField(_("below safety stock since"))
    free = models.DecimalField(_("free stock when it crossed"), **QTY)

    class Meta:
        verbose_name = _("safety stock breach")
        verbose_name_plural = _("safety stock breaches")

    def __str__(self) -> str:
        return f"{self.product_id} below safety stock since {self.since}"
