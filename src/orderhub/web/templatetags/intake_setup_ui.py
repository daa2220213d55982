"""Intake set-up pieces other pages include: a customer's aliases on the customer page."""

from django import template

from orderhub.intake.models import Channel
from orderhub.intake.services.channels import customer_aliases

register = template.Library()
BLANK_ROWS = 3


@register.inclusion_tag("web/intake/_customer_aliases.html", takes_context=True)
def customer_alias_form(context, customer):
    rows = [{"channel": a.channel, "value": a.value} for a in customer_aliases(customer.code)]
    rows += [{"channel": "", "value": ""} for _ in range(BLANK_ROWS)]
    return {"customer": customer, "rows": rows, "csrf_token": context.get("csrf_token"),
            "channels": list(Channel.objects.order_by("code").values_list("code", "name"))}
