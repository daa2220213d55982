"""Portal accounts (contacts of a customer), their one-time codes, and what customers opened."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from orderhub.catalog.models import Customer
from orderhub.orders.models import Order


class Contact(models.Model):
    """A person of a customer who may sign in to the portal (by e-mail and/or mobile).

    ``generation`` is written into every session cookie the contact gets; bumping it ends
    every session at once ("log out everywhere", a contact switched off)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_contacts",
                                 verbose_name=_("customer"))
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True, default="")
    mobile = models.CharField(_("mobile"), max_length=32, blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    generation = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.CharField(_("created by"), max_length=150)
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    last_login_at = models.DateTimeField(_("last sign-in"), null=True, blank=True)

    class Meta:
        verbose_name = _("portal contact")
        verbose_name_plural = _("portal contacts")
        ordering = ["customer_id", "name", "pk"]
        constraints = [
            # one account per address: a code sent to it signs in exactly one contact
            models.UniqueConstraint(fields=["email"], condition=~models.Q(email=""), name="portal_contact_email_uniq"),
            models.UniqueConstraint(fields=["mobile"], condition=~models.Q(mobile=""), name="portal_contact_mobile_uniq"),
            models.CheckConstraint(condition=~models.Q(email="", mobile=""), name="portal_contact_has_address"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"


class LoginCode(models.Model):
    """A 6-digit one-time code: only its keyed hash is stored; valid 10 minutes, used once,
    dead after 5 wrong tries."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="codes")
    channel = models.CharField(max_length=8)           # email | sms
    salt = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "-created_at"], name="portal_code_contact_idx")]

    def __str__(self) -> str:
        return f"code {self.pk} of contact {self.contact_id}"


class Visit(models.Model):
    """A customer opened an order: its tracking link (no sign-in) or its portal page."""

    class Kind(models.TextChoices):
        TRACK = "track", _("tracking link")
        PORTAL = "portal", _("portal page")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["order", "at"], name="portal_visit_order_idx"),
                   models.Index(fields=["customer", "at"], name="portal_visit_customer_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id} {self.at:%Y-%m-%d %H:%M}"


class InboundCall(models.Model):
    """A customer called to ask where their order is (logged by staff in one click)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()
    logged_by = models.CharField(max_length=150)
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["order", "at"], name="portal_call_order_idx"),
                   models.Index(fields=["customer", "at"], name="portal_call_customer_idx")]

    def __str__(self) -> str:
        return f"call {self.order_id} {self.at:%Y-%m-%d %H:%M}"


class Message(models.Model):
    """One message of an order's thread between the customer's contacts and the order's rep.
    Plain text (escaped wherever shown), at most ``portal.messages.MAX_LENGTH`` characters."""

    class Side(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        STAFF = "staff", _("staff")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    side = models.CharField(max_length=8, choices=Side.choices)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    author = models.CharField(max_length=150)
    body = models.TextField()
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["order", "at"], name="portal_message_order_idx")]

    def __str__(self) -> str:
        return f"message {self.pk} on {self.order_id}"
