from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "orderhub.shipping"
    label = "shipping"
    verbose_name = "Shipping"
