"""The portal card of a staff order page: tracking link, one-click call log, opens and calls."""

from django import template

from orderhub.core import permissions
from orderhub.portal.coei import order_coei
from orderhub.portal.messages import MAX_LENGTH, thread
from orderhub.portal.selectors import order_portal_summary

from ..views.common import actor_for

register = template.Library()


@register.inclusion_tag("web/portal/_order_card.html", takes_context=True)
def order_portal_card(context, order):
    request = context["request"]
    allowed = permissions.allowed(actor_for(request), "portal.tracking")
    return {"order": order, "allowed": allowed, "csrf_token": context.get("csrf_token"),
            "summary": order_portal_summary(order) if allowed else None}


@register.inclusion_tag("web/portal/_messages_card.html", takes_context=True)
def order_messages_card(context, order):
    """The order's thread with the customer, and the reply form (one query)."""
    request = context["request"]
    allowed = permissions.allowed(actor_for(request), "portal.tracking")
    return {"order": order, "allowed": allowed, "csrf_token": context.get("csrf_token"),
            "thread": thread(order, for_customer=False) if allowed else [], "max_length": MAX_LENGTH}


@register.inclusion_tag("web/portal/_coei_card.html", takes_context=True)
def order_coei_card(context, order):
    """The order's COEI (seed 002) with its parts and the customer's survey answer."""
    request = context["request"]
    allowed = permissions.allowed(actor_for(request), "portal.tracking")
    return {"allowed": allowed, "c": order_coei(order) if allowed else None}
