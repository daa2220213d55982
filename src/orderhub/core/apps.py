from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "orderhub.core"
    label = "core"
    verbose_name = "OrderHub core"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the production start-up checks)
            tasks,  # noqa: F401  (registers the periodic audit checkpoint)
        )
