from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "orderhub.shipping"
    label = "shipping"
    verbose_name = "Shipping"

    def ready(self) -> None:
        from orderhub.notify import attachments

        from . import documents

        # the delivery note / order confirmation attached to the notices, made at send time
        attachments.register(documents.ATTACHMENT, documents.make_attachment)
        from . import tasks  # noqa: F401  (registers the carrier breaker's periodic check)
