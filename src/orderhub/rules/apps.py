from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "orderhub.rules"
    label = "rules"
    verbose_name = _("Rules and escalation")

    def ready(self) -> None:
        from orderhub.orders.hooks import subscribe

        from . import engine, jobs, ladders  # noqa: F401  (jobs registers the periodic jobs)

        subscribe(ladders.on_order_changes)
        subscribe(engine.on_order_changes)
