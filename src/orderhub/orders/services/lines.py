"""Editing an order's lines after creation: add, remove, change quantity or price.

One transaction: the order is locked with its lines, the changes applied, the reservations
brought in line with the new quantities (when the order holds stock), the current stage's
guards checked again, and the event, the snapshot and the new version written together."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from orderhub.catalog.prices import price_book
from orderhub.catalog.selectors import MasterData, master_data, to_base_qty
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.errors import DomainError, PermissionDenied, Problem, ValidationFailed
from orderhub.core.instances import new
from orderhub.core.permissions import allowed, check_line_prices
from orderhub.core.text import text_fault
from orderhub.inventory.services import Requirement, stock_detach_lines, stock_rebalance
from orderhub.workflow.services import compiled
from orderhub.workflow.spec import ActionSpec, CompiledWorkflow

from .. import events
from ..editing import edit_refusal
from ..facts import OrderFacts
from ..kitting import bom_requirements, fmt_qty
from ..locks import lock_order_with_lines
from ..models import Order, OrderLine, StageInstance
from ..store import write_lines, write_order_change
from .common import CENT, MAX_LINES, MAX_MONEY, MAX_QTY, make_snapshot, next_event
from .stages import evaluate_guards

Op = Literal["add", "remove", "update"]


@dataclass(frozen=True)
class LineChange:
    """One change of a line. ``add``: ``sku`` and ``qty`` (``unit``, ``unit_price``,
    ``remarks`` optional, the price defaulting to the list price); ``remove``: ``line_no``;
    ``update``: ``line_no`` and any of ``qty``, ``unit``, ``unit_price``, ``remarks``."""

    op: Op
    line_no: int | None = None
    sku: str = ""
    qty: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None
    remarks: str | None = None


_FIELDS = ("total_amount", "version", "updated_at", "audit_seq", "audit_head")


def order_lines_change(*, order: Order | str, changes: list[LineChange], actor: Actor,
                       reason: str = "") -> Order:
    """Apply ``changes`` to the order's lines while its stage allows edits (``edit_refusal``).
    A price other than the standard one needs the price permission (as at creation); the order
    keeps what it holds of stock matched to the new quantities (``stock_rebalance``: freed or
    reserved, never oversold; 409 ``stock_short`` when stock is missing); the guards of the
    current stage must still pass (409 ``blocked``; not for an order forced into its stage).
    The event ``order.lines_changed`` records each line's before and after; a snapshot is kept
    at the new version."""
    if not allowed(actor, "orders.edit_lines"):
        raise PermissionDenied("permission_denied", _("You may not change an order's lines."))
    if not changes:
        raise ValidationFailed("invalid", _("Nothing to change."),
                               problems=[Problem("required", _("Nothing to change."), field="changes")])
    if text_fault(reason, multiline=True):
        raise ValidationFailed("invalid", _("Invalid value for %(field)s.") % {"field": "reason"},
                               problems=[Problem("invalid_text", str(text_fault(reason, multiline=True)),
                                                 field="reason")])
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked, lines = lock_order_with_lines(number)
        wf = compiled(locked.workflow_id)
        refusal = edit_refusal(locked, wf)
        if refusal:
            raise DomainError("not_editable", refusal, status=409)
        lk = master_data(skus=[c.sku for c in changes if c.op == "add"]
                         + [ln.product.sku for ln in lines if ln.line_no in {c.line_no for c in changes}])
        edit = _Edit(locked, lines, lk)
        edit.apply(changes)
        _check_prices(actor, locked, edit)
        now = clock.now()
        return _write(locked, edit, wf, actor=actor, now=now, reason=reason)


class _Edit:
    """The lines as the changes leave them, with what changed."""

    def __init__(self, order: Order, lines: list[OrderLine], lk: MasterData):
        self.order, self.lk = order, lk
        self.by_no = {ln.line_no: ln for ln in lines}
        self.before = {ln.line_no: _line_state(ln) for ln in lines}
        self.removed: list[OrderLine] = []
        self.added: list[OrderLine] = []
        self.changed: dict[int, OrderLine] = {}
        self.priced: list[tuple[int, OrderLine]] = []   # (change index, line) with a price set
        self.next_no = max(self.by_no, default=0) + 1
        self.problems: list[Problem] = []

    def apply(self, changes: list[LineChange], *, allow_empty: bool = False) -> None:
        for i, ch in enumerate(changes):
            if ch.op == "add":
                self._add(i, ch)
                continue
            line = self.by_no.get(ch.line_no) if ch.line_no is not None else None
            if line is None:
                self.problems.append(Problem("unknown_line", _("The order has no line %(n)s.") % {"n": ch.line_no},
                                             field=f"changes[{i}].line_no"))
            elif ch.op == "remove":
                del self.by_no[line.line_no]
                self.changed.pop(line.line_no, None)
                if any(line is a for a in self.added):
                    self.added = [a for a in self.added if a is not line]
                else:
                    self.removed.append(line)
            else:
                self._update(i, ch, line)
        if not self.by_no:
            self.problems.append(Problem("required", _("An order needs at least one line."), field="changes"))
        if len(self.by_no) > MAX_LINES:
            self.problems.append(Problem("too_many", _("An order may have at most %(n)d lines.") % {"n": MAX_LINES},
                                         field="changes"))
        if self.problems:
            raise ValidationFailed("invalid", self.problems[0].message, problems=self.problems)
        if not (allow_empty or self.removed or self.added
                or any(_line_state(ln) != self.before.get(no) for no, ln in self.changed.items())):
            raise DomainError("no_change", _("Nothing to change."), status=409)

    def _add(self, i: int, ch: LineChange) -> None:
        fault = text_fault(ch.sku) or text_fault(ch.unit or "") or text_fault(ch.remarks or "", multiline=True)
        product = self.lk.products.get(ch.sku)
        if fault or product is None:
            self.problems.append(Problem("unknown_sku", fault or _("Unknown SKU '%(sku)s'.") % {"sku": ch.sku},
                                         field=f"changes[{i}].sku"))
            return
        no = self.next_no if ch.line_no is None else ch.line_no   # a restore keeps the old numbers
        if no in self.by_no:
            self.problems.append(Problem("line_taken", _("The order has a line %(n)s already.") % {"n": no},
                                         field=f"changes[{i}].line_no"))
            return
        line = new(OrderLine, order=self.order, line_no=no, product=product,
                   qty=Decimal(0), unit=ch.unit or product.unit, base_qty=Decimal(0),
                   unit_price=product.list_price, amount=Decimal(0), remarks=(ch.remarks or "")[:500])
        self.next_no = max(self.next_no, no + 1)
        if ch.qty is None:
            self.problems.append(Problem("required", _("Quantity must be greater than zero."),
                                         field=f"changes[{i}].qty"))
            return
        if self._set(i, line, ch):
            self.by_no[line.line_no] = line
            self.added.append(line)

    def _update(self, i: int, ch: LineChange, line: OrderLine) -> None:
        if ch.remarks is not None and text_fault(ch.remarks, multiline=True):
            self.problems.append(Problem("invalid_text", str(text_fault(ch.remarks, multiline=True)),
                                         field=f"changes[{i}].remarks"))
            return
        if ch.unit is not None and text_fault(ch.unit):
            self.problems.append(Problem("invalid_text", str(text_fault(ch.unit)), field=f"changes[{i}].unit"))
            return
        if ch.remarks is not None:
            line.remarks = ch.remarks[:500]
        if self._set(i, line, ch) and line not in self.added:
            self.changed[line.line_no] = line

    def _set(self, i: int, line: OrderLine, ch: LineChange) -> bool:
        """Quantity, unit and price of ``line`` from ``ch`` (kept where ``ch`` says nothing)."""
        qty = line.qty if ch.qty is None else ch.qty
        unit = ch.unit or line.unit
        price = line.unit_price if ch.unit_price is None else ch.unit_price
        f = f"changes[{i}]"
        if not qty.is_finite() or qty <= 0:
            self.problems.append(Problem("invalid_quantity", _("Quantity must be greater than zero."), field=f"{f}.qty"))
            return False
        base_qty, problem = to_base_qty(line.product, qty, unit, self.lk.factors)
        if problem:
            self.problems.append(Problem("unknown_unit", _("Unit '%(unit)s' cannot be converted to %(base)s for %(sku)s.")
                                         % {"unit": unit, "base": line.product.unit, "sku": line.product.sku},
                                         field=f"{f}.unit"))
            return False
        if base_qty <= 0 or base_qty >= MAX_QTY:
            self.problems.append(Problem("invalid_quantity", _("Quantity is too large.") if base_qty > 0
                                         else _("Quantity rounds to zero in the base unit."), field=f"{f}.qty"))
            return False
        if not price.is_finite() or price < 0:
            self.problems.append(Problem("invalid_price", _("Unit price cannot be negative."), field=f"{f}.unit_price"))
            return False
        amount = (qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount >= MAX_MONEY:
            self.problems.append(Problem("out_of_range", _("Line amount is too large."), field=f"{f}.unit_price"))
            return False
        line.qty, line.unit, line.base_qty, line.unit_price, line.amount = qty, unit, base_qty, price, amount
        if ch.unit_price is not None or ch.op == "add":
            self.priced.append((i, line))
        return True

    @property
    def lines(self) -> list[OrderLine]:
        return [self.by_no[n] for n in sorted(self.by_no)]

    def summary(self) -> list[dict[str, Any]]:
        """Each touched line: its number, SKU, and its state before and after (None: absent)."""
        out = [{"line_no": ln.line_no, "sku": ln.product.sku, "before": self.before[ln.line_no], "after": None}
               for ln in self.removed]
        out += [{"line_no": ln.line_no, "sku": ln.product.sku, "before": self.before[ln.line_no],
                 "after": _line_state(ln)} for ln in self.changed.values()
                if _line_state(ln) != self.before[ln.line_no]]
        out += [{"line_no": ln.line_no, "sku": ln.product.sku, "before": None, "after": _line_state(ln)}
                for ln in self.added]
        return sorted(out, key=lambda d: d["line_no"])


def _line_state(ln: OrderLine) -> dict[str, Any]:
    return {"qty": ln.qty, "unit": ln.unit, "unit_price": ln.unit_price, "amount": ln.amount, "remarks": ln.remarks}


def _check_prices(actor: Actor, order: Order, edit: _Edit) -> None:
    """The creation rule (``check_line_prices``) on every line whose price the edit sets, each
    refusal named by the change that set it (``changes[2].unit_price``)."""
    if not edit.priced:
        return
    try:
        check_line_prices(actor=actor, customer=order.customer, lines=[ln for _i, ln in edit.priced],
                          prices=price_book(order.customer_id))
    except PermissionDenied as exc:
        where = {f"lines[{ln.line_no - 1}].unit_price": f"changes[{i}].unit_price" for i, ln in edit.priced}
        exc.problems = [replace(p, field=where.get(p.field or "", p.field)) for p in exc.problems]
        raise


def reserving_action(order: Order, wf: CompiledWorkflow) -> ActionSpec | None:
    """The ``reserve_stock`` action whose reservations the order holds now: the last stock
    action of the stages it entered, if that one reserves (None once released or consumed, or
    before any stage reserved)."""
    last: ActionSpec | None = None
    for code in StageInstance.objects.filter(order=order).order_by("entered_at", "pk").values_list("stage", flat=True):
        if code not in wf.stages:
            continue
        for act in wf.stage(code).spec.on_enter:
            if act.action in ("reserve_stock", "release_stock", "consume_stock"):
                last = act
    return last if last is not None and last.action == "reserve_stock" else None


def _rebalance(order: Order, lines: list[OrderLine], edit: _Edit, wf: CompiledWorkflow,
               actor: Actor, now: datetime) -> dict[str, Any]:
    act = reserving_action(order, wf)
    if act is None:
        return {}
    touched = [*edit.added, *edit.changed.values(), *edit.removed]
    if act.bom:
        reqs, products = bom_requirements(lines)
        scope = set(bom_requirements(touched)[1])    # the components of the lines the edit touched
    else:
        reqs = [Requirement(ln.product_id, ln.base_qty, ln.pk) for ln in lines]
        products = {ln.product_id: ln.product for ln in lines}
        scope = {ln.product_id for ln in touched}
    products.update({ln.product_id: ln.product for ln in edit.removed})
    expires = now + timedelta(hours=float(act.expires_in_hours)) if act.expires_in_hours else None
    result = stock_rebalance(order_id=order.pk, requirements=reqs, actor=actor,
                             release_condition=act.release_condition or _("released on cancel"),
                             expires_at=expires, products=scope)
    if result.shortages:
        def name(pid: int) -> str:
            return products[pid].name if pid in products else str(pid)

        problems = [Problem("stock_short", _("Not enough stock: %(name)s short by %(missing)s %(unit)s") % {
            "name": name(s.product_id), "missing": fmt_qty(s.missing),
            "unit": products[s.product_id].unit if s.product_id in products else ""},
            data={"missing": str(s.missing)}) for s in result.shortages]
        raise DomainError("stock_short", problems[0].message, problems=problems, status=409)
    return {"reserved": [{"product_id": r.product_id, "qty": r.qty, "warehouse_stock_id": r.stock_id}
                         for r in result.made],
            "released": [{"product_id": pid, "qty": qty} for pid, qty in sorted(result.released.items())]}


@dataclass
class Extra:
    """What a caller other than ``order_lines_change`` adds to the edit's version (a restore):
    its event type, the header fields it changed ({field: [before, after]}, already set on the
    order) and more event data."""

    action: str = events.ORDER_LINES_CHANGED
    header: dict[str, list[Any]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def _check_shipped(edit: _Edit) -> None:
    """A line that shipments take (planned or shipped, ``shipping.ShipmentLine`` through its
    reverse relation: orders imports nothing of shipping) can be neither removed nor reduced
    below what they take (in the base unit): 409 ``shipped_line``, each line named."""
    touched = {ln.pk: ln for ln in [*edit.removed, *edit.changed.values()] if ln.pk}
    if not touched:
        return
    taken: dict[int, Decimal] = {
        pk: q for pk, q in OrderLine.objects.filter(pk__in=list(touched), shipment_lines__isnull=False)
        .values("pk").annotate(q=Sum("shipment_lines__base_qty")).values_list("pk", "q")}
    removed = {ln.pk for ln in edit.removed}
    problems = []
    for pk, qty in taken.items():
        line = touched[pk]
        if pk in removed or line.base_qty < qty:
            problems.append(Problem(
                "shipped_line", _("第 %(n)s 行已有发货单占用 %(qty)s %(unit)s，不能删除或减到这个数以下。") % {
                    "n": line.line_no, "qty": fmt_qty(qty), "unit": line.product.unit},
                field="changes", data={"line_no": line.line_no, "shipped_base_qty": fmt_qty(qty)}))
    if problems:
        raise DomainError("shipped_line", problems[0].message, problems=problems, status=409)


def _write(order: Order, edit: _Edit, wf: CompiledWorkflow, *, actor: Actor, now: datetime,
           reason: str, extra: Extra | None = None) -> Order:
    extra = extra or Extra()
    _check_shipped(edit)
    lines = edit.lines
    total = sum((ln.amount for ln in lines), Decimal(0))
    if total >= MAX_MONEY:
        raise ValidationFailed("out_of_range", _("Order total is too large."),
                               problems=[Problem("out_of_range", _("Order total is too large."), field="changes")])
    # removed lines go first (their numbers may be taken again); their reservations stay, naming
    # no line, and are the first the rebalance gives back
    stock_detach_lines(order_id=order.pk, line_ids=[ln.pk for ln in edit.removed])
    write_lines([], [], edit.removed)
    write_lines(edit.added, list(edit.changed.values()), [])
    stock = _rebalance(order, lines, edit, wf, actor, now)
    before_total = order.total_amount
    order.total_amount = total
    if not order.forced:
        reasons = evaluate_guards(order, lines, wf.stage(order.stage), OrderFacts(order, lines))
        if reasons:
            raise DomainError("blocked", reasons[0].message, problems=reasons, status=409)
    order.version += 1
    order.updated_at = now
    changes: dict[str, Any] = {**extra.header, "version": [order.version - 1, order.version]}
    if before_total != total:
        changes["total_amount"] = [before_total, total]
    ev = next_event(order, action=extra.action, actor=actor, now=now, changes=changes,
                    data={**extra.data, "lines": edit.summary(), **stock}, reason=reason)
    write_order_change(order, (*_FIELDS, *extra.header), event=ev, snapshot=make_snapshot(order, lines, now))
    publish = {events.ORDER_RESTORED: events.order_restored,
               events.ORDER_CHANGE_APPLIED: events.order_change_applied}.get(extra.action, events.order_lines_changed)
    publish(order=order, actor=actor, at=now, event=ev, lines=lines)
    return order
