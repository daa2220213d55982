"""Master-data writes: customers and products (with BOM and unit conversions), audited."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.audited import apply_fields, record_changes
from orderhub.core.canonical import to_plain
from orderhub.core.errors import PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import column_fault, unstorable

from .addresses import customer_address_delete, customer_address_save
from .models import BomItem, Customer, Product, UnitConversion
from .prices import customer_prices_save

# ship-to addresses are written in ``addresses`` and reached here, with the other master data
__all__ = ["customer_address_delete", "customer_address_save", "customer_prices_save", "customer_save",
           "customer_unpaid_set", "product_save", "register_credit_listener", "sales_owner_by_username"]

# Who hears that a customer's credit figures (``credit_limit``, ``unpaid_amount``) changed, in
# the save's transaction: filled at start-up by the layers above (``OrdersConfig.ready``
# registers the credit breaker), the way lower layers reach upper ones here.
CreditListener = Callable[[int, Actor], None]
_credit_listeners: list[CreditListener] = []


def register_credit_listener(fn: CreditListener) -> None:
    """Hear of every change of a customer's credit figures (called with the customer id and actor)."""
    if fn not in _credit_listeners:
        _credit_listeners.append(fn)

CUSTOMER_FIELDS = ("name", "tier", "credit_limit", "unpaid_external", "sales_owner", "mobile", "email",
                   "wechat_openid", "is_active", "tax_no", "bank_name", "bank_account",
                   "billing_address", "billing_phone")
PRODUCT_FIELDS = ("name", "unit", "unit_decimals", "kg_per_unit", "list_price", "safety_stock", "moq",
                  "lead_time_days", "is_active")


def _username(user: Any) -> str | None:
    return user.get_username() if user else None


def _apply(obj: Any, fields: tuple[str, ...], data: dict[str, Any]) -> dict[str, list]:
    """Set the given fields, returning {field: [before, after]} for those that changed (a sales
    owner by login name)."""
    return apply_fields(obj, {f: data[f] for f in fields if f in data}, shown={"sales_owner": _username})


def _check_values(model: type[Model], data: dict[str, Any]) -> None:
    """Refuse, naming each field, what its column cannot hold, instead of a database error
    (a 500)."""
    bad = [Problem("invalid", fault, field=name) for name, value in data.items()
           if (fault := column_fault(model, name, value))]
    if bad:
        raise ValidationFailed("invalid", bad[0].message, problems=bad)


@transaction.atomic
def customer_save(*, code: str, data: dict[str, Any], actor: Actor) -> Customer:
    """Create or change a customer; every changed field is in the customer's history."""
    if not actor.has_perm("catalog.change_customer"):
        raise PermissionDenied("permission_denied", _("You may not change customers."))
    code = code.strip().upper()
    _check_values(Customer, {"code": code, **data})
    if not code:
        raise ValidationFailed("invalid", _("A customer needs a code."),
                               problems=[Problem("required", _("A customer needs a code."), field="code")])
    for money in ("credit_limit", "unpaid_external"):
        if money in data and data[money] is not None and Decimal(data[money]) < 0:
            raise ValidationFailed("invalid", _("Amounts cannot be negative."),
                                   problems=[Problem("negative", _("Amounts cannot be negative."), field=money)])
    customer = Customer.objects.select_for_update().filter(code=code).first()
    created = customer is None
    if customer is None:
        if not data.get("name"):
            raise ValidationFailed("invalid", _("A customer needs a name."),
                                   problems=[Problem("required", _("A customer needs a name."), field="name")])
        customer = Customer(code=code)
    external_before = customer.unpaid_external
    changes = _apply(customer, CUSTOMER_FIELDS, data)
    if "unpaid_external" in changes:  # the total moves by as much; OrderHub's invoices stay in it
        changes.update(_apply(customer, ("unpaid_amount",), {
            "unpaid_amount": customer.unpaid_amount + customer.unpaid_external - external_before}))
    if created or changes:
        customer.save()
    record_changes(subject_type="customer", subject_id=customer.pk, created=created,
                   action="customer.created" if created else "customer.changed", actor=actor,
                   changes=changes, data={"code": code})
    if not created and ("credit_limit" in changes or "unpaid_amount" in changes):
        for fn in _credit_listeners:
            fn(customer.pk, actor)
    return customer


def customer_unpaid_set(*, customer_id: int, invoiced: Decimal, actor: Actor, reason: str) -> Customer:
    """Set what the customer owes on the open invoices OrderHub issued (``invoiced``:
    ``finance.services.credit`` computes it, in the caller's transaction, after checking its own
    permission): the unpaid amount becomes that plus what they owe outside OrderHub
    (``unpaid_external``, never touched here). Recorded in the customer's history when it
    changes, and the credit listeners (the credit breaker) told. Locks the customer row."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id)
        changes = _apply(customer, ("unpaid_amount",), {"unpaid_amount": invoiced + customer.unpaid_external})
        if changes:
            customer.save(update_fields=["unpaid_amount"])
        record_changes(subject_type="customer", subject_id=customer.pk, action="customer.changed",
                       actor=actor, changes=changes, data={"code": customer.code, "reason": reason})
        if changes:  # the credit breaker, in this transaction (register_credit_listener)
            for fn in _credit_listeners:
                fn(customer.pk, actor)
        return customer


@transaction.atomic
def product_save(*, sku: str, data: dict[str, Any], actor: Actor,
                 bom: list[tuple[str, Decimal]] | None = None,
                 conversions: list[tuple[str, Decimal]] | None = None) -> Product:
    """Create or change a product; ``bom`` (component sku, qty per unit) and ``conversions``
    (unit, base units per unit) replace the current lists when given."""
    if not actor.has_perm("catalog.change_product"):
        raise PermissionDenied("permission_denied", _("You may not change products."))
    sku = sku.strip()
    _check_values(Product, {"sku": sku, **data})
    problems = []
    if not sku:
        problems.append(Problem("required", _("A product needs a SKU."), field="sku"))
    for name in ("list_price", "safety_stock", "moq", "kg_per_unit"):
        if data.get(name) is not None and Decimal(data[name]) < 0:
            problems.append(Problem("negative", _("This value cannot be negative."), field=name))
    product = Product.objects.select_for_update().filter(sku=sku).first()
    created = product is None
    if created and not (data.get("name") and data.get("unit")):
        problems.append(Problem("required", _("A product needs a name and a base unit."), field="name"))
    components = _bom_components(sku, bom, problems) if bom else {}
    problems.extend(_conversion_problems(conversions or []))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    if product is None:
        product = Product(sku=sku)
    changes = _apply(product, PRODUCT_FIELDS, data)
    if created or changes:
        product.save()
    if bom is not None:
        _replace_bom(product, bom, components, changes)
    if conversions is not None:
        _replace_conversions(product, conversions, changes)
    record_changes(subject_type="product", subject_id=product.pk, created=created,
                   action="product.created" if created else "product.changed", actor=actor,
                   changes=changes, data={"sku": sku})
    return product


def _bom_components(sku: str, bom: list[tuple[str, Decimal]],
                    problems: list[Problem]) -> dict[str, Product]:
    """The components ``bom`` names, by sku; what is wrong with a row goes to ``problems``."""
    components = {p.sku: p for p in Product.objects.filter(
        sku__in=[c for c, _q in bom if not column_fault(Product, "sku", c)])}
    for i, (comp, qty) in enumerate(bom):
        if comp not in components:
            problems.append(Problem("unknown_sku", _("Unknown SKU '%(sku)s'.") % {"sku": comp},
                                    field=f"bom[{i}].component"))
        elif comp == sku:
            problems.append(Problem("bom_cycle", _("A product cannot contain itself."),
                                    field=f"bom[{i}].component"))
        if qty is None or qty <= 0:
            problems.append(Problem("invalid_quantity", _("Quantity must be greater than zero."),
                                    field=f"bom[{i}].qty"))
        elif fault := column_fault(BomItem, "qty_per_unit", qty):
            problems.append(Problem("invalid_quantity", fault, field=f"bom[{i}].qty"))
    return components


def _conversion_problems(conversions: list[tuple[str, Decimal]]) -> list[Problem]:
    problems = []
    for i, (unit, factor) in enumerate(conversions):
        if not unit.strip() or factor is None or factor <= 0:
            problems.append(Problem("invalid_conversion", _("A conversion needs a unit and a factor above zero."),
                                    field=f"conversions[{i}]"))
        elif fault := (column_fault(UnitConversion, "unit", unit.strip())
                       or column_fault(UnitConversion, "factor", factor)):
            problems.append(Problem("invalid_conversion", fault, field=f"conversions[{i}]"))
    return problems


def _replace_bom(product: Product, bom: list[tuple[str, Decimal]], components: dict[str, Product],
                 changes: dict[str, list]) -> None:
    old = {b.component.sku: b.qty_per_unit for b in product.bom_items.select_related("component")}
    new = dict(bom)
    if old != new:
        product.bom_items.all().delete()
        BomItem.objects.bulk_create([BomItem(parent=product, component=components[c], qty_per_unit=q)
                                     for c, q in bom])
        changes["bom"] = to_plain([old, new])


def _replace_conversions(product: Product, conversions: list[tuple[str, Decimal]],
                         changes: dict[str, list]) -> None:
    old = {c.unit: c.factor for c in product.conversions.all()}
    new = {u.strip(): f for u, f in conversions}
    if old != new:
        product.conversions.all().delete()
        UnitConversion.objects.bulk_create([UnitConversion(product=product, unit=u, factor=f)
                                            for u, f in new.items()])
        changes["conversions"] = to_plain([old, new])


def sales_owner_by_username(username: str | None) -> User | None:
    if not username:
        return None
    user = None if unstorable(username) else get_user_model().objects.filter(username=username,
                                                                              is_active=True).first()
    if user is None:
        raise ValidationFailed("invalid", _("Unknown user '%(u)s'.") % {"u": username},
                               problems=[Problem("unknown_user", _("Unknown user '%(u)s'.") % {"u": username},
                                                 field="sales_owner")])
    return user

