from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import Contact, InboundCall, Visit


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("name", "customer", "email", "mobile", "is_active", "last_login_at")
    search_fields = ("name", "email", "mobile", "customer__code")


@admin.register(Visit)
class VisitAdmin(ReadOnlyAdmin):
    list_display = ("order", "customer", "kind", "at")


@admin.register(InboundCall)
class InboundCallAdmin(ReadOnlyAdmin):
    list_display = ("order", "customer", "at", "logged_by")
