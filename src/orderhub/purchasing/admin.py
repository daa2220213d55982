from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequest,
    Receipt,
    Supplier,
    SupplierItem,
)

for model in (Supplier, SupplierItem, PurchaseRequest, PurchaseOrder, PurchaseOrderLine, Receipt):
    admin.site.register(model, ReadOnlyAdmin)
