"""Order row locks: every order service starts by locking the order here.

Each lock has two twins, chosen by ``core.fastsql.available()``: the ORM (``SELECT … FOR UPDATE
OF`` the order with its customer and workflow joined, then the lines with their products) and one
prepared statement that returns the same rows as JSON (PostgreSQL). Both load the order without
its ``intake`` and the workflow without its ``spec`` (deferred: a move needs neither, and a save
of all fields then leaves them as they are). The parity suite (``tests/orders/test_parity.py``)
runs every order service through both.
"""

from __future__ import annotations

from functools import cache

from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer, Product
from orderhub.core import fastsql
from orderhub.core.errors import NotFound
from orderhub.core.locking import lock_own_rows
from orderhub.workflow.models import WorkflowDefinition

from .models import Order, OrderLine

# columns neither twin loads (read on first access, as with ``.defer()``)
DEFERRED = ("intake", "workflow__spec")


def lock_order(order: Order | str) -> Order:
    """The order, locked for the rest of the transaction, with its customer and workflow."""
    number = order if isinstance(order, str) else order.number
    if fastsql.available():
        return _lock_fast(number, with_lines=False)[0]
    return _lock_orm(number)


def lock_order_with_lines(number: str) -> tuple[Order, list[OrderLine]]:
    """``lock_order`` and ``order_lines`` together (the fast twin: one prepared statement)."""
    if fastsql.available():
        return _lock_fast(number, with_lines=True)
    order = _lock_orm(number)
    return order, order_lines(order)


def lock_orders_with_lines(numbers: list[str]) -> dict[str, tuple[Order, list[OrderLine]]]:
    """:func:`lock_order_with_lines` for many orders at once, locked in primary-key order (so
    two batches, or a batch and single moves, never wait on each other in a circle); by number.
    A number that names no order is missing from the answer. Fast twin: one prepared
    statement; ORM twin: the locked orders, then every line in one query."""
    if fastsql.available():
        found = fastsql.execute(_lock_many_sql(), list(numbers))
        out = {}
        for row in found:
            order, lines = _loaded(row)
            out[order.number] = (order, lines)
        return out
    orders = list(lock_own_rows(Order.objects.select_related("customer", "workflow").defer(*DEFERRED))
                  .filter(number__in=set(numbers)).order_by("pk"))
    by_order: dict[int, list[OrderLine]] = {o.pk: [] for o in orders}
    for ln in (OrderLine.objects.filter(order_id__in=list(by_order)).select_related("product")
               .order_by("order_id", "line_no")):
        by_order[ln.order_id].append(ln)
    return {o.number: (o, by_order[o.pk]) for o in orders}


def order_lines(order: Order) -> list[OrderLine]:
    """The order's lines with their products, in line order."""
    return list(OrderLine.objects.filter(order=order).select_related("product").order_by("line_no"))


def _not_found(number: str) -> NotFound:
    return NotFound("order_not_found", _("Order %(number)s does not exist.") % {"number": number})


def _lock_orm(number: str) -> Order:
    """ORM twin of :func:`_lock_fast` (without lines)."""
    qs = lock_own_rows(Order.objects.select_related("customer", "workflow").defer(*DEFERRED))
    try:
        return qs.get(number=number)
    except Order.DoesNotExist:
        raise _not_found(number) from None


def _lock_fast(number: str, *, with_lines: bool) -> tuple[Order, list[OrderLine]]:
    """Fast twin of :func:`_lock_orm` (+ :func:`order_lines`): one prepared statement."""
    found = fastsql.execute(_lock_sql(with_lines), [number])
    if not found:
        raise _not_found(number)
    return _loaded(found[0])


def _loaded(row: tuple) -> tuple[Order, list[OrderLine]]:
    o, c, w, ls = row
    order = fastsql.instance(Order, fastsql.loads(o))
    order.customer = fastsql.instance(Customer, fastsql.loads(c))
    order.workflow = fastsql.instance(WorkflowDefinition, fastsql.loads(w))
    lines = []
    for ln, pr in fastsql.loads(ls) or ():
        line = fastsql.instance(OrderLine, ln)
        line.product = fastsql.instance(Product, pr)
        lines.append(line)
    return order, lines


@cache
def _lock_many_sql() -> str:
    number = fastsql.quote(fastsql.column_of(Order._meta.get_field("number")))
    one = _lock_sql(True)
    many = one.replace(f"WHERE x.{number} = (SELECT d->>0 FROM p) FOR UPDATE",
                       f"WHERE x.{number} IN (SELECT jsonb_array_elements_text(d) FROM p) ORDER BY x.id FOR UPDATE")
    if many == one:  # pragma: no cover - the one-order statement changed shape
        raise RuntimeError("lock statement for many orders not derived")
    return many


@cache
def _lock_sql(with_lines: bool) -> str:
    q = fastsql.quote
    lines = (
        "(SELECT jsonb_agg(jsonb_build_array(to_jsonb(l), "
        f" (SELECT to_jsonb(pr) FROM {fastsql.table(Product)} pr WHERE pr.id = l.product_id)) "
        f" ORDER BY l.line_no)::text FROM {fastsql.table(OrderLine)} l WHERE l.order_id = o.id)"
    ) if with_lines else "NULL"
    intake = fastsql.column_of(Order._meta.get_field("intake"))
    spec = fastsql.column_of(WorkflowDefinition._meta.get_field("spec"))
    return (
        "WITH p AS MATERIALIZED (SELECT %s::jsonb AS d), "
        f"o AS (SELECT x.* FROM {fastsql.table(Order)} x WHERE x.{q(fastsql.column_of(Order._meta.get_field('number')))} "
        "= (SELECT d->>0 FROM p) FOR UPDATE) "
        f"SELECT (to_jsonb(o) - '{intake}')::text, "
        f"(SELECT to_jsonb(c)::text FROM {fastsql.table(Customer)} c WHERE c.id = o.customer_id), "
        f"(SELECT (to_jsonb(w) - '{spec}')::text FROM {fastsql.table(WorkflowDefinition)} w "
        f" WHERE w.id = o.workflow_id), {lines} FROM o"
    )
