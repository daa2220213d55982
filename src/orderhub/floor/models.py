"""A shop-floor ticket is an ``orders.Ticket`` of kind ``floor`` plus its ``FloorTicket`` details
(problem type, severity, product, cause, fix, the text the knowledge base searches) and photos
(each kept as an order attachment, with a thumbnail OrderHub generated itself)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import Product
from orderhub.orders.models import Attachment, Ticket

TICKET_KIND = "floor"


class ProblemType(models.Model):
    """One entry of the configurable list (尺寸超差, 来料不良 …): the role that usually answers it."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=40)
    default_role = models.CharField(_("responsible role"), max_length=32)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("problem type")
        verbose_name_plural = _("problem types")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class Severity(models.TextChoices):
    NORMAL = "normal", _("Normal")
    SERIOUS = "serious", _("Serious")
    URGENT = "urgent", _("Urgent")


class FloorTicket(models.Model):
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="floor")
    problem_type = models.ForeignKey(ProblemType, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("problem type"))
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices,
                                default=Severity.NORMAL)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("product"))
    cause = models.TextField(_("cause"), blank=True)
    fix = models.TextField(_("fix"), blank=True)
    # title, details, cause and fix in one column: what the knowledge base searches (a trigram
    # index on UPPER(search_text) on PostgreSQL, migration 0001)
    search_text = models.TextField(blank=True)

    class Meta:
        verbose_name = _("shop-floor ticket")
        verbose_name_plural = _("shop-floor tickets")

    def __str__(self) -> str:
        return str(self.ticket)


class FloorPhoto(models.Model):
    ticket = models.ForeignKey(FloorTicket, on_delete=models.CASCADE, related_name="photos")
    attachment = models.OneToOneField(Attachment, on_delete=models.PROTECT, related_name="+")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    thumbnail = models.BinaryField()        # a PNG OrderHub drew from the decoded picture
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.attachment_id}"
