from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlanningConfig(AppConfig):
    name = "orderhub.planning"
    label = "planning"
    verbose_name = _("Capacity planning")

    def ready(self) -> None:
        from orderhub.orders.promising import register_promiser

        from . import promise, tasks  # noqa: F401  (tasks registers the periodic jobs)

        register_promiser(promise.promise_at_confirmation)
