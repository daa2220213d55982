from django.contrib import admin

from orderhub.orders.admin import ReadOnlyAdmin

from .models import ApiToken, AuditEvent, CalendarOverride


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["subject_type", "subject_id", "seq", "at", "action", "actor_label", "ip", "forced"]
    list_filter = ["subject_type", "action", "actor_kind", "forced"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked"]


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(ReadOnlyAdmin):
    list_display = ["date", "is_workday", "note"]
