from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "orderhub.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # the order-hook subscriber is listed in orderhub.orders.hooks.SUBSCRIBERS
        from . import tasks  # noqa: F401  (registers the periodic jobs)
