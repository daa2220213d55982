from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "orderhub.inventory"
    label = "inventory"
    verbose_name = "Inventory"
