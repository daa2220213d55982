"""Replenishment from order heat (issue 18 item 5): the seed rule as data (``ReplenishmentRule``,
one row, edited on ``/purchasing/replenishment/`` and ``PUT /api/purchasing/replenishment``).

A SKU ordered on each of the last ``days`` complete days more than ``multiple`` × the average of
its peers that day (the other SKUs ordered in the window with the same base unit, or all of them:
the catalog has no product category, the unit is the grouping it has), and whose free stock is
below its safety stock, gets a purchase request (source ``replenishment``) awaiting approval like
any other, with the evidence kept on it: each day's quantity, the peer average and the ratio, free
stock vs safety stock. Quantity: back up to the safety stock plus one more window at the SKU's
pace, at least its MOQ.

Idempotent: a SKU with an open (pending or approved) request from the rule is skipped, and the
partial unique index ``pr_one_open_replenishment`` refuses a second one if two runs race. The
quantities come from orders through ``links.daily_demand`` (purchasing sits below orders).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Product
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import Problem, ValidationFailed
from orderhub.core.permissions import check
from orderhub.inventory.selectors import available_by_product

from . import events
from .links import daily_demand
from .models import SUBJECT_RULE, PurchaseRequest, ReplenishmentRule
from .services import request_raise

ZERO = Decimal(0)
RULE_ACTOR = "replenishment-rule"
OPEN = (PurchaseRequest.Status.PENDING, PurchaseRequest.Status.APPROVED)


def rule_get() -> ReplenishmentRule:
    rule, _made = ReplenishmentRule.objects.get_or_create(pk=1)
    return rule


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("invalid_rule", message, problems=[Problem("invalid", message, field=field)])


@transaction.atomic
def rule_save(*, actor: Actor, multiple: Decimal, days: int, peers: str, enabled: bool) -> ReplenishmentRule:
    """Change the rule's numbers (purchasers and admins), audited."""
    check(actor, "purchasing.order")
    if not multiple.is_finite() or not Decimal("1") <= multiple <= Decimal("100"):
        raise _bad("multiple", _("The multiple must be between 1 and 100."))
    if not 1 <= days <= 30:
        raise _bad("days", _("The number of consecutive days must be between 1 and 30."))
    if peers not in ReplenishmentRule.Peers.values:
        raise _bad("peers", _("The peer product scope is invalid."))
    rule = ReplenishmentRule.objects.select_for_update().filter(pk=1).first() or rule_get()
    new = {"multiple": multiple.quantize(Decimal("0.01")), "days": days, "peers": peers, "enabled": enabled}
    changes = {k: [str(getattr(rule, k)), str(v)] for k, v in new.items() if getattr(rule, k) != v}
    if changes:
        for k, v in new.items():
            setattr(rule, k, v)
        rule.updated_at, rule.updated_by = clock.now(), actor.label[:150]
        rule.save()
        append_event(subject_type=SUBJECT_RULE, subject_id=rule.pk, action=events.RULE_SAVED,
                     actor=actor, changes=changes)
    return rule


def _window(rule: ReplenishmentRule, today: date) -> list[date]:
    return [today - timedelta(days=n) for n in range(rule.days, 0, -1)]


def _hot(rule: ReplenishmentRule, days: list[date]) -> dict[int, list[dict[str, Any]]]:
    """{product id: the evidence per day} of the SKUs above ``multiple`` × their peers every day."""
    demand = daily_demand(days[0], days[-1])
    units = dict(Product.objects.filter(pk__in=demand).values_list("pk", "unit"))
    groups: dict[str, set[int]] = defaultdict(set)
    for pid in demand:
        groups[units.get(pid, "") if rule.peers == ReplenishmentRule.Peers.UNIT else ""].add(pid)
    out = {}
    for pid, by_day in demand.items():
        peers = groups[units.get(pid, "") if rule.peers == ReplenishmentRule.Peers.UNIT else ""] - {pid}
        if not peers:
            continue
        rows = []
        for d in days:
            qty = by_day.get(d, ZERO)
            avg = (sum((demand[p].get(d, ZERO) for p in peers), ZERO) / len(peers)).quantize(Decimal("0.0001"))
            if qty <= 0 or qty <= rule.multiple * avg:
                break
            rows.append({"date": d.isoformat(), "qty": str(qty), "peer_avg": str(avg),
                         "ratio": str((qty / avg).quantize(Decimal("0.01"))) if avg else None})
        else:
            out[pid] = rows
    return out


def replenishment_scan(*, today: date | None = None) -> list[PurchaseRequest]:
    """Run the rule once (the periodic job): the requests it raised."""
    rule = rule_get()
    if not rule.enabled:
        return []
    today = today or clock.now().date()
    days = _window(rule, today)
    hot = _hot(rule, days)
    if not hot:
        return []
    products = {p.pk: p for p in Product.objects.filter(pk__in=hot, is_active=True, safety_stock__gt=0)}
    free = available_by_product(products)
    taken = set(PurchaseRequest.objects.filter(source=PurchaseRequest.Source.REPLENISHMENT, status__in=OPEN,
                                               product_id__in=products).values_list("product_id", flat=True))
    actor = Actor.system(RULE_ACTOR)
    made = []
    for pid, p in sorted(products.items(), key=lambda kv: kv[1].sku):
        have = free.get(pid, ZERO)
        if pid in taken or have >= p.safety_stock:
            continue
        window_qty = sum((Decimal(r["qty"]) for r in hot[pid]), ZERO)
        qty = max(p.safety_stock - have + window_qty, p.moq).quantize(Decimal("1"), rounding=ROUND_UP)
        evidence = {"days": hot[pid], "multiple": str(rule.multiple), "window": rule.days,
                    "peers": rule.peers, "free": str(have), "safety_stock": str(p.safety_stock)}
        reason = _("Demand surge: above %(m)s times the peer average for %(n)d days in a row, and below safety stock") % {
            "n": rule.days, "m": rule.multiple.normalize()}
        try:
            with transaction.atomic():
                made.append(request_raise(actor=actor, product_id=pid, qty=qty, source=PurchaseRequest.Source.REPLENISHMENT,
                                          needed_by=today + timedelta(days=p.lead_time_days or 7),
                                          reason=reason, evidence=evidence))
        except IntegrityError:       # another run raised it first: still one open request
            continue
    return made
