from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from .admin_site import ReadOnlyAdmin
from .models import ApiToken, AuditEvent, CalendarOverride, RoleSetting


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


# People and roles change only through the audited services (``core.services.user_save`` and
# ``role_setting_save``: the users and roles page, the API): here they are read-only.
User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class ReadOnlyUserAdmin(ReadOnlyAdmin, UserAdmin):
    list_display = ["username", "first_name", "email", "is_active", "is_superuser", "last_login"]


@admin.register(Group)
class ReadOnlyGroupAdmin(ReadOnlyAdmin, GroupAdmin):
    pass


@admin.register(RoleSetting)
class RoleSettingAdmin(ReadOnlyAdmin):
    list_display = ["role", "order_scope", "change_price"]
