"""A customer's price list (settings, issue 19.6): every row with its quantity break and
validity, adding a break, changing a row's validity, deleting a row; saved through
``catalog.services.customer_prices_save`` (the whole list, audited in the customer's history)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.catalog.prices import customer_prices
from orderhub.catalog.services import customer_prices_save
from orderhub.core.errors import DomainError

from .common import actor_for, field_errors, requires


def _row(r: Any) -> dict[str, Any]:
    return {"sku": r.product.sku, "min_qty": r.min_qty, "unit_price": r.unit_price,
            "valid_from": r.valid_from, "valid_to": r.valid_to}


def _date(raw: str) -> Any:
    raw = raw.strip()
    try:
        return parse_date(raw) if raw else None
    except ValueError:
        return None


def _edited(post: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list after the posted action: ``add`` a break, ``dates`` of row ``index``, ``delete``."""
    action, raw = post.get("action"), post.get("index", "")
    index = int(raw) if raw.isdecimal() and int(raw) < len(rows) else None
    if action == "add":
        return [*rows, {"sku": post.get("sku", "").strip(), "min_qty": post.get("min_qty", "").strip() or "0",
                        "unit_price": post.get("unit_price", "").strip(),
                        "valid_from": _date(post.get("valid_from", "")), "valid_to": _date(post.get("valid_to", ""))}]
    if index is None:
        return rows
    if action == "delete":
        return rows[:index] + rows[index + 1:]
    rows[index] = {**rows[index], "valid_from": _date(post.get("valid_from", "")),
                   "valid_to": _date(post.get("valid_to", ""))}
    return rows


@requires("settings.customers")
def customer_prices_edit(request, code: str):
    customer = Customer.objects.filter(code=code).first()
    if customer is None:
        raise Http404(code)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            rows = _edited(request.POST, [_row(r) for r in customer_prices(customer)])
            customer_prices_save(customer=customer.code, rows=rows, actor=actor_for(request))
        except DomainError as e:
            errors = {"general": [str(m) for ms in field_errors(e).values() for m in ms] or [e.message]}
        else:
            messages.success(request, _("The price list is saved."))
            return redirect("web:config_customer_prices", code=customer.code)
    return render(request, "web/config/prices.html", {
        "customer": customer, "prices": customer_prices(customer), "errors": errors,
    }, status=400 if errors else 200)
