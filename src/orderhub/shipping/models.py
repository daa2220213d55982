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
        PLANNED = "planned", _("Awaiting shipment")
        SHIPPED = "shipped", _("Shipped")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments",
                              verbose_name=_("Sales order"))
    number = models.CharField(_("Shipment number"), max_length=40, unique=True)
    seq = models.PositiveIntegerField(_("Sequence"))
    status = models.CharField(_("Status"), max_length=16, choices=Status.choices,
                              default=Status.PLANNED)
    carrier = models.CharField(_("Carrier"), max_length=100, blank=True)
    waybill = models.CharField(_("Waybill"), max_length=64, blank=True)
    packages = models.PositiveIntegerField(_("Packages"), default=1)
    weight_kg = models.DecimalField(_("Weight (kg)"), max_digits=12, decimal_places=3, null=True,
                                    blank=True)
    # copied from the order's ship-to when the shipment is created (the order may change later)
    ship_to_contact = models.CharField(_("Receiver"), max_length=100, blank=True)
    ship_to_phone = models.CharField(_("Ship-to phone"), max_length=32, blank=True)
    ship_to_address = models.CharField(_("Ship-to address"), max_length=300, blank=True)
    remarks = models.CharField(_("Note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("Created at"))
    created_by = models.CharField(_("Created by"), max_length=150)
    # the shipping notice queued to the customer's e-mail (COEI: notice before shipping)
    notice_at = models.DateTimeField(_("Shipping notice sent at"), null=True, blank=True)
    notice_to = models.CharField(_("Notice sent to"), max_length=300, blank=True)
    shipped_at = models.DateTimeField(_("Shipped at"), null=True, blank=True)
    shipped_by = models.CharField(_("Shipped by"), max_length=150, blank=True)
    # proof of delivery (a photo or a signed scan, stored bytes served only as a download) and
    # the customer's acceptance: what the invoice gate asks for (``pod_refusal``)
    pod_file = models.FileField(_("Proof of delivery"), upload_to=pod_path, blank=True)
    pod_name = models.CharField(_("Proof file name"), max_length=200, blank=True)
    pod_sha256 = models.CharField(_("Proof SHA-256"), max_length=64, blank=True)
    pod_at = models.DateTimeField(_("Proof uploaded at"), null=True, blank=True)
    pod_by = models.CharField(_("Proof uploaded by"), max_length=150, blank=True)
    accepted_at = models.DateTimeField(_("Customer accepted at"), null=True, blank=True)
    accepted_by = models.CharField(_("Accepted by"), max_length=100, blank=True)
    acceptance_note = models.CharField(_("Acceptance remarks"), max_length=500, blank=True)
    acceptance_recorded_by = models.CharField(_("Acceptance recorded by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("Shipment")
        verbose_name_plural = _("Shipment")
        ordering = ["-created_at", "-pk"]
        permissions = [("ship_order", _("Can ship goods"))]
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="shipment_order_seq"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="shipment_status")]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    qty = models.DecimalField(_("Quantity"), **QTY)
    base_qty = models.DecimalField(_("Quantity in base unit"), **QTY)

    class Meta:
        verbose_name = _("Shipment line")
        verbose_name_plural = _("Shipment line")
        ordering = ["shipment", "order_line"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="shipment_line_qty_positive"),
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}/{self.order_line_id}: {self.qty}"


class Letterhead(models.Model):
    """The company on every printed document (one row, edited on the settings page)."""

    name = models.CharField(_("Company name"), max_length=200, blank=True)
    address = models.CharField(_("Company address"), max_length=300, blank=True)
    phone = models.CharField(_("Phone"), max_length=64, blank=True)
    logo = models.BinaryField(_("Logo"), blank=True, default=b"")
    logo_type = models.CharField(_("Logo type"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    updated_by = models.CharField(_("updated by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("Company letterhead")
        verbose_name_plural = _("Company letterhead")

    def __str__(self) -> str:
        return self.name


class DocumentTemplate(models.Model):
    """An admin's version of a document's body (a Django template over the variables
    ``documents`` passes, nothing else). No row: the shipped template."""

    kind = models.CharField(_("Document"), max_length=32, unique=True)
    body = models.TextField(_("Template"))
    updated_at = models.DateTimeField(_("updated at"))
    updated_by = models.CharField(_("updated by"), max_length=150)

    class Meta:
        verbose_name = _("Document template")
        verbose_name_plural = _("Document template")
        permissions = [("manage_documents", _("Can change the document letterhead and templates"))]

    def __str__(self) -> str:
        return self.kind


class CarrierDisruption(models.Model):
    """A carrier (or one of its routes: shipments whose ship-to address contains ``route``)
    marked disrupted: its planned shipments' orders are paused by the carrier breaker and the
    configured alternative carrier proposed (``shipping.breaker``). Cleared: the breaker resets."""

    carrier = models.CharField(_("Carrier"), max_length=100)
    route = models.CharField(_("Route (contained in the ship-to address)"), max_length=100, blank=True)
    reason = models.CharField(_("Reason"), max_length=300)
    since = models.DateTimeField(_("started at"))
    created_by = models.CharField(_("Recorded by"), max_length=150)
    cleared_at = models.DateTimeField(_("Lifted at"), null=True, blank=True)
    cleared_by = models.CharField(_("Lifted by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("Carrier disruption")
        verbose_name_plural = _("Carrier disruption")
        ordering = ["-since", "-pk"]
        indexes = [models.Index(fields=["carrier"], name="carrier_disruption_open",
                                condition=Q(cleared_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.carrier} {self.route}".strip()
