from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import DocumentTemplate, Letterhead, Shipment, ShipmentLine


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyAdmin):
    list_display = ("number", "order", "status", "carrier", "waybill", "notice_at", "shipped_at")
    search_fields = ("number", "order__number", "waybill")


admin.site.register(ShipmentLine, ReadOnlyAdmin)
admin.site.register(Letterhead, ReadOnlyAdmin)
admin.site.register(DocumentTemplate, ReadOnlyAdmin)
