"""The stock breaker. Every stock write (reserve, release, receive, adjust, rebalance — a
receipt cancelled is a negative adjustment) ends with ``inventory.safety.check_crossings`` for
the products it touched, which hands them to :func:`on_stock_change` (registered in
``OrdersConfig.ready``) inside the write's transaction, after the stock rows are written and
while they are locked. So checks of one material are serialised by its stock rows, and a check
sees every reservation committed before it.

A *waiting* order is open, holds no stock yet (as ``orders.safety.not_started``) and is at a
stage the breaker watches. Its need of a material is the base quantity of its lines of that
product (a BOM parent's lines count through ``qty_per_unit``). When the free stock of a material
(on hand − reserved, every warehouse) is below a waiting order's need, the breaker trips for
(order, material); when it is back at or above the need, or the order is no longer waiting, the
trip resets. Set-based: for any number of waiting orders the check is one prepared statement on
PostgreSQL (:func:`_check_fast`: configuration, BOM, free stock, the waiting orders' needs and
the active trips; the configuration is read there, so a switch or a new stage range counts at
once in every process), a fixed handful of ORM queries on the plain path (the twin), plus one
INSERT and one UPDATE when something changed.

Both twins read only the lines that may belong to a waiting order: ``OrderLine.waiting`` is false
while the line's order is closed or holds an active reservation (PostgreSQL triggers keep it,
migration ``orders 0022``), and the partial index ``order_line_waiting`` (product → order, base
quantity) holds the other lines. So the cost follows the waiting orders of the products, not the
open orders holding stock or a product's history (an earlier one-statement version read every
line a product ever had: 0.7 s for one product and 17 s for 300 at 1,000,000 orders). The flag
only narrows the read: each order read is still checked (open, watched stage, holding nothing).
No order row is locked here; the pause itself is applied after commit (``trips``).

The fast twin reads no line at all of a product whose ``LineNeedBound`` (the largest need one
order's lines of it ever had, kept by triggers, migration ``orders 0023``; never lowered) is
within the product's limit: no waiting order can need more, so none can be short. The cost of a
check then follows the products whose free stock is near an order's need, not the number of
waiting orders (55,000 waiting orders, the ~280 products of a 100-order batch: 105 ms a check
before, 3.3 ms with the bound; bench/HISTORY.md). The ORM twin reads the lines as before (the
same answer; ``tests/orders/test_breakers.py`` compares the twins).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from functools import cache

from django.db.models import Case, DecimalField, Exists, OuterRef, Q, Sum, Value, When
from django.utils.translation import gettext as _

from orderhub.catalog.models import BomItem, Product
from orderhub.core import clock, fastsql
from orderhub.inventory.models import Reservation, StockLevel
from orderhub.inventory.selectors import available_by_product

from ..kitting import fmt_qty
from ..models import Breaker, BreakerTrip, LineNeedBound, Order, OrderLine
from .config import breaker_config
from .trips import ACTOR, Trip, apply_after_commit, record_resets, record_trips

ZERO = Decimal(0)
KIND = Breaker.Kind.STOCK


def subject(product_id: int) -> str:
    return f"product:{product_id}"


def _uses(product_ids: set[int]) -> dict[int, list[tuple[int, Decimal]]]:
    """{line product: [(material among ``product_ids``, base units of it per unit)]}: a product
    without a BOM uses itself, a BOM parent its components. One query."""
    bom = list(BomItem.objects.filter(Q(component_id__in=product_ids) | Q(parent_id__in=product_ids))
               .values_list("parent_id", "component_id", "qty_per_unit"))
    parents_with_bom = {parent for parent, _c, _q in bom}
    out: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    for pid in product_ids - parents_with_bom:
        out[pid].append((pid, Decimal(1)))
    for parent, comp, per in bom:
        if comp in product_ids:
            out[parent].append((comp, per))
    return out


def short_orders(product_ids: set[int], *, stages: list[str]) -> tuple[dict[tuple[int, int], tuple[Decimal, Decimal]],
                                                                      dict[int, Decimal]]:
    """{(order id, material): (need, free)} for the waiting orders that can no longer be
    covered, and the free stock per material."""
    uses = _uses(product_ids)
    free = available_by_product(product_ids)
    # the largest need a line product may have before some material it uses is short
    limit = {lp: min(free.get(m, ZERO) / per for m, per in ms) for lp, ms in uses.items()}
    holding = Reservation.objects.filter(order_id=OuterRef("order_id"), status=Reservation.Status.ACTIVE)
    # the same statements whatever the materials (BOM parents only: no line product uses them,
    # the query still runs and finds nothing), so a stock write's cost does not depend on them
    lines = (OrderLine.objects.filter(product_id__in=list(uses) or list(product_ids), order__status=Order.Status.OPEN,
                                      waiting=True)   # order_line_waiting: closed or holding orders' lines left out
             .exclude(Exists(holding)))
    if stages:
        lines = lines.filter(order__stage__in=stages)
    money = DecimalField(max_digits=24, decimal_places=6)
    threshold = Case(*[When(product_id=lp, then=Value(v, output_field=money)) for lp, v in limit.items()],
                     default=Value(None, output_field=money), output_field=money)
    rows = (lines.values("order_id", "product_id").annotate(need=Sum("base_qty"))
            .filter(need__gt=threshold).values_list("order_id", "product_id", "need"))
    out: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    for order_id, lp, need in rows:
        for material, per in uses.get(lp, ()):
            qty = need * per
            if qty > free.get(material, ZERO):
                prior = out.get((order_id, material), (ZERO, ZERO))[0]
                out[(order_id, material)] = (prior + qty, free.get(material, ZERO))
    return out, free


def check_stock(product_ids: Iterable[int]) -> tuple[set[int], set[int]]:
    """Trip and reset the stock breaker for the materials ``product_ids`` (inside the stock
    write's transaction); the orders tripped and reset (applied after commit)."""
    pids = set(product_ids)
    if not pids:
        return set(), set()
    if fastsql.available():
        checked = _check_fast(pids)
        if checked is None:   # switched off (or no configuration row)
            return set(), set()
        short, active = checked
    else:
        cfg = breaker_config(KIND)
        if not cfg.enabled:
            return set(), set()
        short, _free = short_orders(pids, stages=list(cfg.stages))
        active = {(oid, int(subj.split(":")[1])): pk for pk, oid, subj in
                  BreakerTrip.objects.filter(kind=KIND, reset_at__isnull=True,
                                             subject__in=[subject(p) for p in pids])
                  .order_by().values_list("pk", "order_id", "subject")}
    now = clock.now()
    new = sorted(key for key in short if key not in active)   # (order, material): the same ids on both twins
    named = ({pk: (name, unit) for pk, name, unit in Product.objects.filter(pk__in={m for _o, m in new})
              .values_list("pk", "name", "unit")} if new else {})
    tripped = record_trips(KIND, [
        Trip(oid, subject(m), _("「%(name)s」可用库存 %(free)s %(unit)s，不足本单所需 %(need)s %(unit)s") % {
            "name": named[m][0], "free": fmt_qty(short[(oid, m)][1]), "need": fmt_qty(short[(oid, m)][0]),
            "unit": named[m][1]},
            {"product_id": m, "need": str(short[(oid, m)][0]), "free": str(short[(oid, m)][1])})
        for oid, m in new], now=now)
    reset = record_resets([pk for key, pk in active.items() if key not in short], now=now, by=ACTOR,
                          reason=_("库存已恢复，可满足订单所需"))
    apply_after_commit(tripped | reset)
    return tripped, reset


def _check_fast(pids: set[int]) -> tuple[dict[tuple[int, int], tuple[Decimal, Decimal]],
                                         dict[tuple[int, int], int]] | None:
    """Fast twin of the configuration read, :func:`short_orders` and the active trips: one
    prepared statement (the same rule: a waiting order's need of a material, its lines of a
    product times the product's use of the material, above the material's free stock). None
    when the breaker is switched off."""
    (enabled, short_rows, active_rows), = fastsql.execute(_check_sql(), {
        "pids": sorted(pids), "kind": KIND.value, "open": Order.Status.OPEN.value,
        "active": Reservation.Status.ACTIVE.value})
    if not enabled:
        return None
    short: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    for order_id, material, qty, free in fastsql.loads(short_rows) or ():
        prior = short.get((order_id, material), (ZERO, ZERO))[0]
        short[(order_id, material)] = (prior + Decimal(qty), Decimal(free))
    active = {(oid, int(subj.split(":")[1])): pk for pk, oid, subj in fastsql.loads(active_rows) or ()}
    return short, active


@cache
def _check_sql() -> str:
    t = fastsql.table
    return fastsql.statement([
        "ids AS MATERIALIZED (SELECT (jsonb_array_elements_text(d->'pids'))::bigint AS id FROM p)",
        f"cfg AS MATERIALIZED (SELECT b.stages FROM {t(Breaker)} b "
        "WHERE b.kind = (SELECT d->>'kind' FROM p) AND b.enabled)",
        # a product without a BOM uses itself, a BOM parent the components it names
        f"bom AS MATERIALIZED (SELECT parent_id, component_id, qty_per_unit FROM {t(BomItem)} "
        "WHERE EXISTS (SELECT 1 FROM cfg) AND (component_id = ANY(ARRAY(SELECT id FROM ids)) "
        "OR parent_id = ANY(ARRAY(SELECT id FROM ids))))",
        "uses AS MATERIALIZED (SELECT i.id AS lp, i.id AS m, 1::numeric AS per FROM ids i "
        "WHERE EXISTS (SELECT 1 FROM cfg) AND NOT EXISTS (SELECT 1 FROM bom WHERE bom.parent_id = i.id) "
        "UNION ALL SELECT parent_id, component_id, qty_per_unit FROM bom WHERE component_id IN (SELECT id FROM ids))",
        "free AS MATERIALIZED (SELECT i.id AS m, COALESCE((SELECT sum(s.on_hand - s.reserved) "
        f"FROM {t(StockLevel)} s WHERE s.product_id = i.id), 0) AS free FROM ids i WHERE EXISTS (SELECT 1 FROM cfg))",
        # the most a line product may be needed before a material it uses is short (free / per
        # unit, the least over its materials; qty_per_unit > 0 by constraint)
        # (less a margin far above numeric division's rounding, so no short need is lost: the
        # exact comparison follows)
        "lim AS MATERIALIZED (SELECT lp, lim - abs(lim) * 0.000000000001 - 0.000000001 AS lo FROM "
        "(SELECT u.lp, min(f.free / u.per) AS lim FROM uses u JOIN free f ON f.m = u.m GROUP BY u.lp) q)",
        # the line products some order may need more of than the limit: those whose highest
        # LineNeedBound (the largest need one order's lines of it ever had, kept by triggers,
        # never lowered) is above it, or that have none (a probe of line_need_bound each)
        f"scan AS MATERIALIZED (SELECT u.lp, u.lo FROM lim u WHERE COALESCE((SELECT max(b.need) "
        f"FROM {t(LineNeedBound)} b WHERE b.product_id = u.lp) > u.lo, true))",
        # the needs of those products' lines that may wait (the partial index order_line_waiting,
        # read alone: product, order -> base quantity), summed per order in index order: a probe
        # of the index per product, never a walk of every line or every open order whatever the
        # plan. Kept: the sums above the limit
        "need AS MATERIALIZED (SELECT u.lp, l.order_id, l.need FROM scan u "
        f"CROSS JOIN LATERAL (SELECT x.order_id, sum(x.base_qty) AS need FROM {t(OrderLine)} x "
        "WHERE x.product_id = u.lp AND x.waiting GROUP BY x.order_id "
        "HAVING sum(x.base_qty) > u.lo) l)",
        # the needs above the free stock of a material they use
        "cand AS MATERIALIZED (SELECT n.order_id, u.m, n.need * u.per AS qty, f.free FROM need n "
        "JOIN uses u ON u.lp = n.lp JOIN free f ON f.m = u.m WHERE n.need * u.per > f.free)",
        # of those, the orders that wait (a probe by primary key each): open, at a watched stage,
        # holding nothing (the flag may be stale the other way: a line added to an order
        # holding stock); an order is waiting or not as a whole, so checking after summing
        # finds what checking each line first would
        "short AS (SELECT c.order_id, c.m, c.qty, c.free FROM cand c "
        f"WHERE (SELECT o.status = (SELECT d->>'open' FROM p) AND (COALESCE((SELECT jsonb_array_length(stages) "
        "FROM cfg), 0) = 0 OR o.stage IN (SELECT jsonb_array_elements_text(stages) FROM cfg)) "
        f"AND NOT EXISTS (SELECT 1 FROM {t(Reservation)} r WHERE r.order_id = o.id "
        f"AND r.status = (SELECT d->>'active' FROM p)) FROM {t(Order)} o WHERE o.id = c.order_id))",
    ], "SELECT EXISTS (SELECT 1 FROM cfg), "
       "(SELECT jsonb_agg(jsonb_build_array(order_id, m, qty::text, free::text))::text FROM short), "
       f"(SELECT jsonb_agg(jsonb_build_array(tr.id, tr.order_id, tr.subject))::text FROM {t(BreakerTrip)} tr "
       "WHERE EXISTS (SELECT 1 FROM cfg) AND tr.kind = (SELECT d->>'kind' FROM p) AND tr.reset_at IS NULL "
       "AND tr.subject = ANY(ARRAY(SELECT 'product:' || id FROM ids)))")


def on_stock_change(product_ids: set[int]) -> None:
    """The listener ``inventory.safety`` calls after every stock write."""
    check_stock(product_ids)
