"""Stock writes. Rows are locked in primary-key order, so concurrent reservations serialise
without deadlocks; the CHECK constraints on StockLevel are the last line of defence.

Each function issues a fixed number of queries whatever the number of lines. The reservation
write has a fast twin (``store``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, PermissionDenied, Problem, ValidationFailed
from orderhub.core.locking import lock_own_rows

from .models import Reservation, StockLevel, StockMove
from .safety import check_crossings
from .store import send_reservations, write_reservations

ZERO = Decimal("0")


@dataclass(frozen=True)
class Requirement:
    product_id: int
    qty: Decimal
    line_id: int | None = None


@dataclass(frozen=True)
class Shortage:
    product_id: int
    needed: Decimal
    available: Decimal

    @property
    def missing(self) -> Decimal:
        return self.needed - self.available


def _locked_levels(product_ids: Iterable[int]) -> list[StockLevel]:
    return list(lock_own_rows(StockLevel.objects.select_related("warehouse"))
                .filter(product_id__in=set(product_ids)).order_by("pk"))


def stock_reserve(*, order_id: int, requirements: list[Requirement], actor: Actor,
                  release_condition: str, expires_at: datetime | None = None,
                  allow_partial: bool = False) -> tuple[list[Reservation], list[Shortage]]:
    """Reserve each requirement, drawing from warehouses in priority order.

    Without ``allow_partial`` nothing is written when anything is short, and the shortages are
    returned. With it (a forced move) what is available is reserved and the rest reported.
    """
    if not requirements:
        return [], []
    with transaction.atomic(savepoint=False):
        book = StockBook.lock(r.product_id for r in requirements)
        made, shortages = book.reserve(order_id=order_id, requirements=requirements, actor=actor,
                                       release_condition=release_condition, expires_at=expires_at,
                                       allow_partial=allow_partial)
        book.write()
        return made, shortages


class StockBook:
    """The stock rows of some products, locked (pk order) for the rest of the transaction, and
    the reservations made against them in memory: one lock statement and one write for many
    orders (a batch move), the same allocation as :func:`stock_reserve` order by order. Free
    stock read from the book counts what earlier orders of the batch took."""

    def __init__(self, levels: list[StockLevel], products: set[int],
                 safety: dict[int, tuple[Decimal, bool]] | None = None):
        self.products = products      # the products whose rows are locked (all of their rows)
        # {product: (safety stock, below it on record)} read with the lock (a caller's fast
        # statement): the write's safety check then counts free stock here, with no query
        self.safety = safety
        self.by_product: dict[int, list[StockLevel]] = defaultdict(list)
        for lvl in sorted(levels, key=lambda x: (x.warehouse.priority, x.warehouse.code, x.pk)):
            self.by_product[lvl.product_id].append(lvl)
        self.touched: dict[int, StockLevel] = {}
        self.made: list[Reservation] = []

    @classmethod
    def lock(cls, product_ids: Iterable[int]) -> StockBook:
        products = set(product_ids)
        return cls(_locked_levels(products), products)

    def free(self, product_id: int) -> Decimal:
        return sum((lvl.on_hand - lvl.reserved for lvl in self.by_product.get(product_id, ())), ZERO)

    def reserve(self, *, order_id: int, requirements: list[Requirement], actor: Actor,
                release_condition: str, expires_at: datetime | None = None,
                allow_partial: bool = False) -> tuple[list[Reservation], list[Shortage]]:
        """:func:`stock_reserve` in memory (written by :meth:`write`)."""
        needed: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for r in requirements:
            needed[r.product_id] += r.qty
        shortages = [Shortage(pid, qty, avail) for pid, qty in needed.items()
                     if (avail := self.free(pid)) < qty]
        if shortages and not allow_partial:
            return [], shortages
        now = clock.now()
        made: list[Reservation] = []
        for r in requirements:
            left = r.qty
            for lvl in self.by_product.get(r.product_id, ()):
                free = lvl.on_hand - lvl.reserved
                if left <= 0:
                    break
                if free <= 0:
                    continue
                take = min(free, left)
                lvl.reserved += take
                left -= take
                self.touched[lvl.pk] = lvl
                made.append(Reservation(
                    order_id=order_id, line_id=r.line_id, stock=lvl, product_id=r.product_id,
                    qty=take, created_at=now, created_by=actor.label[:150],
                    release_condition=release_condition, expires_at=expires_at,
                ))
        self.made.extend(made)
        return made, shortages

    def mark(self) -> int:
        """A point to :meth:`undo` to (an order refused after it reserved)."""
        return len(self.made)

    def undo(self, mark: int) -> None:
        """Give back what was reserved since ``mark``, in memory (nothing is written yet)."""
        for res in self.made[mark:]:
            res.stock.reserved -= res.qty
        del self.made[mark:]

    def write(self) -> None:
        """Save the new ``reserved`` of the touched rows and insert the reservations made."""
        if self.touched:
            # sent first: inside fastsql.pipeline() the checks' statements follow it without
            # waiting for it in between (they see it: one connection, in order)
            written = send_reservations(sorted(self.touched.values(), key=lambda x: x.pk), self.made)
            pids = {lvl.product_id for lvl in self.touched.values()}
            known = None
            if self.safety is not None:
                known = {pid: (self.free(pid), *self.safety.get(pid, (ZERO, False))) for pid in pids}
            check_crossings(pids, known=known)
            written()
        self.touched, self.made = {}, []


def _close_reservations(*, order_id: int, actor: Actor, consume: bool, note: str,
                        expired_at: datetime | None = None) -> list[Reservation]:
    with transaction.atomic(savepoint=False):
        rows = Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
        if expired_at is not None:
            rows = rows.filter(expires_at__lte=expired_at)
        active = list(rows)
        if not active:
            return []
        levels = {lvl.pk: lvl for lvl in _locked_levels_by_pk(r.stock_id for r in active)}
        now = clock.now()
        moves = []
        for res in active:
            lvl = levels[res.stock_id]
            lvl.reserved -= res.qty
            if consume:
                lvl.on_hand -= res.qty
                moves.append(StockMove(stock_id=lvl.pk, kind=StockMove.Kind.SHIPMENT, qty=-res.qty,
                                       order_id=order_id, at=now, actor=actor.label[:150],
                                       note=note[:200]))
        StockLevel.objects.bulk_update(list(levels.values()),
                                       ["reserved", "on_hand"] if consume else ["reserved"])
        status = Reservation.Status.CONSUMED if consume else Reservation.Status.RELEASED
        Reservation.objects.filter(pk__in=[r.pk for r in active]).update(
            status=status, closed_at=now, closed_by=actor.label[:150])
        if moves:
            StockMove.objects.bulk_create(moves)
        else:  # (a shipment leaves free stock as it was)
            check_crossings({lvl.product_id for lvl in levels.values()})
        for res in active:
            res.status = status
        return active


def _locked_levels_by_pk(pks: Iterable[int]) -> list[StockLevel]:
    return list(lock_own_rows(StockLevel.objects.all()).filter(pk__in=set(pks)).order_by("pk"))


def stock_release(*, order_id: int, actor: Actor, note: str = "") -> list[Reservation]:
    """Give back everything the order holds (cancel, hold with release, expiry)."""
    return _close_reservations(order_id=order_id, actor=actor, consume=False, note=note)


def stock_release_expired(*, order_id: int, actor: Actor, now: datetime) -> list[Reservation]:
    """Give back the order's holds whose ``expires_at`` is at or before ``now`` (the expiry job)."""
    return _close_reservations(order_id=order_id, actor=actor, consume=False, note="", expired_at=now)


def orders_with_expired_holds(*, now: datetime, limit: int) -> list[int]:
    """Orders holding stock past its expiry (the partial index on open expiring holds)."""
    return list(Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lte=now)
                .order_by("order_id").values_list("order_id", flat=True).distinct()[:limit])


def stock_consume(*, order_id: int, actor: Actor, note: str = "") -> list[Reservation]:
    """Ship what the order holds: on hand and reserved both go down, a shipment move is kept."""
    return _close_reservations(order_id=order_id, actor=actor, consume=True, note=note)


def stock_receive(*, product_id: int, warehouse_id: int, qty: Decimal, actor: Actor,
                  note: str = "", kind: str = StockMove.Kind.RECEIPT) -> StockLevel:
    """Put stock on hand (goods receipt or a positive/negative adjustment)."""
    with transaction.atomic():
        lvl, _ = StockLevel.objects.get_or_create(product_id=product_id, warehouse_id=warehouse_id)
        StockLevel.objects.filter(pk=lvl.pk).update(on_hand=F("on_hand") + qty)
        StockMove.objects.create(stock=lvl, kind=kind, qty=qty, at=clock.now(),
                                 actor=actor.label[:150], note=note[:200])
        lvl.refresh_from_db()
        check_crossings([product_id])
        return lvl


def stock_adjust(*, product_id: int, warehouse_id: int, qty: Decimal, actor: Actor, note: str) -> StockLevel:
    """A stock-taker's correction or a goods receipt entered by hand. Refused, naming the
    reason, when it would leave less on hand than is reserved."""
    if not actor.has_perm("inventory.change_stocklevel"):
        raise PermissionDenied("permission_denied", _("You may not change stock."))
    if not note.strip():
        raise ValidationFailed("reason_required", _("Say why the stock changes."),
                               problems=[Problem("required", _("Say why the stock changes."), field="note")])
    if qty == 0 or not qty.is_finite():
        raise ValidationFailed("invalid_quantity", _("The change must be a number other than zero."),
                               problems=[Problem("invalid_quantity", _("The change must be a number other than zero."),
                                                 field="qty")])
    kind = StockMove.Kind.RECEIPT if qty > 0 else StockMove.Kind.ADJUSTMENT
    try:
        with transaction.atomic():
            return stock_receive(product_id=product_id, warehouse_id=warehouse_id, qty=qty, actor=actor,
                                 note=note, kind=kind)
    except IntegrityError as e:
        raise ValidationFailed("stock_below_reserved",
                               _("Stock on hand cannot fall below zero or below what is reserved."),
                               problems=[Problem("stock_below_reserved",
                                                 _("Stock on hand cannot fall below zero or below what is reserved."),
                                                 field="qty")]) from e


@dataclass
class Rebalance:
    """What :func:`stock_rebalance` did: reservations made, quantities given back by product,
    and (when nothing was written) what is short."""

    made: list[Reservation]
    released: dict[int, Decimal]
    shortages: list[Shortage]


def stock_detach_lines(*, order_id: int, line_ids: Iterable[int]) -> int:
    """Reservations (of any status) of order lines about to be deleted keep their product and
    quantity but no longer name the line; returns how many. Active ones are then the first
    :func:`stock_rebalance` gives back."""
    ids = list(line_ids)
    if not ids:
        return 0
    return Reservation.objects.filter(order_id=order_id, line_id__in=ids).update(line=None)


def stock_rebalance(*, order_id: int, requirements: list[Requirement], actor: Actor,
                    release_condition: str, expires_at: datetime | None = None,
                    products: Iterable[int] | None = None) -> Rebalance:
    """Make what an order holds match ``requirements`` after its lines changed: give back what
    is no longer needed (reservations that name no line first, e.g. of deleted lines, then the
    newest), reserve what is newly needed, never more than is free. Every stock row involved is
    locked first, in primary-key order, so this serialises with ``stock_reserve`` without
    deadlocks. When anything is short nothing is reserved and the shortages are returned (the
    caller rolls back). ``products``: only these products are compared (the ones the change
    touched; the order's other reservations and their stock rows are left alone, unlocked)."""
    scope = None if products is None else set(products)
    if scope is not None:
        requirements = [r for r in requirements if r.product_id in scope]
        if not scope:
            return Rebalance([], {}, [])
    with transaction.atomic(savepoint=False):
        active_qs = Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
        if scope is not None:
            active_qs = active_qs.filter(product_id__in=scope)
        active = list(active_qs.order_by("-pk"))
        levels = {lvl.pk: lvl for lvl in _locked_levels({r.product_id for r in requirements}
                                                         | {r.product_id for r in active})}
        needed: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for req in requirements:
            needed[req.product_id] += req.qty
        held: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for res in active:
            held[res.product_id] += res.qty
        released = _release_excess(active, levels, needed, held, actor=actor)
        # what the order still holds counts towards its needs, line by line
        left = {pid: held[pid] - released.get(pid, ZERO) for pid in held}
        todo = []
        for req in requirements:
            keep = min(left.get(req.product_id, ZERO), req.qty)
            left[req.product_id] = left.get(req.product_id, ZERO) - keep
            if req.qty - keep > 0:
                todo.append(Requirement(req.product_id, req.qty - keep, req.line_id))
        made, shortages = stock_reserve(order_id=order_id, requirements=todo, actor=actor,
                                        release_condition=release_condition, expires_at=expires_at)
        if released:
            check_crossings(released)
        return Rebalance(made, released, shortages)


def _release_excess(active: list[Reservation], levels: dict[int, StockLevel], needed: dict[int, Decimal],
                    held: dict[int, Decimal], *, actor: Actor) -> dict[int, Decimal]:
    """Release the part of ``active`` (newest first) beyond ``needed``; a reservation only
    partly given back is closed and its remainder kept as a new active reservation."""
    excess = {pid: qty - needed.get(pid, ZERO) for pid, qty in held.items() if qty > needed.get(pid, ZERO)}
    if not excess:
        return {}
    now = clock.now()
    closed: list[Reservation] = []
    remainders: list[Reservation] = []
    released: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for res in sorted(active, key=lambda r: r.line_id is not None):  # stable: newest first within
        over = excess.get(res.product_id, ZERO)
        if over <= 0:
            continue
        take = min(over, res.qty)
        excess[res.product_id] = over - take
        released[res.product_id] += take
        levels[res.stock_id].reserved -= take
        closed.append(res)
        if take < res.qty:
            remainders.append(Reservation(
                order_id=res.order_id, line_id=res.line_id,
                stock_id=res.stock_id, product_id=res.product_id, qty=res.qty - take, created_at=now,
                created_by=actor.label[:150], release_condition=res.release_condition,
                expires_at=res.expires_at))
    Reservation.objects.filter(pk__in=[r.pk for r in closed]).update(
        status=Reservation.Status.RELEASED, closed_at=now, closed_by=actor.label[:150])
    # the new ``reserved`` of the stock rows and the remainders: the reservation write's twins
    write_reservations(list({r.stock_id: levels[r.stock_id] for r in closed}.values()), remainders)
    return dict(released)


@dataclass(frozen=True)
class ShipItem:
    """What leaves for one order line: ``qty`` of ``product_id`` in the base unit."""

    line_id: int
    product_id: int
    qty: Decimal


@dataclass(frozen=True)
class Shipped:
    product_id: int
    warehouse_id: int
    qty: Decimal
    from_reservation: bool


def stock_ship(*, order_id: int, items: list[ShipItem], actor: Actor, note: str) -> list[Shipped]:
    """Take ``items`` out of stock for a (partial) shipment: first what the line holds reserved
    of its own product (the reservation is consumed; a part of one is split off), then free stock
    by warehouse priority. On hand and reserved go down, each draw a shipment move. Refused
    (``stock_short``, nothing written) when on hand cannot cover it."""
    if not items:
        return []
    with transaction.atomic(savepoint=False):
        # the stock rows first (the order every stock write locks in); the reservations are the
        # order's own, and the caller holds the order's lock
        levels = _locked_levels(i.product_id for i in items)
        active = list(Reservation.objects.filter(
            order_id=order_id, status=Reservation.Status.ACTIVE,
            line_id__in=[i.line_id for i in items]).order_by("pk"))
        by_pk = {lvl.pk: lvl for lvl in levels}
        now, who = clock.now(), actor.label[:150]
        out: list[Shipped] = []
        moves: list[StockMove] = []
        consumed: list[Reservation] = []
        split: list[Reservation] = []
        partial: dict[int, Reservation] = {}
        for item in items:
            left = item.qty
            for res in active:
                if left <= 0:
                    break
                if res.line_id != item.line_id or res.product_id != item.product_id or res.qty <= 0:
                    continue
                take = min(res.qty, left)
                lvl = by_pk[res.stock_id]
                lvl.reserved -= take
                lvl.on_hand -= take
                left -= take
                out.append(Shipped(item.product_id, lvl.warehouse_id, take, True))
                if take == res.qty:
                    consumed.append(res)
                else:   # the rest stays reserved; the shipped part becomes a consumed row
                    res.qty -= take
                    partial[res.pk] = res
                    split.append(Reservation(
                        order_id=order_id, line_id=res.line_id, stock_id=res.stock_id,
                        product_id=res.product_id, qty=take, status=Reservation.Status.CONSUMED,
                        created_at=res.created_at, created_by=res.created_by,
                        release_condition=res.release_condition, closed_at=now, closed_by=who))
                moves.append(StockMove(stock_id=lvl.pk, kind=StockMove.Kind.SHIPMENT, qty=-take,
                                       order_id=order_id, at=now, actor=who, note=note[:200]))
            left = _ship_free(item, left, levels, out, moves, order_id=order_id, now=now, who=who,
                              note=note)
            if left > 0:
                raise Conflict("stock_short", _("Not enough stock: %(qty)s short (base unit).") % {
                    "qty": left.normalize()}, problems=[Problem(
                        "stock_short", _("Not enough stock: %(qty)s short (base unit).") % {"qty": left.normalize()},
                        field=f"line:{item.line_id}")])
        StockLevel.objects.bulk_update(levels, ["reserved", "on_hand"])
        if consumed:
            Reservation.objects.filter(pk__in=[r.pk for r in consumed]).update(
                status=Reservation.Status.CONSUMED, closed_at=now, closed_by=who)
        if partial:
            Reservation.objects.bulk_update(list(partial.values()), ["qty"])
        if split:
            Reservation.objects.bulk_create(split)
        StockMove.objects.bulk_create(moves)
        return out


def _ship_free(item: ShipItem, left: Decimal, levels: list[StockLevel], out: list[Shipped],
               moves: list[StockMove], *, order_id: int, now: datetime, who: str, note: str) -> Decimal:
    """Draw ``left`` of the item's product from free stock (on hand less reserved), warehouses
    by priority; what cannot be drawn is returned."""
    ordered = sorted((lvl for lvl in levels if lvl.product_id == item.product_id),
                     key=lambda x: (x.warehouse.priority, x.warehouse.code, x.pk))
    for lvl in ordered:
        if left <= 0:
            break
        free = lvl.on_hand - lvl.reserved
        if free <= 0:
            continue
        take = min(free, left)
        lvl.on_hand -= take
        left -= take
        out.append(Shipped(item.product_id, lvl.warehouse_id, take, False))
        moves.append(StockMove(stock_id=lvl.pk, kind=StockMove.Kind.SHIPMENT, qty=-take,
                               order_id=order_id, at=now, actor=who, note=note[:200]))
    return left
