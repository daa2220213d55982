"""The notification pieces other pages include: an order's delivery history."""

from django import template

from orderhub.notify.selectors import order_deliveries as _order_deliveries

register = template.Library()


@register.inclusion_tag("web/notify/_order_deliveries.html")
def order_deliveries(order):
    """Every message about the order with its attempts (two queries)."""
    return {"deliveries": _order_deliveries(order.pk)}
