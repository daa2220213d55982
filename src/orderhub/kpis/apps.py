from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    name = "orderhub.kpis"
    label = "kpis"
    verbose_name = _("Key figures")

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the periodic job)
