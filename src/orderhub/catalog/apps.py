from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "orderhub.catalog"
    label = "catalog"
    verbose_name = "Catalog"
