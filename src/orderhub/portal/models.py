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


class CoeiConfig(models.Model):
    """The customer order experience index's settings (one row, edited on ``/settings/coei/``):
    the weights of its three parts (seed 002: 40 / 30 / 30, they add up to 100), the update
    interval customers expect when their own setting is empty, the business hours a delay must
    be explained in, and how many days after delivery a survey answer may still be changed."""

    weight_notice = models.PositiveSmallIntegerField(_("weight: shipping notice before shipping"), default=40)
    weight_updates = models.PositiveSmallIntegerField(_("weight: status updated as often as expected"), default=30)
    weight_delay = models.PositiveSmallIntegerField(_("weight: delay explained in time"), default=30)
    update_hours = models.PositiveSmallIntegerField(_("expected update interval (hours)"), default=24)
    explain_hours = models.PositiveSmallIntegerField(_("delay explained within (business hours)"), default=2)
    survey_days = models.PositiveSmallIntegerField(_("survey editable for (days after delivery)"), default=14)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = _("COEI settings")
        verbose_name_plural = _("COEI settings")

    def __str__(self) -> str:
        return f"COEI {self.weight_notice}/{self.weight_updates}/{self.weight_delay}"


class CustomerSetting(models.Model):
    """A customer's portal settings: how often it expects to hear how its orders stand (hours;
    empty: the COEI settings' default)."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="portal_setting",
                                    verbose_name=_("customer"))
    update_hours = models.PositiveSmallIntegerField(_("expected update interval (hours)"), null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"setting {self.customer_id}"


class SurveyAnswer(models.Model):
    """The customer's answer to the short survey after delivery: one per order (stars 1-5 and a
    comment), changeable until ``CoeiConfig.survey_days`` after delivery."""

    class Via(models.TextChoices):
        PORTAL = "portal", _("portal")
        LINK = "link", _("survey link")

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    stars = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=500, blank=True, default="")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    via = models.CharField(max_length=8, choices=Via.choices)
    answered_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["customer", "answered_at"], name="portal_survey_customer_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(stars__gte=1, stars__lte=5),
                                              name="portal_survey_stars_1_5")]

    def __str__(self) -> str:
        return f"survey {self.order_id}: {self.stars}"


class CoeiScore(models.Model):
    """One order's COEI as last computed (``portal.coei``): a cache, never a record. It stands
    while the order's audit chain has not moved (``audit_seq``: every change to the order, a
    stage entered, a shipment made or shipped, a date moved, appends to it), the settings are the
    ones it was computed under (``basis``, and the customer's update interval), no staff message
    was posted on the order from ``coei.MESSAGE_MARGIN`` before it was computed, and, for an open order, until the clock alone would move the score (``valid_until``: the
    next expected-update window, or the end of the ETA day). Completed orders: no end."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="coei_score")
    audit_seq = models.PositiveIntegerField()
    basis = models.CharField(max_length=64)
    computed_at = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    coei = models.FloatField(null=True, blank=True)
    notice = models.FloatField(null=True, blank=True)
    updates = models.FloatField(null=True, blank=True)
    delay = models.FloatField(null=True, blank=True)
    delays = models.PositiveIntegerField(default=0)
    delays_explained = models.PositiveIntegerField(default=0)
    update_hours = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"coei {self.order_id}: {self.coei}"
