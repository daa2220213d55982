from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Trigger(models.TextChoices):
    ORDER_CREATED = "order_created", _("order created")
    STAGE_ENTERED = "stage_entered", _("stage entered")
    STAGE_LEFT = "stage_left", _("stage left")
    FIELD_CHANGED = "field_changed", _("field changed")
    OVERDUE = "overdue", _("stage overdue")
    TAG_ADDED = "tag_added", _("tag added")
    SCHEDULE = "schedule", _("on a schedule")


class Rule(models.Model):
    """When (trigger) + if (condition, safe expression language) + then (actions). Saved only
    through ``rules.services.rule_save``, which validates and names the fault."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    trigger = models.CharField(_("trigger"), max_length=24, choices=Trigger.choices)
    # field_changed: the field; stage_entered / stage_left / overdue: optional stage; tag_added: optional tag
    trigger_arg = models.CharField(_("trigger detail"), max_length=64, blank=True)
    interval_minutes = models.PositiveIntegerField(_("every (minutes)"), null=True, blank=True)
    condition = models.TextField(_("condition"), blank=True)
    actions = models.JSONField(_("actions"), default=list)
    last_run_at = models.DateTimeField(_("last scheduled run"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    updated_by = models.CharField(_("updated by"), max_length=150)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RulesStamp(models.Model):
    """One row: bumped on every rule save, so each process knows when to reload its rules."""

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"rules v{self.version}"


class RuleFiring(models.Model):
    """One rule matched one order: the inputs it saw and the actions it took or queued."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="firings")
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="rule_firings")
    trigger = models.CharField(_("trigger"), max_length=24)
    at = models.DateTimeField(_("at"))
    inputs = models.JSONField(_("inputs"), default=dict)
    actions = models.JSONField(_("actions"), default=list)
    # the change that triggered it (audit event id), if any
    event_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("rule firing")
        verbose_name_plural = _("rule firings")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["rule", "at"], name="firing_rule_at"),
                   models.Index(fields=["order", "at"], name="firing_order_at")]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.at}"


class RuleTask(models.Model):
    """An action that changes an order (add tag, set urgency, hold, open ticket), queued by a
    firing inside the change's transaction and applied after commit through the order services
    by the ``rules.apply`` job as the actor ``rule:<name>``."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        SKIPPED = "skipped", _("skipped")
        FAILED = "failed", _("failed")

    firing = models.ForeignKey(RuleFiring, on_delete=models.CASCADE, related_name="tasks")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    action = models.JSONField(_("action"))
    depth = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rule task")
        verbose_name_plural = _("rule tasks")
        indexes = [models.Index(fields=["id"], name="ruletask_pending",
                                condition=Q(state="pending"))]

    def __str__(self) -> str:
        return f"{self.firing_id}:{self.action.get('type')}"
