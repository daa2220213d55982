"""Writes of the KPI app: the daily report's setting (``daily_report_setting_save``) and the
daily mailing (``daily_report_send``, called by the periodic job in ``tasks``)."""

from __future__ import annotations

import base64
from datetime import date, time

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import PermissionDenied, ValidationFailed
from orderhub.core.permissions import allowed
from orderhub.core.roles import ROLES
from orderhub.notify.services import Recipient
from orderhub.notify.services.enqueue import NotifyRequest, notify_many

from . import events, report
from .models import SETTING_PK, DailyReportSent, DailyReportSetting

MANAGE = "notify.manage"   # who may say when the report is mailed and to whom


def daily_report_setting() -> DailyReportSetting:
    return DailyReportSetting.objects.filter(pk=SETTING_PK).first() or DailyReportSetting(pk=SETTING_PK)


def daily_report_setting_save(*, enabled: bool, send_at: time, roles: list[str], actor: Actor) -> DailyReportSetting:
    """When (time of day, business time zone) and to which roles the daily report is mailed
    (audited). Capability ``notify.manage``."""
    if not allowed(actor, MANAGE):
        raise PermissionDenied("forbidden", _("您无权修改日报设置。"))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed("invalid", _("未知角色：%(r)s") % {"r": "、".join(unknown)})
    with transaction.atomic():
        row = DailyReportSetting.objects.select_for_update().filter(pk=SETTING_PK).first()
        before = {} if row is None else {"enabled": row.enabled, "send_at": row.send_at.isoformat(),
                                          "roles": row.roles}
        row = row or DailyReportSetting(pk=SETTING_PK)
        row.enabled, row.send_at, row.roles = bool(enabled), send_at, sorted(set(roles))
        row.updated_by = actor.label[:150]
        row.save()
        append_event(subject_type="kpis_daily_report", subject_id=SETTING_PK, action=events.SETTING_SAVED,
                     actor=actor, changes={"before": before, "after": {
                         "enabled": row.enabled, "send_at": row.send_at.isoformat(), "roles": row.roles}})
    return row


def daily_report_send(*, day: date | None = None) -> int:
    """Mail ``day``'s report (default: today, once its time has come) to the configured roles
    through the outbox, the PDF attached; at most once a day (``DailyReportSent``, and the
    outbox's deduplication key). Returns the messages queued (0: not due, disabled or sent)."""
    s = daily_report_setting()
    now = timezone.localtime(clock.now())
    if not s.enabled or not s.roles:
        return 0
    if day is None:
        if now.time() < s.send_at:
            return 0
        day = now.date()
    if DailyReportSent.objects.filter(day=day).exists():
        return 0
    pdf = report.daily_pdf(day)   # outside the transaction: rendering takes a second
    try:
        with transaction.atomic():
            mark = DailyReportSent.objects.create(day=day, sent_at=clock.now(), roles=s.roles)
            subject = _("订单中枢日报 %(d)s") % {"d": f"{day:%Y-%m-%d}"}
            n = notify_many([NotifyRequest(
                event=events.DAILY_REPORT, recipients=[Recipient.role(r) for r in s.roles],
                context={"subject": subject, "message": _("附件为 %(d)s 的日报（PDF）。") % {"d": f"{day:%Y-%m-%d}"}},
                dedupe_key=f"{events.DAILY_REPORT}:{day.isoformat()}", channels=["email"],
                extra_payload={"attachments": [{"name": report.filename(day, "pdf"), "content_type": "application/pdf",
                                                "data": base64.b64encode(pdf).decode()}]})])
            mark.messages = n
            mark.save(update_fields=["messages"])
    except IntegrityError:   # another worker marked the day first
        return 0
    return n
