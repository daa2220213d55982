from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "orderhub.workflow"
    label = "workflow"
    verbose_name = "Workflow"
