"""Read-only admin views: orders change only through services (API, UI, CLI)."""

from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import Attachment, Order, OrderLine, Snapshot, StageInstance


class LineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ["line_no", "product", "qty", "unit", "base_qty", "unit_price", "amount", "remarks"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "customer", "workflow", "stage", "urgency", "status", "on_hold",
                    "stage_due_at", "required_date", "total_amount"]
    list_filter = ["workflow__code", "stage", "urgency", "status", "on_hold", "channel"]
    search_fields = ["number", "external_ref", "customer__code", "customer__name"]
    list_select_related = ["customer", "workflow"]
    inlines = [LineInline]


@admin.register(StageInstance)
class StageInstanceAdmin(ReadOnlyAdmin):
    list_display = ["order", "stage", "owner_role", "entered_at", "due_at", "exited_at", "forced"]


@admin.register(Snapshot)
class SnapshotAdmin(ReadOnlyAdmin):
    list_display = ["order", "version", "stage", "taken_at", "sha256"]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ["order", "name", "content_type", "size", "uploaded_at", "uploaded_by"]
