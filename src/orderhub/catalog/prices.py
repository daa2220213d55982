"""Customer prices (issue 19.6): per customer and product, with quantity breaks and validity
dates. :func:`price_book` is the one lookup (one query per customer and run); order creation
takes its price as a line's default and ``core.permissions.check_line_prices`` as the standard
price (a line at the customer's price needs no ``orders.change_price``). The list is replaced
as a whole by :func:`customer_prices_save`, audited in the customer's history; written through
``catalog.services``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audited import record_changes
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed

from .models import Customer, CustomerPrice, Product

MAX_ROWS = 500


@dataclass(frozen=True)
class PriceBook:
    """A customer's prices valid on one day: product id -> [(min_qty, unit_price)], the
    largest break first."""

    breaks: dict[int, list[tuple[Decimal, Decimal]]]

    def price(self, product: Any, base_qty: Decimal) -> Decimal:
        """The customer's price for ``base_qty`` of ``product``: the largest break not above the
        quantity; the list price when none applies."""
        for min_qty, unit_price in self.breaks.get(product.pk, ()):
            if base_qty >= min_qty:
                return unit_price
        return Decimal(product.list_price)


def price_book(customer_id: int, on: date | None = None) -> PriceBook:
    """The prices of customer ``customer_id`` valid on ``on`` (today in the business time zone
    by default); one query."""
    return price_books([customer_id], on)[customer_id]


def price_books(customer_ids: Iterable[int], on: date | None = None) -> dict[int, PriceBook]:
    """:func:`price_book` of each of the customers, in one query (a batch of orders for many
    customers reads their prices at once)."""
    day = on or timezone.localdate(clock.now())
    ids = set(customer_ids)
    rows = (CustomerPrice.objects.filter(customer_id__in=ids)
            .exclude(valid_from__gt=day).exclude(valid_to__lt=day)
            .order_by("customer_id", "product_id", "-min_qty", "-valid_from", "-pk")
            .values_list("customer_id", "product_id", "min_qty", "unit_price"))
    return books_from_rows(ids, rows)


def books_from_rows(ids: Iterable[int], rows: Iterable[tuple[int, int, Decimal, Decimal]]) -> dict[int, PriceBook]:
    """The price books of customers ``ids`` from their price rows valid on the day (customer,
    product, from quantity, unit price), ordered by customer, product, from quantity downwards,
    then the latest start first: :func:`price_books`' query, or the same rows read with the
    master data (``catalog.selectors``' fast twin)."""
    breaks: dict[int, dict[int, list[tuple[Decimal, Decimal]]]] = {cid: {} for cid in ids}
    for cid, pid, min_qty, unit_price in rows:
        lst = breaks[cid].setdefault(pid, [])
        if not lst or lst[-1][0] != min_qty:   # two valid rows at one break: the latest start wins
            lst.append((min_qty, unit_price))
    return {cid: PriceBook(b) for cid, b in breaks.items()}


def customer_prices(customer: Customer) -> list[CustomerPrice]:
    """Every price row of ``customer`` (expired and future ones too), by SKU and break."""
    return list(CustomerPrice.objects.filter(customer=customer).select_related("product"))


def _shown(rows: Iterable[CustomerPrice]) -> list[dict[str, Any]]:
    return [{"sku": r.product.sku, "min_qty": str(r.min_qty), "unit_price": str(r.unit_price),
             "valid_from": r.valid_from.isoformat() if r.valid_from else None,
             "valid_to": r.valid_to.isoformat() if r.valid_to else None} for r in rows]


def _decimal(value: Any, field: str, problems: list[Problem]) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        d = Decimal("NaN")
    if not d.is_finite() or d < 0 or d >= Decimal("1e12"):
        problems.append(Problem("invalid", _("Enter a number that is not negative."), field=field))
        return Decimal(0)
    return d.quantize(Decimal("0.0001"))


def _rows(customer: Customer, rows: list[dict[str, Any]]) -> list[CustomerPrice]:
    problems: list[Problem] = []
    if len(rows) > MAX_ROWS:
        problems.append(Problem("too_many", _("At most %(n)d prices.") % {"n": MAX_ROWS}, field="prices"))
    skus = {str(r.get("sku") or "").strip() for r in rows}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    out = []
    for i, r in enumerate(rows[:MAX_ROWS]):
        product = products.get(str(r.get("sku") or "").strip())
        if product is None:
            problems.append(Problem("unknown_sku", _("Unknown SKU '%(sku)s'.") % {"sku": r.get("sku") or ""},
                                    field=f"prices[{i}].sku"))
        start, end = r.get("valid_from"), r.get("valid_to")
        if start and end and end < start:
            problems.append(Problem("invalid", _("The end date is before the start date."),
                                    field=f"prices[{i}].valid_to"))
        out.append(CustomerPrice(customer=customer, product=product,
                                 min_qty=_decimal(r.get("min_qty") or 0, f"prices[{i}].min_qty", problems),
                                 unit_price=_decimal(r.get("unit_price"), f"prices[{i}].unit_price", problems),
                                 valid_from=start or None, valid_to=end or None))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    return out


@transaction.atomic
def customer_prices_save(*, customer: str, rows: list[dict[str, Any]], actor: Actor) -> list[CustomerPrice]:
    """Replace ``customer``'s price list with ``rows`` (``sku``, ``min_qty``, ``unit_price``,
    ``valid_from``, ``valid_to`` as dates or None); the change is in the customer's history."""
    if not actor.has_perm("catalog.change_customer"):
        raise PermissionDenied("permission_denied", _("You may not change customers."))
    obj = Customer.objects.select_for_update().filter(code=customer.strip().upper()).first()
    if obj is None:
        raise NotFound("customer_not_found", _("Unknown customer '%(code)s'.") % {"code": customer})
    new_rows = _rows(obj, rows)
    before = _shown(customer_prices(obj))
    CustomerPrice.objects.filter(customer=obj).delete()
    CustomerPrice.objects.bulk_create(new_rows)
    saved = customer_prices(obj)
    after = _shown(saved)
    if before != after:
        record_changes(subject_type="customer", subject_id=obj.pk, action="customer.prices_changed",
                       actor=actor, changes={"prices": [before, after]}, data={"code": obj.code})
    return saved
