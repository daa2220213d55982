"""Periodic job of the KPI app: the daily report, mailed once a day at the configured time."""

from orderhub.celery import periodic

from .services import daily_report_send


@periodic(seconds=60, name="kpis.mail_daily_report")
def mail_daily_report() -> int:
    return daily_report_send()
