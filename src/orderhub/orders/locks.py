"""Order row locks: every order service starts by locking the order here.

Each lock has two twins, chosen by ``core.fastsql.available()``: the ORM (``SELECT … FOR UPDATE
OF`` the order with its customer and workflow joined, then the lines with their products) and one
prepared statement that returns the same rows as JSON (PostgreSQL). Both load the order without
its ``intake`` and the workflow without its ``spec`` (deferred: a move needs neither, and a save
of all fields then leaves them as they are). The parity suite (``tests/orders/test_parity.py``)
runs every order service through both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.utils.translation import gettext as _

from orderhub.catalog.models import BomItem, Customer, Product
from orderhub.core import fastsql
from orderhub.core.errors import NotFound
from orderhub.core.locking import lock_own_rows
from orderhub.inventory.models import Reservation, SafetyBreach, StockLevel, Warehouse
from orderhub.inventory.services import StockBook
from orderhub.workflow.models import WorkflowDefinition

from .editing import pending_change_requests
from .models import ChangeRequest, CustomerOpenAmount, Order, OrderLine

M = TypeVar("M", Customer, WorkflowDefinition)
Seen = dict[tuple[type, int], Any]   # the instances one lock statement built, by (model, pk)

# a customer's CustomerOpenAmount rows a reading move folds into one when there are more
FOLD_ROWS = 8

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
        seen: Seen = {}
        for row in found:
            order, lines = _loaded(row, seen)
            out[order.number] = (order, lines)
        return out
    orders = list(lock_own_rows(Order.objects.select_related("customer", "workflow").defer(*DEFERRED))
                  .filter(number__in=set(numbers)).order_by("pk"))
    by_order: dict[int, list[OrderLine]] = {o.pk: [] for o in orders}
    for ln in (OrderLine.objects.filter(order_id__in=list(by_order)).select_related("product")
               .order_by("order_id", "line_no")):
        by_order[ln.order_id].append(ln)
    return {o.number: (o, by_order[o.pk]) for o in orders}


def lock_orders_for_moves(numbers: list[str]) -> tuple[dict[str, tuple[Order, list[OrderLine]]], dict[int, int]]:
    """:func:`lock_orders_with_lines`, and {order id: its pending change request's id} for the
    orders a change request freezes (``editing.pending_change_requests``). Fast twin: the same
    one statement, the pending request read beside each order; ORM twin: one query more."""
    if not fastsql.available():
        locked = lock_orders_with_lines(numbers)
        return locked, pending_change_requests([o.pk for o, _ls in locked.values()])
    out, pending = {}, {}
    seen: Seen = {}
    for row in fastsql.execute(_lock_moves_sql(), list(numbers)):
        order, lines = _loaded(row[:4], seen)
        out[order.number] = (order, lines)
        if row[4] is not None:
            pending[order.pk] = row[4]
    return out, pending


@dataclass
class MoveStock:
    """What a reserving batch move reads after locking its orders (:func:`lock_move_stock`)."""

    held: dict[int, dict[int, Decimal]]    # {order id: {product id: quantity held}}
    bom: dict[int, list[BomItem]]          # the lines' products' BOM items, by parent
    book: StockBook                        # their stock rows, locked
    open_amounts: dict[int, Decimal]       # {customer id: total of their open orders} (asked for)


def lock_move_stock(order_ids: list[int], product_ids: set[int], *, explode: bool,
                    customers: Iterable[int] = ()) -> MoveStock:
    """Fast twin (PostgreSQL only; the ORM path reads the three one by one) of what a reserving
    move needs once its orders are locked: the reservations they hold, the BOM items of
    ``product_ids`` (components loaded), and the stock rows of those products (and of their
    components if ``explode``) locked in primary-key order with their warehouses, their safety
    stock and breach on record (so the stock write's safety check needs no query), and the
    open amount of each of ``customers`` (a credit guard): the sum of its ``CustomerOpenAmount``
    rows (equal to its open orders' total, kept by triggers), not of its orders, so the read
    costs the same at 100 or 100,000 open orders; a customer with more than ``FOLD_ROWS`` rows
    has them folded into one by the same statement. One prepared statement."""
    held_rows, bom_rows, level_rows, safety_rows, amount_rows = fastsql.execute(_move_stock_sql(), {
        "orders": order_ids, "products": sorted(product_ids), "explode": explode,
        "active": Reservation.Status.ACTIVE.value, "customers": sorted(set(customers))})[0]
    held: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for order_id, product_id, qty in fastsql.loads(held_rows) or ():
        held[order_id][product_id] = Decimal(qty)
    bom: dict[int, list[BomItem]] = defaultdict(list)
    for item_row, component in fastsql.loads(bom_rows) or ():
        item = fastsql.instance(BomItem, item_row)
        item.component = fastsql.instance(Product, component)
        bom[item.parent_id].append(item)
    levels, warehouses = [], {}
    for level_row, warehouse in fastsql.loads(level_rows) or ():
        level = fastsql.instance(StockLevel, level_row)
        if warehouse["id"] not in warehouses:   # a few warehouses: one instance each
            warehouses[warehouse["id"]] = fastsql.instance(Warehouse, warehouse)
        level.warehouse = warehouses[warehouse["id"]]
        levels.append(level)
    safety = {pid: (Decimal(ss), breached) for pid, ss, breached in fastsql.loads(safety_rows) or ()}
    products = set(product_ids) | ({i.component_id for items in bom.values() for i in items} if explode else set())
    amounts = {cid: Decimal(total) for cid, total in fastsql.loads(amount_rows) or ()}
    return MoveStock(held, bom, StockBook(levels, products, safety=safety), amounts)


@cache
def _move_stock_sql() -> str:
    t = fastsql.table
    return fastsql.statement([
        "lp AS MATERIALIZED (SELECT (jsonb_array_elements_text(d->'products'))::bigint AS id FROM p)",
        f"bom AS MATERIALIZED (SELECT b.id, b.parent_id, b.component_id, to_jsonb(b) AS j, to_jsonb(c) AS cj "
        f"FROM {t(BomItem)} b JOIN {t(Product)} c ON c.id = b.component_id WHERE b.parent_id = ANY(ARRAY(SELECT id FROM lp)))",
        "pids AS MATERIALIZED (SELECT id FROM lp UNION SELECT component_id FROM bom "
        "WHERE (SELECT (d->>'explode')::boolean FROM p))",
        f"lv AS MATERIALIZED (SELECT s.* FROM {t(StockLevel)} s WHERE s.product_id = ANY(ARRAY(SELECT id FROM pids)) "
        "ORDER BY s.id FOR UPDATE)",
        "oc AS MATERIALIZED (SELECT (jsonb_array_elements_text(d->'customers'))::bigint AS id FROM p)",
        # the customers' open amounts kept in more than FOLD_ROWS rows: those rows replaced by
        # their sum, after the read below (every part of the statement reads the snapshot from
        # before it)
        *_fold_ctes("c.customer_id = ANY(ARRAY(SELECT id FROM oc))"),
    ], "SELECT (SELECT jsonb_agg(jsonb_build_array(h.order_id, h.product_id, h.q::text))::text FROM "
       f"(SELECT r.order_id, r.product_id, sum(r.qty) AS q FROM {t(Reservation)} r "
       "WHERE r.order_id = ANY(ARRAY(SELECT (jsonb_array_elements_text(d->'orders'))::bigint FROM p)) "
       "AND r.status = (SELECT d->>'active' FROM p) GROUP BY r.order_id, r.product_id) h), "
       "(SELECT jsonb_agg(jsonb_build_array(j, cj) ORDER BY parent_id, id)::text FROM bom), "
       f"(SELECT jsonb_agg(jsonb_build_array(to_jsonb(lv), to_jsonb(w)) ORDER BY lv.id)::text FROM lv "
       f"JOIN {t(Warehouse)} w ON w.id = lv.warehouse_id), "
       f"(SELECT jsonb_agg(jsonb_build_array(pr.id, pr.safety_stock::text, EXISTS (SELECT 1 FROM {t(SafetyBreach)} sb "
       f"WHERE sb.product_id = pr.id)))::text FROM {t(Product)} pr WHERE pr.id = ANY(ARRAY(SELECT id FROM pids))), "
       "(SELECT jsonb_agg(jsonb_build_array(a.customer_id, a.s::text))::text FROM "
       f"(SELECT o.customer_id, sum(o.amount) AS s FROM {t(CustomerOpenAmount)} o "
       "WHERE o.customer_id = ANY(ARRAY(SELECT id FROM oc)) GROUP BY o.customer_id) a)")


def fold_open_amounts() -> int:
    """Fold every customer's ``CustomerOpenAmount`` rows beyond ``FOLD_ROWS`` into one (the
    periodic job ``orders.fold_open_amounts``): a reading move folds only its own customers', so
    a customer no credit-guarded move reads would gather about two rows per order. One
    statement, rows another transaction holds skipped (it folds them, or a later run does); the
    sum per customer never changes. How many rows it removed. PostgreSQL only (the triggers)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cur:
        cur.execute("WITH " + ", ".join(_fold_ctes(None))
                    + " SELECT (SELECT count(*) FROM fold) - (SELECT count(*) FROM folded)")
        return int(cur.fetchone()[0])


def _fold_ctes(among: str | None) -> list[str]:
    """The CTEs ``fold_k``, ``fold`` and ``folded`` that replace the ``CustomerOpenAmount`` rows
    of every customer with more than ``FOLD_ROWS`` of them (``among``: a condition on
    ``c.customer_id`` naming the customers to look at; None: all) by one row of their sum.
    Rows another transaction holds are skipped (it folds them, or a later fold does); the sum
    per customer never changes. ``fold`` returns the rows removed, ``folded`` one per sum."""
    t = fastsql.table(CustomerOpenAmount)
    where = f"WHERE {among} " if among else ""
    return [
        f"fold_k AS (SELECT a.id FROM {t} a WHERE a.customer_id = ANY(ARRAY(SELECT c.customer_id FROM {t} c "
        f"{where}GROUP BY c.customer_id HAVING count(*) > {FOLD_ROWS})) FOR UPDATE SKIP LOCKED)",
        f"fold AS (DELETE FROM {t} x USING fold_k k WHERE x.id = k.id RETURNING x.customer_id, x.amount)",
        f"folded AS (INSERT INTO {t} (customer_id, amount) SELECT customer_id, sum(amount) FROM fold "
        "GROUP BY customer_id HAVING sum(amount) <> 0 ORDER BY customer_id RETURNING 1)",
    ]


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


def _loaded(row: tuple, seen: Seen | None = None) -> tuple[Order, list[OrderLine]]:
    """The order and its lines of one row of a lock statement. ``seen``, shared by the rows of
    one statement, holds the customers, workflows and products built so far: orders of one
    customer, workflow or product share one instance, as ``prefetch_related`` shares them (one
    statement reads one snapshot, so a row read again is the same row)."""
    o, c, w, ls = row
    if seen is None:
        seen = {}
    order = fastsql.instance(Order, fastsql.loads(o))
    order.customer = _shared(seen, Customer, order.customer_id, c)
    order.workflow = _shared(seen, WorkflowDefinition, order.workflow_id, w)
    lines = []
    for ln, pr in fastsql.loads(ls) or ():
        line = fastsql.instance(OrderLine, ln)
        product = seen.get((Product, line.product_id))
        if product is None:
            product = seen[Product, line.product_id] = fastsql.instance(Product, pr)
        line.product = product
        lines.append(line)
    return order, lines


def _shared(seen: Seen, model: type[M], pk: int, text: str) -> M:
    obj = seen.get((model, pk))
    if obj is None:
        obj = seen[model, pk] = fastsql.instance(model, fastsql.loads(text))
    return obj


@cache
def _lock_many_sql() -> str:
    """:func:`_lock_sql` for a list of numbers. ``= ANY(ARRAY(…))``, not ``IN (SELECT …)``: the
    planner guesses a set-returning function yields 100 rows, so below some thousands of orders
    ``IN`` hashed the list and read the whole table (0.6 ms a move at 2,200 orders, growing with
    the table); an array is looked up in the number's index at every size."""
    number = fastsql.quote(fastsql.column_of(Order._meta.get_field("number")))
    one = _lock_sql(True)
    many = one.replace(f"WHERE x.{number} = (SELECT d->>0 FROM p) FOR UPDATE",
                       f"WHERE x.{number} = ANY(ARRAY(SELECT jsonb_array_elements_text(d) FROM p)::varchar[]) "
                       "ORDER BY x.id FOR UPDATE")
    if many == one:  # pragma: no cover - the one-order statement changed shape
        raise RuntimeError("lock statement for many orders not derived")
    return many


@cache
def _lock_moves_sql() -> str:
    """:func:`_lock_many_sql` with the order's pending change request (the lowest id, as
    ``editing.pending_change_request`` reads it)."""
    many = _lock_many_sql()
    if not many.endswith(" FROM o"):  # pragma: no cover - the lock statement changed shape
        raise RuntimeError("lock statement for moves not derived")
    pending = (f", (SELECT cr.id FROM {fastsql.table(ChangeRequest)} cr WHERE cr.order_id = o.id "
               f"AND cr.status = '{ChangeRequest.Status.PENDING.value}' ORDER BY cr.id LIMIT 1)")
    return many[:-len(" FROM o")] + pending + " FROM o"


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
