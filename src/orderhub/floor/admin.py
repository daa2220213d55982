from django.contrib import admin

from orderhub.core.admin_site import ReadOnlyAdmin

from .models import FloorTicket, ProblemType


@admin.register(ProblemType)
class ProblemTypeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "default_role", "active", "position")


@admin.register(FloorTicket)
class FloorTicketAdmin(ReadOnlyAdmin):
    list_display = ("ticket", "problem_type", "severity", "product")
