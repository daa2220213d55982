from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeAppConfig(AppConfig):
    name = "orderhub.intake"
    label = "intake"
    verbose_name = _("Intake")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orderhub.orders.input_filters import register

        from . import tasks  # noqa: F401  (registers the periodic jobs)

        # remark tags and triage for orders entered by the web form and the API
        register("orderhub.intake.services.triage.filter_order_input")
