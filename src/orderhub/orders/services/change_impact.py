"""What a change request would do to its order, computed before anyone approves (a pure read).

The proposed lines are the line edit's own (``lines._Edit``, in memory, nothing saved); what
they need of stock is worked out as the apply's ``stock_rebalance`` is fed (the reserving
action of the stages entered, the BOM when it says so); kitting and the current stage's guards
are the very functions a move and the apply evaluate (``kitting_problems``, ``evaluate_guards``
over ``OrderFacts``), and credit is ``OrderFacts.credit_available``, as the credit guard reads it."""

from __future__ import annotations

import copy
from collections import defaultdict
from decimal import Decimal
from typing import Any

from orderhub.catalog.models import Product
from orderhub.inventory.selectors import available_by_product, reserved_for_order
from orderhub.inventory.services import Requirement
from orderhub.workflow.spec import CompiledWorkflow

from ..facts import OrderFacts
from ..kitting import bom_requirements, fmt_qty, kitting_problems
from ..models import Order
from .lines import _Edit, reserving_action
from .stages import evaluate_guards

DATE_FIELDS = ("required_date", "promised_date")


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def _stock(order: Order, edit: _Edit, wf: CompiledWorkflow) -> dict[str, Any]:
    """Per product: what the order holds now, what it would need, the difference and the free
    stock, and whether it is short (only when the order holds stock at its stage)."""
    act = reserving_action(order, wf)
    held = reserved_for_order(order.pk)
    lines = edit.lines
    if act is None:
        return {"holds_stock": False, "products": []}
    if act.bom:
        reqs, products = bom_requirements(lines)
    else:
        reqs = [Requirement(ln.product_id, ln.base_qty, ln.pk) for ln in lines]
        products = {ln.product_id: ln.product for ln in lines}
    needed: dict[int, Decimal] = defaultdict(Decimal)
    for r in reqs:
        needed[r.product_id] += r.qty
    involved = set(needed) | {pid for pid, q in held.items() if q}
    missing = involved - set(products)
    if missing:
        products.update({p.pk: p for p in Product.objects.filter(pk__in=missing)})
    free = available_by_product(involved)
    rows = []
    for pid in sorted(involved, key=lambda p: products[p].sku):
        now, want = held.get(pid, Decimal(0)), needed.get(pid, Decimal(0))
        if now == want:
            continue
        delta = want - now
        short = max(Decimal(0), delta - free.get(pid, Decimal(0)))
        rows.append({"sku": products[pid].sku, "name": products[pid].name, "unit": products[pid].unit,
                     "held": fmt_qty(now), "needed": fmt_qty(want),
                     "freed": fmt_qty(-delta) if delta < 0 else "0",
                     "to_reserve": fmt_qty(delta) if delta > 0 else "0",
                     "free": fmt_qty(free.get(pid, Decimal(0))), "short": fmt_qty(short)})
    return {"holds_stock": True, "products": rows}


def change_impact(order: Order, edit: _Edit, header_diff: dict[str, list[Any]],
                  wf: CompiledWorkflow) -> dict[str, Any]:
    """The impact of the proposed change (``edit``: the lines as proposed; ``header_diff``:
    {field: [before, after]}) on ``order`` as it is now, as JSON-ready data."""
    proposed = copy.copy(order)
    for key, (_before, after) in header_diff.items():
        setattr(proposed, key, after)
    lines = edit.lines
    facts = OrderFacts(proposed, lines)
    before_total = order.total_amount
    after_total = sum((ln.amount for ln in lines), Decimal(0))
    proposed.total_amount = after_total
    available = facts.credit_available
    kitting = [p.message for p in kitting_problems(facts, "kitting")] if _needs_bom(order, wf) else []
    guards = [] if order.forced else [p.message for p in evaluate_guards(proposed, lines, wf.stage(order.stage),
                                                                          facts)]
    deadlines = []
    for key in DATE_FIELDS:
        if key in header_diff:
            before, after = header_diff[key]
            moved = (after - before).days if before and after else None
            deadlines.append({"field": key, "before": before.isoformat() if before else None,
                              "after": after.isoformat() if after else None, "days": moved})
    req = proposed.required_date
    late = bool(proposed.promised_date and req and proposed.promised_date > req)
    return {
        "stock": _stock(order, edit, wf),
        "kitting": kitting,
        "guards": guards,
        "deadlines": deadlines,
        "promised_after_required": late,
        "credit": {"total_before": _money(before_total), "total_after": _money(after_total),
                   "amount_changes": before_total != after_total,
                   "available": _money(available), "over_limit": after_total > available,
                   "currency": order.currency},
        "lines": edit.summary(),
    }


def _needs_bom(order: Order, wf: CompiledWorkflow) -> bool:
    """Whether kitting matters for this order: a stage of its workflow checks it or reserves by BOM."""
    for stage in wf.stages.values():
        if any(g.spec.check == "kitting" for g in stage.guards) or any(
                a.action == "reserve_stock" and a.bom for a in stage.spec.on_enter):
            return True
    return False
