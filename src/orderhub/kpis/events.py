"""Notification events of the KPI app. ``kpis.daily_report`` (DAILY_REPORT): the daily report
mailed to the configured roles (context: subject, message; the PDF attached)."""

DAILY_REPORT = "kpis.daily_report"
SETTING_SAVED = "kpis.daily_report_setting_saved"
ALL = (DAILY_REPORT, SETTING_SAVED)
