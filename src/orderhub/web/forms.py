"""Forms of the workspace: list filters, the new-order form, reasons for moves."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from orderhub.core.text import text_fault
from orderhub.orders.models import Order, Urgency
from orderhub.orders.selectors import OrderFilter


def one_line(value: str) -> None:
    """Refuse control characters (and NUL) in a one-line field."""
    fault = text_fault(value)
    if fault:
        raise ValidationError(fault, code="invalid_text")


def multi_line(value: str) -> None:
    """Refuse control characters other than tab and line breaks (and NUL)."""
    fault = text_fault(value, multiline=True)
    if fault:
        raise ValidationError(fault, code="invalid_text")

SORTS = {
    "created_at": _("Newest"), "stage_due_at": _("Deadline"), "required_date": _("Required date"),
    "number": _("Order number"), "total_amount": _("Total"),
}
YES_NO = [("", _("any")), ("1", _("yes")), ("0", _("no"))]


class OrderFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    workflow = forms.CharField(label=_("Workflow"), required=False, max_length=32)
    stage = forms.CharField(label=_("Stage"), required=False, max_length=40)
    customer = forms.CharField(label=_("Customer code"), required=False, max_length=32)
    urgency = forms.ChoiceField(label=_("Urgency"), required=False,
                                choices=[("", _("any"))] + list(Urgency.choices))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("any"))] + list(Order.Status.choices))
    tag = forms.CharField(label=_("Tag"), required=False, max_length=40)
    owner = forms.CharField(label=_("Owner"), required=False, max_length=150)
    overdue = forms.ChoiceField(label=_("Overdue"), required=False, choices=YES_NO)
    on_hold = forms.ChoiceField(label=_("On hold"), required=False, choices=YES_NO)
    mine = forms.BooleanField(label=_("Waiting on my roles"), required=False)
    channel = forms.CharField(label=_("Channel"), required=False, max_length=32)
    product = forms.CharField(label=_("Product"), required=False, max_length=64)
    ticket = forms.CharField(label=_("Ticket type"), required=False, max_length=40)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=list(SORTS.items()))
    desc = forms.BooleanField(label=_("Descending"), required=False)

    def order_filter(self, roles: frozenset[str]) -> OrderFilter:
        d = self.cleaned_data if self.is_valid() else {}
        yes_no = {"1": True, "0": False}
        return OrderFilter(
            search=d.get("q") or None, workflow=d.get("workflow") or None, stage=d.get("stage") or None,
            customer=(d.get("customer") or "").upper() or None, urgency=d.get("urgency") or None,
            status=d.get("status") or None, tag=(d.get("tag") or "").lstrip("#") or None,
            owner=d.get("owner") or None, overdue=yes_no.get(d.get("overdue")),
            on_hold=yes_no.get(d.get("on_hold")), channel=d.get("channel") or None,
            product=d.get("product") or None, ticket=d.get("ticket") or None,
        )

    def ordering(self) -> list[str]:
        d = self.cleaned_data if self.is_valid() else {}
        key = d.get("sort") or "created_at"
        desc = d.get("desc") if d.get("sort") else True
        return [("-" if desc else "") + key, "-pk" if desc else "pk"]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=True, validators=[multi_line],
                             error_messages={"required": _("Please give a reason.")})


class OrderHeaderForm(forms.Form):
    customer = forms.CharField(label=_("Customer code"), max_length=32, validators=[one_line])
    required_date = forms.DateField(label=_("Required date"),
                                    widget=forms.DateInput(attrs={"type": "date"}))
    promised_date = forms.DateField(label=_("Promised date"), required=False,
                                    widget=forms.DateInput(attrs={"type": "date"}))
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices, initial=Urgency.GREEN)
    workflow = forms.CharField(label=_("Workflow"), max_length=32, required=False, validators=[one_line])
    remarks = forms.CharField(label=_("Remarks"), required=False, max_length=2000, validators=[multi_line],
                              widget=forms.Textarea(attrs={"rows": 2}))
    tags = forms.CharField(label=_("Tags"), required=False, max_length=300, validators=[one_line],
                           help_text=_("Separated by spaces or commas, e.g. #rush #export"))

    def tag_list(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [t.lstrip("#") for t in raw.replace(",", " ").replace("，", " ").split() if t.lstrip("#")]


class OrderEditForm(forms.Form):
    """An existing order's header and ship-to (``orders.services.order_update``)."""

    required_date = forms.DateField(label=_("Required date"), widget=forms.DateInput(attrs={"type": "date"}))
    promised_date = forms.DateField(label=_("Promised date"), required=False,
                                    widget=forms.DateInput(attrs={"type": "date"}))
    urgency = forms.ChoiceField(label=_("Urgency"), choices=Urgency.choices)
    remarks = forms.CharField(label=_("Remarks"), required=False, max_length=5000, validators=[multi_line])
    tags = forms.CharField(label=_("Tags"), required=False, max_length=300, validators=[one_line],
                           help_text=_("Separated by spaces or commas, e.g. #rush #export"))
    ship_to_contact = forms.CharField(label=_("Ship-to contact"), required=False, max_length=100,
                                      validators=[one_line])
    ship_to_phone = forms.CharField(label=_("Ship-to phone"), required=False, max_length=32, validators=[one_line])
    ship_to_address = forms.CharField(label=_("Ship-to address"), required=False, max_length=300,
                                      validators=[one_line])
    reason = forms.CharField(label=_("Reason for the change"), required=False, max_length=1000,
                             validators=[multi_line])

    def changes(self) -> dict:
        d = self.cleaned_data
        tags = sorted({t.lstrip("#") for t in (d.get("tags") or "").replace(",", " ").replace("，", " ").split()
                       if t.lstrip("#")})
        return {"required_date": d["required_date"], "promised_date": d.get("promised_date"),
                "urgency": d["urgency"], "remarks": d.get("remarks") or "", "tags": tags,
                "ship_to_contact": d.get("ship_to_contact") or "", "ship_to_phone": d.get("ship_to_phone") or "",
                "ship_to_address": d.get("ship_to_address") or ""}
