"""BOM explosion and kitting: are all materials for an order there?"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from orderhub.catalog.models import BomItem, Product, Substitute
from orderhub.core.errors import Problem
from orderhub.inventory.services import Requirement

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


def kitting_problems(facts: OrderFacts, guard_code: str) -> list[Problem]:
    """One problem per short material, naming it, the missing quantity and substitutes in stock."""
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
        if options:
            message += _(" (substitutes in stock: %(options)s)") % {
                "options": ", ".join(f"{o['name']} {fmt_qty(Decimal(o['available']))} {o['unit']}" for o in options)}
        problems.append(Problem(guard_code, message, data={
            "sku": prod.sku, "needed": str(needed[pid]), "missing": str(miss), "unit": prod.unit,
            "substitutes": options, "lead_time_days": prod.lead_time_days, "moq": str(prod.moq)}))
    return problems
