"""Periodic jobs of the KPI app: the daily report, mailed once a day at the configured time,
and the daily rollup of the figures that read many rows (``rollup``)."""

from orderhub.celery import periodic

from .rollup import kpi_rollup_refresh
from .services import daily_report_send

ROLLUP_SECONDS = 600
ROLLUP_MAX_DAYS = 400   # a first run rolls up a year's history; later runs a day or three


@periodic(seconds=60, name="kpis.mail_daily_report")
def mail_daily_report() -> int:
    return daily_report_send()


@periodic(seconds=ROLLUP_SECONDS, name="kpis.rollup")
def rollup() -> int:
    return kpi_rollup_refresh(max_days=ROLLUP_MAX_DAYS)
