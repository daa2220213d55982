from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "orderhub.rules"
    label = "rules"
    verbose_name = _("Rules and escalation")

    def ready(self) -> None:
        # the order-hook subscribers (ladders, engine) are listed in orderhub.orders.hooks.SUBSCRIBERS
        from . import tasks  # noqa: F401  (registers the periodic jobs)
