from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import Reservation, StockLevel, StockMove, Warehouse


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["product", "warehouse", "on_hand", "reserved"]
    list_select_related = ["product", "warehouse"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["order", "product", "qty", "status", "created_at", "created_by",
                    "release_condition", "expires_at"]


admin.site.register(Warehouse, ReadOnlyAdmin)
admin.site.register(StockMove, ReadOnlyAdmin)
