"""The order page's shipments card (``{% order_shipments %}``)."""

from django import template

from orderhub.core import permissions
from orderhub.shipping.models import Shipment
from orderhub.shipping.selectors import line_progress

from ..views.common import actor_for

register = template.Library()


@register.inclusion_tag("web/shipping/_order_shipments.html", takes_context=True)
def order_shipments(context, order):
    """Per line what is planned, shipped and still open, the order's shipments, the form to plan
    one (for roles that ship) and the order's printable documents."""
    actor = actor_for(context["request"])
    progress = line_progress(order, context.get("lines"))
    return {
        "order": order, "progress": progress, "csrf_token": context.get("csrf_token"),
        "shipments": list(Shipment.objects.filter(order=order).order_by("seq")),
        "may_ship": permissions.allowed(actor, "shipping.ship") and order.status != "cancelled"
        and any(p["open"] > 0 for p in progress),
        "may_print": permissions.allowed(actor, "documents.print"),
    }
