from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import OrderPlan, RiskNotice, Routing, WorkCenter

for model in (WorkCenter, Routing, OrderPlan, RiskNotice):
    admin.site.register(model, ReadOnlyAdmin)
