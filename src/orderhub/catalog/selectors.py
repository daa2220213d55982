"""Reads of master data.

Which customers, products and users an order may name is decided here, once:
``active_customers``, ``active_products`` and ``active_users`` are the rule (an inactive one is
unknown to order creation and to intake mapping alike). ``master_data`` is the one lookup that
order creation and intake mapping share; it has two twins, the plain ORM queries and one prepared
statement (PostgreSQL, ``core.fastsql``), and the statement applies the same querysets' filter
(``fastsql.where``), so the rule is not written a second time in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.utils import timezone

from orderhub.core import clock, fastsql
from orderhub.core.errors import Problem
from orderhub.core.text import unstorable

from .models import Customer, CustomerAddress, CustomerPrice, Product, UnitConversion
from .prices import PriceBook, books_from_rows, price_books


def active_customers() -> QuerySet[Customer]:
    """Customers orders may be made for."""
    return Customer.objects.filter(is_active=True)


def active_products() -> QuerySet[Product]:
    """Products an order line may name."""
    return Product.objects.filter(is_active=True)


def active_users() -> QuerySet[Any]:
    """Users an order may be given to as its owner."""
    return get_user_model().objects.filter(is_active=True)


def conversion_factors(product_ids: Iterable[int]) -> dict[tuple[int, str], Decimal]:
    return {
        (pid, unit): factor
        for pid, unit, factor in UnitConversion.objects.filter(product_id__in=set(product_ids))
        .values_list("product_id", "unit", "factor")
    }


def to_base_qty(product: Product, qty: Decimal, unit: str | None,
                factors: dict[tuple[int, str], Decimal]) -> tuple[Decimal, Problem | None]:
    """Quantity in the product's base unit. kg/吨 convert through kg_per_unit when no explicit
    conversion exists. Countable units are rounded half up to whole units."""
    if not unit or unit == product.unit:
        return qty, None
    factor = factors.get((product.pk, unit))
    if factor is None and product.kg_per_unit:
        per_kg = Decimal(1) / product.kg_per_unit
        factor = {"kg": per_kg, "公斤": per_kg, "千克": per_kg, "t": per_kg * 1000,
                  "吨": per_kg * 1000}.get(unit)
    if factor is None:
        return qty, Problem("unknown_unit", unit)
    return product.round_base(qty * factor), None


# --------------------------------------------------------------------------- master data


@dataclass
class MasterData:
    """Active customers (with their sales owner), products (with their unit conversions) and
    users, by the keys orders name them with, gathered over a run (an order, a batch, a file).
    A key asked for and not found is remembered as unknown, so it is not asked again."""

    customers: dict[str, Customer] = field(default_factory=dict)       # by code
    products: dict[str, Product] = field(default_factory=dict)         # by SKU
    factors: dict[tuple[int, str], Decimal] = field(default_factory=dict)  # (product id, unit)
    owners: dict[str, Any] = field(default_factory=dict)               # by username
    asked_customers: set[str] = field(default_factory=set)
    asked_skus: set[str] = field(default_factory=set)
    asked_owners: set[str] = field(default_factory=set)
    # customer id -> (receiver, phone, address) of its default address, or None: filled on demand
    ship_to: dict[int, tuple[str, str, str] | None] = field(default_factory=dict)
    # customer id -> its prices valid today (``catalog.prices``): filled on demand
    prices: dict[int, PriceBook] = field(default_factory=dict)

    def price_book(self, customer: Customer) -> PriceBook:
        """The customer's prices valid today, looked up once per run for it and every customer
        loaded with it (one query for a batch's customers, not one per customer)."""
        if customer.pk not in self.prices:
            wanted = {c.pk for c in self.customers.values() if c is not None} | {customer.pk}
            self.prices.update(price_books(wanted - set(self.prices)))
        return self.prices[customer.pk]

    def default_ship_to(self, customer: Customer) -> tuple[str, str, str] | None:
        """The customer's default delivery address (receiver, phone, address), if it has one;
        looked up once per customer and run."""
        if customer.pk not in self.ship_to:
            addr = (CustomerAddress.objects.filter(customer_id=customer.pk)
                    .order_by("-is_default", "pk").values_list("receiver", "phone", "address").first())
            self.ship_to[customer.pk] = addr
        return self.ship_to[customer.pk]

    def ship_to_of(self, customer: Customer, address_id: int) -> tuple[str, str, str] | None:
        """(receiver, phone, address) of the customer's address ``address_id``, or None when the
        customer has no such address."""
        return (CustomerAddress.objects.filter(customer_id=customer.pk, pk=address_id)
                .values_list("receiver", "phone", "address").first())

    def add_customer(self, customer: Customer) -> None:
        """A customer found another way (intake: by name, mobile, WeChat id) from
        ``active_customers()`` with its sales owner loaded."""
        self.customers[customer.code] = customer
        self.asked_customers.add(customer.code)


def master_data(*, customers: Iterable[str] = (), skus: Iterable[str] = (), owners: Iterable[str] = (),
                into: MasterData | None = None) -> MasterData:
    """The active customers, products (and their unit conversions) and users named by these
    codes, SKUs and usernames, added to ``into`` (a new MasterData by default). Only keys not asked
    before are looked up: nothing at all when every key is known. Text the database cannot store
    (NUL) is never looked up; order creation reports it by field.

    Twins: the ORM (up to five queries) and, on the fast path, one prepared statement."""
    md = into if into is not None else MasterData()
    codes = sorted({c for c in customers if c not in md.asked_customers and not unstorable(c)})
    wanted = sorted({s for s in skus if s not in md.asked_skus and not unstorable(s)})
    names = sorted({u for u in owners if u and u not in md.asked_owners and not unstorable(u)})
    if not (codes or wanted or names):
        return md
    if fastsql.available():
        _fetch_fast(md, codes, wanted, names)
    else:
        _fetch_orm(md, codes, wanted, names)
    md.asked_customers.update(codes)
    md.asked_skus.update(wanted)
    md.asked_owners.update(names)
    return md


def _fetch_orm(md: MasterData, codes: list[str], skus: list[str], names: list[str]) -> None:
    """The ORM twin of :func:`_fetch_fast`."""
    if codes:
        found_customers = {c.code: c for c in active_customers().select_related("sales_owner").filter(code__in=codes)}
        md.customers.update(found_customers)
        if found_customers:
            ids = [c.pk for c in found_customers.values()]
            md.ship_to.update(dict.fromkeys(ids))
            for cid, receiver, phone, address in (CustomerAddress.objects.filter(customer_id__in=ids)
                                                  .order_by("customer_id", "is_default", "-pk")
                                                  .values_list("customer_id", "receiver", "phone", "address")):
                md.ship_to[cid] = (receiver, phone, address)  # the last one written wins: default, else first
    if skus:
        found = {p.sku: p for p in active_products().filter(sku__in=skus)}
        md.products.update(found)
        if found:
            md.factors.update(conversion_factors(p.pk for p in found.values()))
    if names:
        md.owners.update((u.get_username(), u) for u in active_users().filter(
            **{f"{get_user_model().USERNAME_FIELD}__in": names}))


def _fetch_fast(md: MasterData, codes: list[str], skus: list[str], names: list[str]) -> None:
    """The fast twin of :func:`_fetch_orm`: the same rows with one prepared statement."""
    User = get_user_model()
    day = timezone.localdate(clock.now())
    (cs, ss, ps, fs, us, ad, pz), = fastsql.execute(_master_sql(), {"c": codes, "p": skus, "u": names,
                                                                     "day": day.isoformat()})
    # customers share a few sales owners: one instance each
    sales: dict[int | None, Any] = {u.pk: u for u in (fastsql.instance(User, r) for r in fastsql.loads(ss) or ())}
    for row in fastsql.loads(cs) or ():
        c = fastsql.instance(Customer, row)
        c.sales_owner = sales.get(c.sales_owner_id)
        md.customers[c.code] = c
        md.ship_to[c.pk] = None
    md.ship_to.update((cid, (receiver, phone, address)) for cid, receiver, phone, address in fastsql.loads(ad) or ())
    # the customers' prices valid today, as price_books reads them (no query of its own later)
    if day == timezone.localdate(clock.now()):   # (not across midnight: the book would be yesterday's)
        md.prices.update(books_from_rows(
            {c.pk for code, c in md.customers.items() if code in codes},
            ((cid, pid, Decimal(q), Decimal(u)) for cid, pid, q, u in fastsql.loads(pz) or ())))
    md.products.update((p.sku, p) for p in (fastsql.instance(Product, r) for r in fastsql.loads(ps) or ()))
    md.factors.update(((pid, unit), Decimal(f)) for pid, unit, f in fastsql.loads(fs) or ())
    md.owners.update((u.get_username(), u) for u in (fastsql.instance(User, r) for r in fastsql.loads(us) or ()))


@cache
def _master_sql() -> str:
    User = get_user_model()
    cust, prod, users = fastsql.table(Customer), fastsql.table(Product), fastsql.table(User)
    conv = fastsql.table(UnitConversion)
    addr = fastsql.table(CustomerAddress)
    price = fastsql.table(CustomerPrice)

    def col(model: type[Model], name: str) -> str:
        return f"{fastsql.table(model)}.{fastsql.quote(fastsql.column_of(model._meta.get_field(name)))}"

    def values(key: str) -> str:
        return f"ANY(ARRAY(SELECT jsonb_array_elements_text(d->'{key}') FROM p))"

    return (
        "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d), "
        f"pr AS (SELECT {prod}.* FROM {prod} WHERE {col(Product, 'sku')} = {values('p')} "
        f"AND {fastsql.where(active_products())}), "
        f"cu AS MATERIALIZED (SELECT {cust}.* FROM {cust} WHERE {col(Customer, 'code')} = {values('c')} "
        f"AND {fastsql.where(active_customers())}) "
        "SELECT (SELECT jsonb_agg(to_jsonb(cu))::text FROM cu), "
        f"(SELECT jsonb_agg(to_jsonb(u))::text FROM {users} u WHERE u.id IN (SELECT sales_owner_id FROM cu)), "
        "(SELECT jsonb_agg(to_jsonb(pr))::text FROM pr), "
        f"(SELECT jsonb_agg(jsonb_build_array(v.product_id, v.unit, v.factor::text))::text FROM {conv} v "
        "WHERE v.product_id = ANY(ARRAY(SELECT id FROM pr))), "
        f"(SELECT jsonb_agg(to_jsonb({users}))::text FROM {users} "
        f"WHERE {col(User, User.USERNAME_FIELD)} = {values('u')} AND {fastsql.where(active_users())}), "
        # each customer's default delivery address (else its first), as MasterData.default_ship_to
        "(SELECT jsonb_agg(jsonb_build_array(a.customer_id, a.receiver, a.phone, a.address))::text FROM "
        f"(SELECT DISTINCT ON (customer_id) customer_id, receiver, phone, address FROM {addr} "
        "WHERE customer_id IN (SELECT id FROM cu) ORDER BY customer_id, is_default DESC, id) a), "
        # each customer's prices valid on the day, in catalog.prices.price_books' order
        "(SELECT jsonb_agg(jsonb_build_array(x.customer_id, x.product_id, x.min_qty::text, x.unit_price::text) "
        "ORDER BY x.customer_id, x.product_id, x.min_qty DESC, x.valid_from DESC, x.id DESC)::text "
        f"FROM {price} x WHERE x.customer_id IN (SELECT id FROM cu) "
        "AND (x.valid_from IS NULL OR x.valid_from <= (SELECT (d->>'day')::date FROM p)) "
        "AND (x.valid_to IS NULL OR x.valid_to >= (SELECT (d->>'day')::date FROM p)))"
    )


def customer_addresses(customer: Customer | int) -> list[CustomerAddress]:
    """The customer's addresses, the default first."""
    cid = customer if isinstance(customer, int) else customer.pk
    return list(CustomerAddress.objects.filter(customer_id=cid).order_by("-is_default", "pk"))
