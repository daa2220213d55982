from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeAppConfig(AppConfig):
    name = "orderhub.intake"
    label = "intake"
    verbose_name = _("Intake")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the periodic jobs)
