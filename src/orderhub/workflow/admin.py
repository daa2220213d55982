from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import WorkflowDefinition


@admin.register(WorkflowDefinition)
class WorkflowDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["code", "version", "name", "is_current", "created_at", "created_by"]
