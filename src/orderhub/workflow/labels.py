"""What people call the names a guard or condition may use, and their types: the field
pickers of the workflow and rule editors show these (and ``GET /api/workflows/symbols``)."""

from django.utils.translation import gettext_lazy as _

from orderhub.core.expressions import BOOLEAN, DATETIME, NUMBER, STRING, STRING_LIST

from .spec import LINE_SYMBOLS, ORDER_SYMBOLS

# The one table of what people call these names (the editors' pickers, rule firings' inputs,
# guard test values, blocked reasons); ``web.labels`` reads it, it keeps no copy.
SYMBOL_LABELS = {   # the order's names (workflow.spec.ORDER_SYMBOLS)
    "total": _("Order amount (CNY)"),
    "qty": _("Quantity (base units)"),
    "line_count": _("Number of lines"),
    "credit_limit": _("Customer credit limit"),
    "credit_available": _("Customer credit available"),
    "unpaid": _("Customer unpaid amount"),
    "hours_to_due": _("Hours to the required date"),
    "urgency": _("Urgency (red / yellow / green)"),
    "channel": _("Channel"),
    "customer": _("Customer code"),
    "customer_tier": _("Customer tier"),
    "stage": _("Current stage"),
    "tags": _("Tags"),
}
LINE_LABELS = {     # each line's names (LINE_SYMBOLS beyond the order's; ``qty`` is the line's)
    "sku": _("Line: product code"),
    "qty": _("Line: quantity (base units)"),
    "stock": _("Line: stock available"),
    "amount": _("Line: amount"),
    "unit_price": _("Line: unit price"),
}
EVENT_LABELS = {    # what a rule's condition sees of what just happened (rules.spec.EVENT_SYMBOLS)
    "from_stage": _("From stage"),
    "to_stage": _("To stage"),
    "overdue_stage": _("Overdue stage"),
    "forced": _("Forced past the guards"),
    "held": _("Put on hold by this change"),
    "changed_fields": _("Changed fields"),
    "added_tags": _("Added tags"),
}
# every name above by itself (an order's ``qty`` over a line's), plus the keys records carry
FACT_LABELS = {
    **LINE_LABELS, **SYMBOL_LABELS, **EVENT_LABELS,
    "order": _("Order"),
    "tag": _("Tag"),
    "field": _("Field"),
}
TYPE_LABELS = {
    NUMBER: _("number"), STRING: _("text"), BOOLEAN: _("yes/no"), STRING_LIST: _("list of text"),
    DATETIME: _("date and time"),
}


def symbol_choices(*, line: bool = False, extra: dict | None = None, extra_labels: dict | None = None
                   ) -> list[dict[str, str]]:
    """[{name, label, type}] for a picker: the order's names, then (``line``) each line's, then
    ``extra`` (a rule's event names)."""
    out = [{"name": n, "label": str(SYMBOL_LABELS.get(n, n)), "type": str(TYPE_LABELS.get(t, t)),
            "scope": "order"} for n, t in ORDER_SYMBOLS.items()]
    if line:
        out += [{"name": n, "label": str(LINE_LABELS[n]), "type": str(TYPE_LABELS.get(LINE_SYMBOLS[n])),
                 "scope": "line"} for n in LINE_LABELS]
    for n, t in (extra or {}).items():
        out.append({"name": n, "label": str((extra_labels or {}).get(n, n)), "type": str(TYPE_LABELS.get(t, t)),
                    "scope": "event"})
    return out
