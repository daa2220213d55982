"""Capacity planning: production lines (work centres) with hours per working day, routings
(which operation of a product runs on which line, hours per unit), the finite schedule
(scheduled operations, one row per order, operation and day), each order's plan (materials
date, expected completion, rush insertion) and the delivery-risk notices already sent.

Planning sits above orders: it refers to orders by foreign key and writes only its own tables;
the promised date reaches the order through the entry action ``promise_date`` (orders calls the
promiser planning registers at start-up, ``orders.promising``).
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import DecimalSize, Product

SUBJECT_WORK_CENTER = "work_center"
SUBJECT_PLAN = "order_plan"
HOURS: DecimalSize = {"max_digits": 10, "decimal_places": 2}
RATE: DecimalSize = {"max_digits": 12, "decimal_places": 4}


class WorkCenter(models.Model):
    """A production line: available hours on each working day of the business calendar."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    hours_per_day = models.DecimalField(_("hours per working day"), default=Decimal("8"), **HOURS)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("production line")
        verbose_name_plural = _("production lines")
        ordering = ["code"]
        permissions = [("plan_capacity", "Can plan capacity and insert rush orders")]
        constraints = [models.CheckConstraint(condition=Q(hours_per_day__gt=0) & Q(hours_per_day__lte=24),
                                              name="work_center_hours_in_day")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Routing(models.Model):
    """One operation of a product on one line. Operations run in ``seq`` order; several rows with
    the same ``seq`` are alternative lines (the scheduler takes the preferred one, the rush
    options consider every line that can make the whole order)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveSmallIntegerField(_("sequence"), default=10)
    operation = models.CharField(_("operation"), max_length=60)
    work_center = models.ForeignKey(WorkCenter, on_delete=models.PROTECT, related_name="routings")
    hours_per_unit = models.DecimalField(_("hours per unit"), **RATE)
    preferred = models.BooleanField(_("preferred line"), default=True)

    class Meta:
        verbose_name = _("routing step")
        verbose_name_plural = _("routing steps")
        ordering = ["product_id", "seq", "-preferred", "work_center_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "seq", "work_center"], name="routing_step_line_unique"),
            models.CheckConstraint(condition=Q(hours_per_unit__gt=0), name="routing_hours_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}/{self.seq} {self.operation} @ {self.work_center_id}"


class OrderPlan(models.Model):
    """What planning knows of one released order."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="+")
    materials_date = models.DateField(_("materials ready"))
    expected_date = models.DateField(_("expected completion"), null=True, blank=True)
    promised_date = models.DateField(_("promised date"), null=True, blank=True)
    slipped_to = models.DateField(_("owner told of a slip to"), null=True, blank=True)
    rush_line = models.ForeignKey(WorkCenter, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("rush line"))
    rush_at = models.DateTimeField(_("inserted as rush at"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("order plan")
        verbose_name_plural = _("order plans")

    def __str__(self) -> str:
        return f"plan of {self.order_id}: {self.expected_date}"


class ScheduledOperation(models.Model):
    """Hours of one operation of one order on one line on one day (an operation longer than a
    day's free hours spans several rows)."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+", db_index=False)
    work_center = models.ForeignKey(WorkCenter, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.PositiveSmallIntegerField(_("sequence"))
    operation = models.CharField(_("operation"), max_length=60)
    day = models.DateField(_("day"))
    hours = models.DecimalField(_("hours"), **HOURS)

    class Meta:
        verbose_name = _("scheduled operation")
        verbose_name_plural = _("scheduled operations")
        indexes = [models.Index(fields=["work_center", "day"], name="sched_op_line_day"),
                   models.Index(fields=["order", "seq"], name="sched_op_order")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.operation} {self.day} {self.hours}h"


class RiskNotice(models.Model):
    """A delivery risk the order's owner was told of (once per order and kind of risk)."""

    class Kind(models.TextChoices):
        MATERIAL = "material", _("Material short with no purchase order to make it up")
        CAPACITY = "capacity", _("Lines booked full: expected to finish after the promised date")
        STAGE = "stage", _("Current stage overdue")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("risk"), max_length=16, choices=Kind.choices)
    detail = models.CharField(_("detail"), max_length=300)
    promised_date = models.DateField(_("promised date"))
    noticed_at = models.DateTimeField(_("told at"))

    class Meta:
        verbose_name = _("delivery risk notice")
        verbose_name_plural = _("delivery risk notices")
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="risk_notice_once")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"
