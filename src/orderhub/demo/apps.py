from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo company (``loaddemo``): may use every app; no app uses it."""

    name = "orderhub.demo"
    label = "demo"
    verbose_name = "Demo"
