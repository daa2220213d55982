"""The KPI figures are read from the orders, their stage stays, tickets and first touches
(``selectors``). The permission to see them is ``orders.view_kpis`` (``core.permissions``:
capability ``kpis.view``).

Tables of its own:

- the daily rollup (``rollup``, kept by the periodic job ``kpis.rollup``): per past day,
  ``StageDurations`` (stays that ended, by workflow version, stage and channel: their number,
  summed seconds and a histogram of their durations in logarithmic buckets) and ``TrendDay`` (orders
  created, completed and completed on time, by workflow version and channel), and both again per
  customer and channel (``CustomerStageDays``, ``CustomerTrendDay``); ``RolledDay`` marks the
  days rolled up (a day not marked, and today after its ``rolled_at``, is read from the orders
  themselves);
- the daily report's: when and to whom it is mailed (``DailyReportSetting``, one row, edited by
  an admin) and the days it was mailed (``DailyReportSent``: one row per day, what makes the job
  send once a day)."""

from __future__ import annotations

from datetime import time

from django.db import models
from django.utils.translation import gettext_lazy as _

SETTING_PK = 1


class RolledDay(models.Model):
    """A day (business time zone) whose stays and orders are in the rollup tables: up to
    ``rolled_at`` when that is before the day's end (today, rolled up during the day), else the
    whole day."""

    day = models.DateField(_("day"), unique=True)
    rolled_at = models.DateTimeField(_("rolled up at"))
    stays = models.PositiveIntegerField(_("stays ended"), default=0)
    created = models.PositiveIntegerField(_("orders created"), default=0)

    class Meta:
        verbose_name = _("day rolled up")

    def __str__(self) -> str:
        return self.day.isoformat()


class StageDurations(models.Model):
    """The stays that ended on ``day`` (business time zone) in ``stage`` of a workflow version,
    of orders from ``channel``: how many, their seconds summed (the exact mean), and their
    durations as a histogram (``rollup``): ``counts`` holds the number of stays of each bucket
    from ``low`` on, as little-endian 32-bit integers (bucket b > 0: (γ^(b-1), γ^b] seconds,
    bucket 0: 0–1 s). One row per day and stage, so a 90-day period reads a few thousand rows."""

    day = models.DateField(_("day"))
    workflow = models.ForeignKey("workflow.WorkflowDefinition", on_delete=models.CASCADE, related_name="+",
                                 db_index=False, verbose_name=_("workflow version"))
    stage = models.CharField(_("stage"), max_length=40)
    channel = models.CharField(_("channel"), max_length=32)
    stays = models.PositiveIntegerField(_("stays"))
    seconds = models.FloatField(_("seconds in all"))
    low = models.SmallIntegerField(_("first bucket"))
    counts = models.BinaryField(_("stays per bucket"))

    class Meta:
        verbose_name = _("stage durations of a day")
        constraints = [
            models.UniqueConstraint(fields=["day", "workflow", "stage", "channel"], name="kpi_stage_durations_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day}:{self.stage}:{self.channel}"


class TrendDay(models.Model):
    """Orders created on ``day`` (business time zone), and completed that day (entered their
    final stage) and of those on time (``selectors.on_time``'s rule), per workflow version and
    channel."""

    day = models.DateField(_("day"))
    workflow = models.ForeignKey("workflow.WorkflowDefinition", on_delete=models.CASCADE, related_name="+",
                                 db_index=False, verbose_name=_("workflow version"))
    channel = models.CharField(_("channel"), max_length=32)
    created = models.PositiveIntegerField(_("created"), default=0)
    completed = models.PositiveIntegerField(_("completed"), default=0)
    on_time = models.PositiveIntegerField(_("completed on time"), default=0)

    class Meta:
        verbose_name = _("trend day")
        constraints = [
            models.UniqueConstraint(fields=["day", "workflow", "channel"],
                                    include=["created", "completed", "on_time"], name="kpi_trend_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day}:{self.workflow_id}:{self.channel}"


class CustomerStageDays(models.Model):
    """The stays of one customer's orders from ``channel`` that ended on ``day`` in ``stage`` of
    a workflow version: how many, their seconds summed, and their histogram as ``{bucket:
    stays}`` (the buckets of ``StageDurations``). What a customer filter reads: a customer's 90
    days are a few thousand rows of this table, not a million stays."""

    day = models.DateField(_("day"))
    customer = models.ForeignKey("catalog.Customer", on_delete=models.CASCADE, related_name="+",
                                 db_index=False, verbose_name=_("customer"))
    workflow = models.ForeignKey("workflow.WorkflowDefinition", on_delete=models.CASCADE, related_name="+",
                                 db_index=False, verbose_name=_("workflow version"))
    stage = models.CharField(_("stage"), max_length=40)
    channel = models.CharField(_("channel"), max_length=32)
    stays = models.PositiveIntegerField(_("stays"))
    seconds = models.FloatField(_("seconds in all"))
    counts = models.JSONField(_("stays per bucket"))

    class Meta:
        verbose_name = _("a customer's stage durations of a day")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day", "workflow", "stage", "channel"],
                                    name="kpi_customer_stage_days_unique"),
        ]
        indexes = [models.Index(fields=["day"], name="kpi_customer_stage_days_day")]   # a day rolled up again

    def __str__(self) -> str:
        return f"{self.day}:{self.customer_id}:{self.stage}"


class CustomerTrendDay(models.Model):
    """``TrendDay`` per customer: one customer's orders from ``channel`` created on ``day``,
    completed that day, and of those on time."""

    day = models.DateField(_("day"))
    customer = models.ForeignKey("catalog.Customer", on_delete=models.CASCADE, related_name="+",
                                 db_index=False, verbose_name=_("customer"))
    workflow = models.ForeignKey("workflow.WorkflowDefinition", on_delete=models.CASCADE, related_name="+",
                                 db_index=False, verbose_name=_("workflow version"))
    channel = models.CharField(_("channel"), max_length=32)
    created = models.PositiveIntegerField(_("created"), default=0)
    completed = models.PositiveIntegerField(_("completed"), default=0)
    on_time = models.PositiveIntegerField(_("completed on time"), default=0)

    class Meta:
        verbose_name = _("a customer's trend day")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day", "workflow", "channel"],
                                    include=["created", "completed", "on_time"],
                                    name="kpi_customer_trend_day_unique"),
        ]
        indexes = [models.Index(fields=["day"], name="kpi_customer_trend_day_day")]

    def __str__(self) -> str:
        return f"{self.day}:{self.customer_id}:{self.workflow_id}"


class DailyReportSetting(models.Model):
    enabled = models.BooleanField(_("mail the daily report"), default=False)
    send_at = models.TimeField(_("time of day"), default=time(8, 0))
    roles = models.JSONField(_("recipient roles"), default=list)
    updated_by = models.CharField(_("by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("daily report setting")

    def __str__(self) -> str:
        return f"{self.send_at:%H:%M} {','.join(self.roles)}"


class DailyReportSent(models.Model):
    day = models.DateField(_("day"), unique=True)
    sent_at = models.DateTimeField(_("sent at"))
    roles = models.JSONField(_("recipient roles"), default=list)
    messages = models.PositiveIntegerField(_("messages"), default=0)

    class Meta:
        verbose_name = _("daily report mailed")

    def __str__(self) -> str:
        return self.day.isoformat()
