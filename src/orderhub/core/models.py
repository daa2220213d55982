from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One append-only entry of a subject's history (an order, a workflow, a customer ...).

    Each event carries the MAC of the previous event of the same subject, so an edited or deleted
    row breaks the chain; `orderhub audit verify` walks every chain (``orderhub.core.audit``). On
    PostgreSQL the application's role may only SELECT and INSERT here and a trigger refuses
    UPDATE, DELETE and TRUNCATE.
    """

    # the app's database role gets SELECT and INSERT only (orderhub.core.dbroles)
    append_only = True

    subject_type = models.CharField(_("subject type"), max_length=32)
    subject_id = models.BigIntegerField(_("subject id"))
    seq = models.PositiveIntegerField(_("sequence"))
    at = models.DateTimeField(_("time"))
    action = models.CharField(_("action"), max_length=64)
    actor_kind = models.CharField(_("actor kind"), max_length=16)
    actor_id = models.CharField(_("actor id"), max_length=64)
    actor_label = models.CharField(_("actor"), max_length=150)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    forced = models.BooleanField(_("forced"), default=False)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64)
    # the key that sealed ``hash`` (orderhub.core.audit.key_id_of); "" = a legacy SHA-256
    key_id = models.CharField(_("key id"), max_length=16, blank=True, default="")

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "seq"], name="audit_event_chain_position"
            )
        ]
        indexes = [models.Index(fields=["at"], name="audit_event_at")]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id}#{self.seq} {self.action}"


class AuditLegacyBoundary(models.Model):
    """Rows of ``table`` with an id up to ``max_id`` were made before keyed MACs (verified by
    their plain SHA-256, as a legacy segment); any later row must carry a MAC. Recorded once by
    the migration that introduced the keys (0 on a fresh install: nothing is legacy), copied into
    every signed checkpoint, so moving it is detected."""

    append_only = True

    table = models.CharField(max_length=63, primary_key=True)
    max_id = models.BigIntegerField()
    recorded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.table} <= {self.max_id}"


class ApiToken(models.Model):
    """A bearer token for a system (ERP, script). Only its SHA-256 is stored."""

    name = models.CharField(_("name"), max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens",
        verbose_name=_("acts as user"),
    )
    prefix = models.CharField(_("prefix"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class CalendarOverride(models.Model):
    """An admin's correction to the statutory calendar: a day made a workday or a day off."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("is a workday"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'workday' if self.is_workday else 'day off'}"


class Counter(models.Model):
    """Named counters for human-readable numbers where the database has no sequences."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class RoleSetting(models.Model):
    """What an administrator sets per role beyond its fixed permissions (``core.roles``):
    which orders the role sees and whether it may set prices. ``roles_sync`` and
    ``role_setting_save`` mirror it into the role's Django permissions
    (``orders.view_all_orders``, ``orders.change_price``), so an actor knows both with no query
    of its own."""

    class OrderScope(models.TextChoices):
        ALL = "all", _("All orders")
        OWN_CUSTOMERS = "own_customers", _("Own customers' orders")

    role = models.OneToOneField("auth.Group", on_delete=models.CASCADE, primary_key=True,
                                related_name="setting", verbose_name=_("role"))
    order_scope = models.CharField(_("orders visible"), max_length=20, choices=OrderScope.choices,
                                   default=OrderScope.ALL)
    change_price = models.BooleanField(_("may set prices"), default=False)

    class Meta:
        verbose_name = _("role setting")
        verbose_name_plural = _("role settings")

    def __str__(self) -> str:
        return f"{self.role_id}: {self.order_scope}"


class OfficialHolidayYear(models.Model):
    """The State Council's holiday schedule for one year, as an administrator imported it:
    every statutory day off and every make-up workday (调休上班). It replaces the holidays
    library's data for that year (which, for a year not yet published, is an estimate)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    days_off = models.JSONField(_("days off"), default=list)        # ISO dates
    workdays = models.JSONField(_("make-up workdays"), default=list)  # ISO dates
    source = models.CharField(_("source"), max_length=200, blank=True)
    imported_at = models.DateTimeField(_("imported at"))
    imported_by = models.CharField(_("imported by"), max_length=150)

    class Meta:
        verbose_name = _("official holiday schedule")
        verbose_name_plural = _("official holiday schedules")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)
