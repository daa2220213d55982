from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import BomItem, Customer, Product, Substitute, UnitConversion


class BomInline(admin.TabularInline):
    model = BomItem
    fk_name = "parent"
    extra = 0


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "tier", "credit_limit", "unpaid_amount", "unpaid_external", "sales_owner"]
    search_fields = ["code", "name"]


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ["sku", "name", "unit", "list_price", "safety_stock", "moq", "lead_time_days"]
    search_fields = ["sku", "name"]
    inlines = [BomInline]


admin.site.register(UnitConversion, ReadOnlyAdmin)
admin.site.register(Substitute, ReadOnlyAdmin)
