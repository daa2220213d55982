"""Moving many orders through one transition in one transaction (bulk actions, batch intake).

Each order gets the outcome it would get moved on its own, in the order given
(:func:`~orderhub.orders.services.changes.order_transition`): moved, blocked with every reason
(kept on the order, an ``order.blocked`` event in its history), or refused with why (closed,
not allowed from its stage, not the stage owner's role, unknown). What differs is the cost:
the orders are locked together (primary-key order) with their lines, the guards' facts are
read once for the batch (reservations held, open amounts per customer, BOM items), the stock
rows of every product involved are locked once and reservations are made in memory against
them (so an order sees what earlier orders of the batch took: never oversold), and the rows are
written by one statement per shape (moved, blocked) and one for the stock. Every moved order
still gets its own audit event, stage instance and snapshot in its chain; the changes are
published to the order hooks as one list.

A target stage that releases or consumes stock on entry makes the batch go order by order
inside the transaction (a savepoint each), still with one write at the end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from orderhub.catalog.models import BomItem
from orderhub.core import clock, fastsql
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.models import AuditEvent
from orderhub.inventory.models import Reservation
from orderhub.inventory.selectors import available_by_product
from orderhub.inventory.services import Shortage, StockBook
from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledStage, CompiledWorkflow

from .. import events
from ..editing import frozen_refusal
from ..facts import OrderFacts
from ..hooks import OrderChange
from ..kitting import bom_items, bom_requirements
from ..locks import lock_move_stock, lock_orders_for_moves
from ..models import Order, OrderLine, Snapshot, StageInstance
from ..store import reserve_change_ids, send_order_changes
from .common import Blocked, make_snapshot, next_event
from .stages import enter_stage, run_entry_actions

MAX_BATCH = 1000
_MOVE_FIELDS = ("stage", "stage_entered_at", "stage_due_at", "status", "tags", "urgency", "promised_date", "version",
                "updated_at", "forced", "blocked_reasons", "audit_seq", "audit_head")
MOVED, BLOCKED, REFUSED = "moved", "blocked", "refused"
_BLOCK_FIELDS = ("blocked_reasons", "audit_seq", "audit_head")
# what entering a stage may change on the order before a guard or the stock says no
_ENTRY_FIELDS = ("stage", "stage_entered_at", "stage_due_at", "blocked_reasons", "status", "tags", "urgency",
                 "promised_date")
_STOCK_WRITING = ("release_stock", "consume_stock")


def _check_can_move(order: Order, wf: CompiledWorkflow, to: str, actor: Actor) -> CompiledStage:
    if order.status != Order.Status.OPEN:
        raise DomainError("order_closed", _("Order %(number)s is %(status)s and cannot move.")
                          % {"number": order.number, "status": order.get_status_display()}, status=409)
    if to not in wf.stages:
        raise ValidationFailed("unknown_stage", _("Stage '%(stage)s' does not exist in workflow %(wf)s.")
                               % {"stage": to, "wf": wf.spec.code},
                               problems=[Problem("unknown_stage", _("Unknown stage."), field="to")])
    current = wf.stage(order.stage)
    if to not in current.spec.next:
        raise DomainError("invalid_transition", _("Cannot move from %(a)s to %(b)s; allowed: %(allowed)s.")
                          % {"a": current.spec.name, "b": wf.stage(to).spec.name,
                             "allowed": ", ".join(wf.stage(n).spec.name for n in current.spec.next)},
                          status=409)
    if not actor.may_act_for_role(current.spec.owner_role):
        raise PermissionDenied("permission_denied", _("Only the %(role)s role may move an order out of %(stage)s.")
                               % {"role": current.spec.owner_role, "stage": current.spec.name})
    return wf.stage(to)


@dataclass
class BatchMove:
    """One order's outcome in a batch move."""

    number: str
    outcome: str                    # MOVED, BLOCKED or REFUSED
    order: Order | None = None      # as saved, or as it stands (refused); None: not found
    reasons: list[Problem] = field(default_factory=list)   # blocked: every reason
    error: DomainError | None = None                       # refused: why

    @property
    def ok(self) -> bool:
        return self.outcome == MOVED


def order_transition_batch(*, numbers: list[str], to: str, actor: Actor, reason: str = "",
                           force: bool = False) -> list[BatchMove]:
    """Move the orders ``numbers`` to stage ``to`` in one transaction; one :class:`BatchMove`
    per number, in the order given. ``force`` as for ``order_override`` (permission and reason
    checked once for the batch; each order's stage owner rule still per order)."""
    if len(numbers) > MAX_BATCH:
        raise ValidationFailed("too_many", _("At most %(n)d orders can be moved at once.") % {"n": MAX_BATCH},
                               problems=[Problem("too_many", _("Too many orders."), field="numbers")])
    if force:
        if not actor.has_perm("orders.override_guard"):
            raise PermissionDenied("permission_denied", _("You may not force an order past its guards."))
        if not reason.strip():
            raise ValidationFailed("reason_required", _("A forced move needs a reason."),
                                   problems=[Problem("required", _("A forced move needs a reason."), field="reason")])
    with transaction.atomic():
        locked, pending = lock_orders_for_moves(list(dict.fromkeys(numbers)))
        batch = _Batch(locked, pending, to=to, actor=actor, reason=reason, force=force)
        seen: set[str] = set()
        results = []
        for number in numbers:
            if number in seen:
                results.append(BatchMove(number, REFUSED, order=batch.locked.get(number, (None, []))[0], error=DomainError(
                    "duplicate", _("Order %(number)s is listed twice.") % {"number": number}, status=409)))
                continue
            seen.add(number)
            results.append(batch.move(number))
        reserve_change_ids(len(batch.moved) + len(batch.blocked))
        with fastsql.pipeline():
            # the stock, then the orders: every row has its id already, so each statement is
            # sent without waiting for the one before, and the Python work between them (the
            # stock's checks, the subscribers' notifications) overlaps the server's; the first
            # statement whose answer is needed waits for those before it
            if batch.book_mode and "book" in batch.__dict__:
                batch.book.write()
            written = batch.send()
            events.orders_moved(batch.published)
            for finish in written:
                finish()
    return results


class _Batch:
    def __init__(self, locked: dict[str, tuple[Order, list[OrderLine]]], pending: dict[int, int], *, to: str,
                 actor: Actor, reason: str, force: bool):
        self.locked, self.to, self.actor, self.reason, self.force = locked, to, actor, reason, force
        # the batch's orders that a pending change request freezes (read with the lock)
        self.frozen = pending
        self.now = clock.now()
        self.published: list[OrderChange] = []
        self.moved: list[tuple[Order, StageInstance, AuditEvent, Snapshot]] = []
        self.blocked: list[tuple[Order, AuditEvent]] = []
        targets = [compiled(o.workflow_id).stages.get(to) for o, _lines in locked.values()]
        actions = {a.action for t in targets if t is not None for a in t.spec.on_enter}
        # stock released or consumed on entry writes stock rows at once: order by order then
        self.book_mode = not actions & set(_STOCK_WRITING)
        self.reserving = "reserve_stock" in actions
        # a BOM-exploding reservation needs the components locked too
        self.exploding = any(a.action == "reserve_stock" and a.bom
                             for t in targets if t is not None for a in t.spec.on_enter)
        if not self.book_mode and len(locked) > 1:
            # order by order, each release or consumption locks its own stock rows: lock every row
            # the batch may touch first, in pk order, so two such batches never deadlock
            self.exploding = True
            StockBook.lock(self._product_ids())
        elif self.book_mode and self.reserving and locked and fastsql.available():
            # a reserving move needs the held stock, the BOM and the stock rows locked: one
            # statement for the three (the stock write's safety check then needs no query)
            credit = any(g.expression is not None and "credit_available" in g.expression.names
                         for t in targets if t is not None for g in t.guards)
            read = lock_move_stock([o.pk for o, _ls in locked.values()],
                                   {ln.product_id for _o, lines in locked.values() for ln in lines},
                                   explode=self.exploding,
                                   customers={o.customer_id for o, _ls in locked.values()} if credit else ())
            self.__dict__.update(held=read.held, bom_items=read.bom, book=read.book)
            if credit:
                self.__dict__["open_amounts"] = defaultdict(Decimal, read.open_amounts)

    # ------------------------------------------------------------------ facts for the batch

    @cached_property
    def held(self) -> dict[int, dict[int, Decimal]]:
        out: dict[int, dict[int, Decimal]] = defaultdict(dict)
        for row in (Reservation.objects.filter(order_id__in=[o.pk for o, _ls in self.locked.values()],
                                               status=Reservation.Status.ACTIVE)
                    .values("order_id", "product_id").annotate(q=Sum("qty"))):
            out[row["order_id"]][row["product_id"]] = row["q"]
        return out

    @cached_property
    def open_amounts(self) -> dict[int, Decimal]:
        rows = (Order.objects.filter(customer_id__in={o.customer_id for o, _ls in self.locked.values()},
                                     status=Order.Status.OPEN)
                .values("customer_id").annotate(s=Sum("total_amount")))
        return defaultdict(Decimal, {r["customer_id"]: r["s"] or Decimal(0) for r in rows})

    @cached_property
    def bom_items(self) -> dict[int, list[BomItem]]:
        return bom_items(ln.product_id for _o, lines in self.locked.values() for ln in lines)

    @cached_property
    def book(self) -> StockBook:
        """Every product the batch's reservations may draw on (the lines' products, and their
        components if a reservation explodes BOMs), locked; a guard reading other products'
        stock (a kitting check's components, substitutes) reads it unlocked, as for one order."""
        return StockBook.lock(self._product_ids())

    def _product_ids(self) -> set[int]:
        pids = {ln.product_id for _o, lines in self.locked.values() for ln in lines}
        if self.exploding:
            pids |= {item.component_id for items in self.bom_items.values() for item in items}
        return pids

    # ------------------------------------------------------------------ one order

    def move(self, number: str) -> BatchMove:
        if number not in self.locked:
            return BatchMove(number, REFUSED, error=NotFound(
                "order_not_found", _("Order %(number)s does not exist.") % {"number": number}))
        order, lines = self.locked[number]
        saved = {f: getattr(order, f) for f in _ENTRY_FIELDS}
        mark = self.book.mark() if "book" in self.__dict__ else 0
        try:
            if self.book_mode:
                return self._enter(order, lines)
            with transaction.atomic():   # stock written at once: undone with a refusal
                return self._enter(order, lines)
        except (Blocked, DomainError) as exc:
            for f, v in saved.items():
                setattr(order, f, v)
            if "book" in self.__dict__:   # what it reserved before being refused goes back
                self.book.undo(mark)
            if isinstance(exc, Blocked):
                return self._block(order, exc.reasons)
            return BatchMove(number, REFUSED, order=order, error=exc)

    def _enter(self, order: Order, lines: list[OrderLine]) -> BatchMove:
        frozen = frozen_refusal(order, self.frozen.get(order.pk))   # 变更审批中: a change request awaits approval
        if frozen:
            raise DomainError("change_pending", frozen, status=409)
        if order.on_hold:
            raise Blocked([Problem("on_hold", _("Order is on hold: %(reason)s") % {"reason": order.hold_reason})])
        wf = compiled(order.workflow_id)
        target = _check_can_move(order, wf, self.to, self.actor)
        actor, now, force = self.actor, self.now, self.force
        before: dict[str, Any] = {"stage": order.stage, "status": order.status, "urgency": order.urgency,
                                  "tags": list(order.tags), "version": order.version}
        facts = _BatchFacts(order, lines, self) if self.book_mode else OrderFacts(order, lines)
        inst = enter_stage(order, lines, wf, target, actor=actor, now=now, forced=force, facts=facts)
        done = run_entry_actions(order, lines, target, actor=actor, now=now, forced=force, facts=facts)
        order.version += 1
        order.updated_at = now
        if force:
            order.forced = True
        if order.status != Order.Status.OPEN:   # the customer's open amount shrinks for later guards
            self.open_amounts[order.customer_id] -= order.total_amount
        after = {"stage": order.stage, "status": order.status, "urgency": order.urgency,
                 "tags": list(order.tags), "version": order.version}
        ev = next_event(order, action=events.ORDER_FORCED if force else events.ORDER_TRANSITIONED, actor=actor,
                        now=now, changes={k: [before[k], after[k]] for k in before if before[k] != after[k]},
                        data={"from": before["stage"], "to": self.to, "actions": done}, reason=self.reason,
                        forced=force)
        self.moved.append((order, inst, ev, make_snapshot(order, lines, now)))
        self.published.append(events.order_transitioned_change(
            order=order, actor=actor, at=now, event=ev, entered=inst, left_stage=before["stage"], lines=lines))
        return BatchMove(order.number, MOVED, order=order)

    def _block(self, order: Order, reasons: list[Problem]) -> BatchMove:
        """As ``changes._record_block``: the reasons kept on the order, the attempt in its history."""
        plain = [r.as_dict() for r in reasons]
        changed = order.blocked_reasons != plain
        order.blocked_reasons = plain
        ev = next_event(order, action=events.ORDER_BLOCKED, actor=self.actor, now=self.now,
                        changes={"blocked_reasons": [None, plain]} if changed else {},
                        data={"to": self.to, "reasons": plain})
        self.blocked.append((order, ev))
        self.published.append(events.order_blocked_change(order=order, actor=self.actor, at=self.now,
                                                          event=ev, to=self.to))
        return BatchMove(order.number, BLOCKED, order=order, reasons=reasons)

    # ------------------------------------------------------------------ the writes

    def send(self) -> list[Callable[[], None]]:
        """Send the moved orders' rows, then the blocked ones': one statement each, ids from
        hi/lo blocks (:func:`~orderhub.orders.store.send_order_changes`); the functions that
        wait for them. The stock is written before (:meth:`StockBook.write`)."""
        out = []
        if self.moved:
            out.append(send_order_changes(
                [m[0] for m in self.moved], _MOVE_FIELDS, events=[m[2] for m in self.moved],
                entered=[m[1] for m in self.moved], close_open_stages_at=self.now,
                snapshots=[m[3] for m in self.moved]))
        if self.blocked:
            out.append(send_order_changes([b[0] for b in self.blocked], _BLOCK_FIELDS,
                                          events=[b[1] for b in self.blocked]))
        return out


class _BatchFacts(OrderFacts):
    """An order's facts read from what the batch read once, and its stock from the batch's
    locked stock book (free stock there counts what earlier orders of the batch reserved)."""

    def __init__(self, order: Order, lines: list[OrderLine], batch: _Batch):
        super().__init__(order, lines)
        self.batch = batch

    @cached_property
    def held_by_order(self) -> dict[int, Decimal]:
        return self.batch.held.get(self.order.pk, {})

    @cached_property
    def credit_available(self) -> Decimal:
        cust = self.order.customer
        others = self.batch.open_amounts[cust.pk] - (
            self.order.total_amount if self.order.status == Order.Status.OPEN else Decimal(0))
        return cust.credit_limit - others - cust.unpaid_amount

    @cached_property
    def bom(self):
        return bom_requirements(self.lines, self.batch.bom_items)

    def free_stock(self, product_ids: Iterable[int]) -> dict[int, Decimal]:
        pids = set(product_ids)
        if not self.batch.reserving:
            return available_by_product(pids)
        book = self.batch.book
        free = {pid: book.free(pid) for pid in pids if pid in book.products}
        if rest := pids - book.products:   # substitutes: read, not locked (as for one order)
            free.update(available_by_product(rest))
        return free

    def reserve(self, **kw: Any) -> tuple[list[Reservation], list[Shortage]]:
        return self.batch.book.reserve(**kw)
