from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "orderhub.rules"
    label = "rules"
    verbose_name = "Rules and escalation"
