"""The KPI read layer keeps no tables for its figures: every figure is read from the orders,
their stage stays, tickets and first touches (``selectors``). The permission to see them is
``orders.view_kpis`` (``core.permissions``: capability ``kpis.view``).

Its two tables are the daily report's: when and to whom it is mailed (``DailyReportSetting``,
one row, edited by an admin) and the days it was mailed (``DailyReportSent``: one row per day,
what makes the job send once a day)."""

from __future__ import annotations

from datetime import time

from django.db import models
from django.utils.translation import gettext_lazy as _

SETTING_PK = 1


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
