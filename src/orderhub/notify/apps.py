from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "orderhub.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # the order-hook subscriber is listed in orderhub.orders.hooks.SUBSCRIBERS
        from orderhub.celery import on_job_run

        from . import heartbeat, tasks  # noqa: F401  (registers the periodic jobs)

        on_job_run(heartbeat.job_ran)   # each periodic job's last run: /healthz, /metrics
