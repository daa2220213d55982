from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "orderhub.shipping"
    label = "shipping"
    verbose_name = "Shipping"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the carrier breaker's periodic check)
