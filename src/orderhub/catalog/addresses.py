"""Ship-to addresses of customers (issue 15.4): several per customer, at most one default.

The writers are re-exported by ``catalog.services`` (the one way in); each is audited in the
customer's history."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.audited import apply_fields, record_changes
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import column_fault

from .models import Customer, CustomerAddress

ADDRESS_FIELDS = ("label", "receiver", "phone", "address", "is_default")


def _customer(code: str) -> Customer:
    customer = Customer.objects.select_for_update().filter(code=code.strip().upper()).first()
    if customer is None:
        raise NotFound("customer_not_found", _("Unknown customer '%(code)s'.") % {"code": code})
    return customer


def _address(customer: Customer, address_id: int) -> CustomerAddress:
    addr = CustomerAddress.objects.filter(customer=customer, pk=address_id).first()
    if addr is None:
        raise NotFound("address_not_found", _("The customer has no such address."))
    return addr


def _check(data: dict[str, Any]) -> None:
    bad = [Problem("invalid", fault, field=name) for name, value in data.items()
           if name in ADDRESS_FIELDS and (fault := column_fault(CustomerAddress, name, value))]
    if "address" in data and not str(data["address"] or "").strip():
        bad.append(Problem("required", _("Enter the address."), field="address"))
    if bad:
        raise ValidationFailed("invalid", bad[0].message, problems=bad)


def _shown(addr: CustomerAddress) -> dict[str, Any]:
    return {"id": addr.pk, "label": addr.label, "address": addr.address}


@transaction.atomic
def customer_address_save(*, customer: str, address_id: int | None = None, data: dict[str, Any],
                          actor: Actor) -> CustomerAddress:
    """Add (``address_id`` None) or change a ship-to address of ``customer``. Made the default
    (``is_default``) it takes over from the previous default; a customer's first address is its
    default."""
    if not actor.has_perm("catalog.change_customer"):
        raise PermissionDenied("permission_denied", _("You may not change customers."))
    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items() if k in ADDRESS_FIELDS}
    if address_id is None:
        data.setdefault("address", "")
    _check(data)
    cust = _customer(customer)   # locked: default changes of one customer go one at a time
    created = address_id is None
    addr = CustomerAddress(customer=cust) if address_id is None else _address(cust, address_id)
    if created and not CustomerAddress.objects.filter(customer=cust).exists():
        data["is_default"] = True
    if addr.is_default and data.get("is_default") is False:
        data.pop("is_default")   # the default moves by making another one the default
    changes = apply_fields(addr, {f: data[f] for f in ADDRESS_FIELDS if f in data})
    if addr.is_default:
        CustomerAddress.objects.filter(customer=cust, is_default=True).exclude(pk=addr.pk).update(is_default=False)
    if created or changes:
        addr.save()
    record_changes(subject_type="customer", subject_id=cust.pk, created=created,
                   action="customer.address_added" if created else "customer.address_changed", actor=actor,
                   changes=changes if not created else {"address": [None, addr.address]},
                   data={"code": cust.code, **_shown(addr)})
    return addr


@transaction.atomic
def customer_address_delete(*, customer: str, address_id: int, actor: Actor) -> None:
    """Delete a ship-to address (orders keep their own copy); when it was the default, the
    oldest remaining address becomes the default."""
    if not actor.has_perm("catalog.change_customer"):
        raise PermissionDenied("permission_denied", _("You may not change customers."))
    cust = _customer(customer)
    addr = _address(cust, address_id)
    shown = _shown(addr)
    was_default = addr.is_default
    addr.delete()
    if was_default:
        nxt = CustomerAddress.objects.filter(customer=cust).order_by("pk").first()
        if nxt is not None:
            CustomerAddress.objects.filter(pk=nxt.pk).update(is_default=True)
    record_changes(subject_type="customer", subject_id=cust.pk, action="customer.address_deleted", actor=actor,
                   changes={"address": [shown["address"], None]}, data={"code": cust.code, **shown})

