"""Change requests on the order page (issue 15.2): "申请变更" (the proposed header and line
changes in one form, ``change_request_raise``) and a request's page (its impact, approvers and
decisions; approve or reject with a comment, ``change_request_decide``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from orderhub.catalog.selectors import customer_addresses
from orderhub.core import permissions
from orderhub.core.errors import DomainError, NotFound
from orderhub.orders import services
from orderhub.orders.change_request_reads import change_request_of
from orderhub.orders.editing import edit_refusal
from orderhub.orders.locks import order_lines
from orderhub.orders.models import Urgency
from orderhub.orders.selectors import get_order

from ..forms import OrderEditForm
from .common import actor_for, field_errors, requires
from .order_lines import _place, _rows

HEADER_LABELS = {
    "required_date": _lazy("Required date"), "promised_date": _lazy("Promised date"), "urgency": _lazy("Urgency"),
    "remarks": _lazy("Remarks"), "tags": _lazy("Tags"), "ship_to_contact": _lazy("Contact"),
    "ship_to_phone": _lazy("Phone"), "ship_to_address": _lazy("Address"),
}
DECISIONS = {"approved": _lazy("Approved"), "rejected": _lazy("Declined")}


def _value(key: str, value: Any) -> Any:
    if value in (None, ""):
        return _("(empty)")
    if key in ("required_date", "promised_date"):
        return date.fromisoformat(value)
    if key == "urgency":
        return Urgency(value).label
    if key == "tags":
        return " ".join(f"#{t}" for t in value)
    return value


def _qty(state: dict[str, Any] | None) -> str:
    if not state:
        return "—"
    return f"{Decimal(str(state['qty'])).normalize():f} {state['unit']} × {Decimal(str(state['unit_price'])):.2f}"


def display(cr: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a request: words and dates, never codes or ISO text."""
    impact = cr["impact"]
    return {
        "header": [(HEADER_LABELS.get(k, k), _value(k, v)) for k, v in cr["header"].items()],
        "lines": [{"line_no": ln["line_no"], "sku": ln["sku"], "before": _qty(ln["before"]), "after": _qty(ln["after"])}
                  for ln in impact.get("lines", [])],
        "deadlines": [{"label": HEADER_LABELS[d["field"]], "before": _value(d["field"], d["before"]),
                       "after": _value(d["field"], d["after"]), "days": d["days"]} for d in impact.get("deadlines", [])],
        "decisions": [{**d, "label": DECISIONS.get(d["decision"], ""), "at": datetime.fromisoformat(d["at"])}
                      for d in cr["decisions"]],
    }


def _order(request, number: str):
    try:
        return get_order(number, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e


def _header(form: OrderEditForm, order, post) -> dict:
    initial = {"required_date": order.required_date, "promised_date": order.promised_date,
               "urgency": order.urgency, "remarks": order.remarks, "tags": sorted(set(order.tags)),
               "ship_to_contact": order.ship_to_contact, "ship_to_phone": order.ship_to_phone,
               "ship_to_address": order.ship_to_address}
    changes = {k: v for k, v in form.changes().items() if v != initial.get(k)}
    book = post.get("ship_to_address_id", "")
    if book.isdecimal():
        changes = {k: v for k, v in changes.items() if not k.startswith("ship_to_")}
        changes["ship_to_address_id"] = int(book)
    return changes


@requires("orders.change_request")
def change_request_new(request, number: str):
    """The proposed header and line changes in one form; saved as a pending change request."""
    actor = actor_for(request)
    order = _order(request, number)
    refusal = edit_refusal(order)
    may_price = permissions.allowed(actor, "orders.change_price")
    lines = order_lines(order)
    post = request.POST if request.method == "POST" else {}
    rows, new_rows, changes, where = _rows(post, lines, may_price)
    initial = {"required_date": order.required_date, "promised_date": order.promised_date, "urgency": order.urgency,
               "remarks": order.remarks, "tags": " ".join(f"#{t}" for t in order.tags),
               "ship_to_contact": order.ship_to_contact, "ship_to_phone": order.ship_to_phone,
               "ship_to_address": order.ship_to_address}
    form = OrderEditForm(request.POST or None, initial=initial)
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    invalid = any(e for r in [*rows, *new_rows] for e in r["errs"].values())
    if request.method == "POST" and refusal is None and not invalid:
        if not form.is_valid():
            errors = {k: list(v) for k, v in form.errors.items()}
        else:
            try:
                cr = services.change_request_raise(order=number, actor=actor, header=_header(form, order, post),
                                                   lines=changes, reason=form.cleaned_data["reason"])
            except DomainError as e:
                line_problems = [p for p in e.problems or [] if (p.field or "").startswith("changes[")]
                errors = field_errors(e) if not line_problems else {}
                general = _place(e, rows, new_rows, where) if line_problems else [e.message]
            else:
                messages.success(request, _("Change request submitted; the order is frozen until it is decided."))
                return redirect(reverse("web:change_request", args=[number, cr.pk]))
    invalid = invalid or bool(errors) or bool(general)
    return render(request, "web/change_request_new.html", {
        "order": order, "rows": rows, "new_rows": new_rows, "may_price": may_price, "refusal": refusal,
        "general": general, "form": form, "errors": errors, "urgencies": form.fields["urgency"].choices,
        "addresses": customer_addresses(order.customer_id),
    }, status=400 if invalid and request.method == "POST" else (409 if refusal and request.method == "POST" else 200))


@requires("orders.view")
def change_request_page(request, number: str, pk: int):
    """A request's proposed changes, impact, approvers and decisions; approve or reject."""
    actor = actor_for(request)
    order = _order(request, number)
    try:
        cr = change_request_of(number, pk, actor)
    except NotFound as e:
        raise Http404(e.message) from e
    error = ""
    if request.method == "POST":
        if not permissions.allowed(actor, "orders.change_decide"):
            raise Http404
        approve = request.POST.get("decision") == "approve"
        try:
            services.change_request_decide(request=pk, approve=approve, comment=request.POST.get("comment", ""),
                                           actor=actor, role=request.POST.get("role") or None)
        except DomainError as e:
            error = e.message
        else:
            messages.success(request, _("Approved.") if approve else _("Rejected; the requester will receive the reason."))
            return redirect(reverse("web:change_request", args=[number, pk]))
        cr = change_request_of(number, pk, actor)
    return render(request, "web/change_request.html", {"order": order, "cr": cr, "show": display(cr), "error": error,
                                                       "may_decide": permissions.allowed(actor, "orders.change_decide")},
                  status=409 if error else 200)
