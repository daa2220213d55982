"""Shipments (one or several per order: partial deliveries, the rest stays open per line) and
the printed documents' data: the company letterhead and the templates an admin edits."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import QTY
from orderhub.orders.models import Order, OrderLine


def pod_path(instance: "Shipment", filename: str) -> str:
    return f"shipments/{instance.order_id}/{filename}"


class Shipment(models.Model):
    """A delivery of some quantities of an order's lines. Created (planned: the customer is told,
    ``notice_at``), then shipped (stock consumed, ``shipped_at``). Written only by
    ``shipping.services``; each step is an event in the order's history."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("待发货")
        SHIPPED = "shipped", _("已发货")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments",
                              verbose_name=_("订单"))
    number = models.CharField(_("发货单号"), max_length=40, unique=True)
    seq = models.PositiveIntegerField(_("序号"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices,
                              default=Status.PLANNED)
    carrier = models.CharField(_("承运商"), max_length=100, blank=True)
    waybill = models.CharField(_("运单号"), max_length=64, blank=True)
    packages = models.PositiveIntegerField(_("件数"), default=1)
    weight_kg = models.DecimalField(_("重量（千克）"), max_digits=12, decimal_places=3, null=True,
                                    blank=True)
    # copied from the order's ship-to when the shipment is created (the order may change later)
    ship_to_contact = models.CharField(_("收货人"), max_length=100, blank=True)
    ship_to_phone = models.CharField(_("收货电话"), max_length=32, blank=True)
    ship_to_address = models.CharField(_("收货地址"), max_length=300, blank=True)
    remarks = models.CharField(_("备注"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    created_by = models.CharField(_("创建人"), max_length=150)
    # the shipping notice queued to the customer's e-mail (COEI: notice before shipping)
    notice_at = models.DateTimeField(_("发货通知时间"), null=True, blank=True)
    notice_to = models.CharField(_("通知对象"), max_length=300, blank=True)
    shipped_at = models.DateTimeField(_("发货时间"), null=True, blank=True)
    shipped_by = models.CharField(_("发货人"), max_length=150, blank=True)
    # proof of delivery (a photo or a signed scan, stored bytes served only as a download) and
    # the customer's acceptance: what the invoice gate asks for (``pod_refusal``)
    pod_file = models.FileField(_("签收凭证"), upload_to=pod_path, blank=True)
    pod_name = models.CharField(_("凭证文件名"), max_length=200, blank=True)
    pod_sha256 = models.CharField(_("凭证 SHA-256"), max_length=64, blank=True)
    pod_at = models.DateTimeField(_("凭证上传时间"), null=True, blank=True)
    pod_by = models.CharField(_("凭证上传人"), max_length=150, blank=True)
    accepted_at = models.DateTimeField(_("客户验收时间"), null=True, blank=True)
    accepted_by = models.CharField(_("验收人"), max_length=100, blank=True)
    acceptance_note = models.CharField(_("验收意见"), max_length=500, blank=True)
    acceptance_recorded_by = models.CharField(_("验收登记人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("发货单")
        verbose_name_plural = _("发货单")
        ordering = ["-created_at", "-pk"]
        permissions = [("ship_order", _("可以发货"))]
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="shipment_order_seq"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="shipment_status")]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    qty = models.DecimalField(_("数量"), **QTY)
    base_qty = models.DecimalField(_("基本单位数量"), **QTY)

    class Meta:
        verbose_name = _("发货明细")
        verbose_name_plural = _("发货明细")
        ordering = ["shipment", "order_line"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="shipment_line_qty_positive"),
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}/{self.order_line_id}: {self.qty}"


class Letterhead(models.Model):
    """The company on every printed document (one row, edited on the settings page)."""

    name = models.CharField(_("公司名称"), max_length=200, blank=True)
    address = models.CharField(_("公司地址"), max_length=300, blank=True)
    phone = models.CharField(_("电话"), max_length=64, blank=True)
    logo = models.BinaryField(_("标志"), blank=True, default=b"")
    logo_type = models.CharField(_("标志类型"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), null=True, blank=True)
    updated_by = models.CharField(_("更新人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("公司抬头")
        verbose_name_plural = _("公司抬头")

    def __str__(self) -> str:
        return self.name


class DocumentTemplate(models.Model):
    """An admin's version of a document's body (a Django template over the variables
    ``documents`` passes, nothing else). No row: the shipped template."""

    kind = models.CharField(_("单据"), max_length=32, unique=True)
    body = models.TextField(_("模板"))
    updated_at = models.DateTimeField(_("更新时间"))
    updated_by = models.CharField(_("更新人"), max_length=150)

    class Meta:
        verbose_name = _("单据模板")
        verbose_name_plural = _("单据模板")
        permissions = [("manage_documents", _("可以修改单据抬头和模板"))]

    def __str__(self) -> str:
        return self.kind


class CarrierDisruption(models.Model):
    """A carrier (or one of its routes: shipments whose ship-to address contains ``route``)
    marked disrupted: its planned shipments' orders are paused by the carrier breaker and the
    configured alternative carrier proposed (``shipping.breaker``). Cleared: the breaker resets."""

    carrier = models.CharField(_("承运商"), max_length=100)
    route = models.CharField(_("线路（收货地址包含）"), max_length=100, blank=True)
    reason = models.CharField(_("原因"), max_length=300)
    since = models.DateTimeField(_("开始时间"))
    created_by = models.CharField(_("登记人"), max_length=150)
    cleared_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    cleared_by = models.CharField(_("解除人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("承运中断")
        verbose_name_plural = _("承运中断")
        ordering = ["-since", "-pk"]
        indexes = [models.Index(fields=["carrier"], name="carrier_disruption_open",
                                condition=Q(cleared_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.carrier} {self.route}".strip()
