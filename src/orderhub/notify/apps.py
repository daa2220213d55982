from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "orderhub.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from orderhub.celery import on_job_run
        from orderhub.orders import hooks

        from . import heartbeat, subscribers, tasks  # noqa: F401  (registers the periodic jobs)

        hooks.subscribe(subscribers.on_order_changes)
        on_job_run(heartbeat.job_ran)   # each periodic job's last run: /healthz, /metrics
