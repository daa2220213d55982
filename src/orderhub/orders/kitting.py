"""BOM explosion and kitting: are all materials for an order there, or coming in time?

Kitting by date: a material short on stock still counts as kitted for the quantity open
purchase-order lines bring by the date the stage needs it (``need_by``: the deadline of the
stage being entered, or, for a stage without one, the order's promised date, else its required
date). A PO line counts for an order with what it serves for that order plus what it serves for
no order (``purchasing.selectors.incoming_for_order``). The reason (or, when the POs cover the
shortage, the note kept on the facts for the move's history) names each PO: ``由采购单 PO-0007
(12月5日到货) 补足 80 kg``; a PO due too late is named as such and does not count. The POs are
read only when something is short on stock (one query for all materials).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from orderhub.catalog.models import BomItem, Product, Substitute
from orderhub.core.errors import Problem
from orderhub.inventory.services import Requirement
from orderhub.purchasing.selectors import Incoming, incoming_for_order

from .models import OrderLine

if TYPE_CHECKING:
    from .facts import OrderFacts

Q4 = Decimal("0.0001")


def fmt_qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def bom_items(product_ids: Iterable[int]) -> dict[int, list[BomItem]]:
    """The BOM items of these products, by parent (one query)."""
    items: dict[int, list[BomItem]] = defaultdict(list)
    for item in BomItem.objects.filter(parent_id__in=set(product_ids)).select_related("component"):
        items[item.parent_id].append(item)
    return items


def bom_requirements(lines: list[OrderLine], items: dict[int, list[BomItem]] | None = None
                     ) -> tuple[list[Requirement], dict[int, Product]]:
    """Components each line needs (a product without a BOM stands for itself), and the
    products involved by id. One query whatever the line count (none: ``items`` known)."""
    if items is None:
        items = bom_items(ln.product_id for ln in lines)
    products: dict[int, Product] = {}
    reqs: list[Requirement] = []
    for ln in lines:
        bom = items.get(ln.product_id)
        if not bom:
            products[ln.product_id] = ln.product
            reqs.append(Requirement(ln.product_id, ln.base_qty, ln.pk))
            continue
        for item in bom:
            products[item.component_id] = item.component
            reqs.append(Requirement(item.component_id, (ln.base_qty * item.qty_per_unit).quantize(Q4), ln.pk))
    return reqs, products


def day_label(d: date) -> str:
    return _("%(month)s/%(day)s") % {"month": d.month, "day": d.day}


def _cover(miss: Decimal, incoming: list[Incoming], need_by: date, unit: str) -> tuple[Decimal, list[str], list[str]]:
    """How much of ``miss`` POs due by ``need_by`` make up, the notes naming each PO that
    counts, and those naming POs due too late."""
    covered, notes, late = Decimal(0), [], []
    for inc in incoming:
        if covered >= miss:
            break
        take = min(inc.qty, miss - covered)
        if inc.expected_date > need_by:
            late.append(_("Purchase order %(po)s (arriving %(day)s) is later than needed and does not count") % {
                "po": inc.po, "day": day_label(inc.expected_date)})
            continue
        covered += take
        notes.append(_("%(qty)s %(unit)s covered by purchase order %(po)s (arriving %(day)s)") % {
            "po": inc.po, "day": day_label(inc.expected_date), "qty": fmt_qty(take), "unit": unit})
    return covered, notes, late


def kitting_problems(facts: OrderFacts, guard_code: str, need_by: date | None = None) -> list[Problem]:
    """One problem per material short on stock and not made up by POs due by ``need_by``,
    naming it, the missing quantity, the POs counted and substitutes in stock."""
    reqs, products = facts.bom
    held = facts.held_by_order
    needed: dict[int, Decimal] = defaultdict(Decimal)
    for r in reqs:
        needed[r.product_id] += r.qty
    free = facts.free_stock(needed)
    short = {pid: qty - free.get(pid, Decimal(0)) - held.get(pid, Decimal(0))
             for pid, qty in needed.items()}
    short = {pid: miss for pid, miss in short.items() if miss > 0}
    if not short:
        return []
    need_by = need_by or facts.order.promised_date or facts.order.required_date
    incoming = incoming_for_order(short, order_id=facts.order.pk)
    notes: dict[int, list[str]] = {}
    for pid in list(short):
        covered, notes[pid], late = _cover(short[pid], incoming.get(pid, []), need_by, products[pid].unit)
        if covered:
            facts.po_covered[pid] = covered
        if covered >= short[pid]:
            facts.kitting_notes.append(f"{products[pid].name}：" + "；".join(notes[pid]))
            del short[pid]
        else:
            short[pid] -= covered
            notes[pid] += late
    if not short:
        return []
    subs: dict[int, list[Substitute]] = defaultdict(list)
    for s in Substitute.objects.filter(product_id__in=short).select_related("substitute"):
        subs[s.product_id].append(s)
    sub_free = facts.free_stock({s.substitute_id for ss in subs.values() for s in ss}) if subs else {}
    problems = []
    for pid in sorted(short, key=lambda p: products[p].sku):
        prod, miss = products[pid], short[pid]
        options = [
            {"sku": s.substitute.sku, "name": s.substitute.name, "unit": s.substitute.unit,
             "available": str(sub_free.get(s.substitute_id, Decimal(0))), "note": s.note}
            for s in subs.get(pid, []) if sub_free.get(s.substitute_id, Decimal(0)) >= miss * s.ratio
        ]
        message = _("Materials not kitted: %(name)s short by %(missing)s %(unit)s") % {
            "name": prod.name, "missing": fmt_qty(miss), "unit": prod.unit}
        if notes.get(pid):
            message += "（" + "；".join(notes[pid]) + "）"
        if options:
            message += _(" (substitutes in stock: %(options)s)") % {
                "options": ", ".join(f"{o['name']} {fmt_qty(Decimal(o['available']))} {o['unit']}" for o in options)}
        problems.append(Problem(guard_code, message, data={
            "sku": prod.sku, "needed": str(needed[pid]), "missing": str(miss), "unit": prod.unit,
            "substitutes": options, "lead_time_days": prod.lead_time_days, "moq": str(prod.moq),
            "covered_by_po": str(facts.po_covered.get(pid, Decimal(0))), "purchase_orders": notes.get(pid, [])}))
    return problems
