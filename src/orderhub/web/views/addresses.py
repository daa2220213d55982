"""A customer's ship-to addresses (settings): add, change, make the default, delete; saved
through ``catalog.services.customer_address_save`` / ``customer_address_delete`` (audited in
the customer's history)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.catalog.selectors import customer_addresses
from orderhub.catalog.services import customer_address_delete, customer_address_save
from orderhub.core.errors import DomainError

from .common import actor_for, field_errors, requires

FIELDS = ("label", "receiver", "phone", "address")


@requires("settings.customers")
def customer_addresses_edit(request, code: str):
    customer = Customer.objects.filter(code=code).first()
    if customer is None:
        raise Http404(code)
    errors: dict[str, list[str]] = {}
    editing: int | None = None       # the address whose form shows the errors (None: the new one)
    values: dict[str, str] = {}
    if request.method == "POST":
        p = request.POST
        raw_id = p.get("id", "")
        editing = int(raw_id) if raw_id.isdecimal() else None
        try:
            if p.get("action") == "delete" and editing is not None:
                customer_address_delete(customer=customer.code, address_id=editing, actor=actor_for(request))
                messages.success(request, _("The address is deleted."))
                return redirect("web:config_customer_addresses", code=customer.code)
            values = {f: p.get(f, "").strip() for f in FIELDS}
            data: dict = {**values}
            if p.get("is_default") == "1":
                data["is_default"] = True
            customer_address_save(customer=customer.code, address_id=editing, data=data, actor=actor_for(request))
        except DomainError as e:
            errors = field_errors(e)
            if "general" in errors or not e.problems:
                errors.setdefault("general", [e.message])
        else:
            messages.success(request, _("The address is saved."))
            return redirect("web:config_customer_addresses", code=customer.code)
    return render(request, "web/config/addresses.html", {
        "customer": customer, "addresses": customer_addresses(customer), "errors": errors,
        "editing": editing, "values": values, "posted": request.method == "POST",
    }, status=400 if errors else 200)
