"""The rules engine: matches rules to order changes, logs each firing with its inputs, notifies
in the change's transaction and queues the actions that change orders.

Rules are compiled once per process and kept until the version stamp moves (checked at most
every ``ORDERHUB_RULES_RELOAD_SECONDS``, default 2 s, like the other per-process caches; a save in this process forgets them at
once). With no enabled rule for a trigger the subscriber does no query. Actions that change the
order are never applied inside the hook (no recursion through the order services): they are
stored as ``RuleTask`` rows and applied after commit by the ``rules.apply`` job, through the
order services, as the system actor ``rule:<name>``. Changes made by such a job may fire rules
again up to ``MAX_DEPTH`` links, so two rules cannot ping-pong forever.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.canonical import to_plain
from orderhub.core.errors import DomainError
from orderhub.core.expressions import ExpressionError
from orderhub.core.locking import lock_own_rows
from orderhub.notify.events import RULE_NOTIFY
from orderhub.orders import events
from orderhub.orders.facts import LazyValues, OrderFacts
from orderhub.orders.hooks import OrderChange
from orderhub.orders.models import Order, OrderLine
from orderhub.orders.services import order_hold, order_update, ticket_open
from orderhub.orders.services.overdue import OverdueStage
from orderhub.workflow.services import compiled

from .models import Rule, RuleFiring, RulesStamp, RuleTask, Trigger
from .notifying import send_many
from .spec import ORDER_CHANGING, CompiledRule, compile_rule

logger = logging.getLogger(__name__)

MAX_DEPTH = 3
EVENT_DEFAULTS: dict[str, Any] = {"from_stage": "", "to_stage": "", "overdue_stage": "",
                                  "changed_fields": (), "added_tags": (), "forced": False,
                                  "held": False}
_IGNORED_FIELDS = {"version"}

# --------------------------------------------------------------------------- the process cache

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"stamp": None, "checked": 0.0, "by_trigger": None}
_local = threading.local()


def forget_rules() -> None:
    with _cache_lock:
        _cache.update(stamp=None, checked=0.0, by_trigger=None)


def _reload_seconds() -> float:
    return float(getattr(settings, "ORDERHUB_RULES_RELOAD_SECONDS", 2.0))


def active_rules() -> dict[str, list[CompiledRule]]:
    """Enabled rules by trigger. Costs a query only when the stamp is due a check (at most once
    per ``ORDERHUB_RULES_RELOAD_SECONDS``) and a load only when it moved."""
    now = _time.monotonic()
    with _cache_lock:
        by_trigger, stamp, checked = _cache["by_trigger"], _cache["stamp"], _cache["checked"]
    if by_trigger is not None and now - checked < _reload_seconds():
        return by_trigger
    current = RulesStamp.objects.filter(pk=1).values_list("version", flat=True).first() or 0
    if by_trigger is None or current != stamp:
        by_trigger = defaultdict(list)
        for rule in Rule.objects.filter(enabled=True).order_by("name"):
            try:
                compiled = compile_rule(rule)
            except (ValueError, ExpressionError) as exc:   # saved rules are valid; be safe anyway
                logger.error("rule %s does not compile: %s", rule.name, exc)
                continue
            by_trigger[compiled.trigger].append(compiled)
        by_trigger = dict(by_trigger)
    with _cache_lock:
        _cache.update(stamp=current, checked=now, by_trigger=by_trigger)
    return by_trigger


# --------------------------------------------------------------------------- inputs


class _Facts(OrderFacts):
    """Order facts whose lines are read only if a condition asks for them."""

    def __init__(self, order: Order, lines):
        self.order = order
        self._given_lines = lines

    @cached_property
    def lines(self):  # type: ignore[override]
        if self._given_lines is not None:
            return list(self._given_lines)
        return list(OrderLine.objects.filter(order_id=self.order.pk).select_related("product"))


def _events(ch: OrderChange) -> list[tuple[str, str, dict[str, Any]]]:
    """(trigger, argument, event values) for one change; event names a change does not set read
    as empty (``""``, ``()``, ``false``)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    order = ch.order
    if ch.action == events.ORDER_CREATED:
        out.append((Trigger.ORDER_CREATED, "", {"to_stage": order.stage}))
        out.append((Trigger.STAGE_ENTERED, order.stage, {"to_stage": order.stage}))
    elif ch.action in events.MOVES:
        moved = {"from_stage": ch.left_stage or "", "to_stage": order.stage,
                 "forced": ch.action == events.ORDER_FORCED}
        out.append((Trigger.STAGE_LEFT, ch.left_stage or "", moved))
        out.append((Trigger.STAGE_ENTERED, order.stage, moved))
    elif ch.action == events.ORDER_CANCELLED and ch.left_stage:
        out.append((Trigger.STAGE_LEFT, ch.left_stage, {"from_stage": ch.left_stage, "to_stage": ""}))
    changes = ch.changes
    fields = sorted(k for k in changes if k not in _IGNORED_FIELDS)
    if ch.action != events.ORDER_CREATED:
        changed = {"changed_fields": tuple(fields), "held": ch.action == events.ORDER_HELD}
        for f in fields:
            out.append((Trigger.FIELD_CHANGED, f, changed))
    if "tags" in changes:
        before, after = changes["tags"]
        added = [t for t in (after or []) if t not in (before or [])]
        for tag in added:
            out.append((Trigger.TAG_ADDED, tag, {"added_tags": tuple(added)}))
    elif ch.action == events.ORDER_CREATED and order.tags:
        for tag in order.tags:
            out.append((Trigger.TAG_ADDED, tag, {"added_tags": tuple(order.tags)}))
    return out


# --------------------------------------------------------------------------- firing


class _Batch:
    """Firings, tasks and notifications of one hook call, written with one INSERT each."""

    def __init__(self, now: datetime):
        self.now = now
        self.firings: list[RuleFiring] = []
        self.tasks: list[tuple[RuleFiring, RuleTask]] = []
        self.notes: list[dict[str, Any]] = []
        self.depth = getattr(_local, "depth", 0) + 1

    def consider(self, rule: CompiledRule, order: Order, trigger: str, facts: _Facts,
                 event_values: dict[str, Any], event_id: int | None, dedupe: str) -> None:
        given = {**EVENT_DEFAULTS, **event_values}
        values = LazyValues({k: (lambda v=v: v) for k, v in given.items()},
                            parent=facts.order_values())
        seen: dict[str, Any] = {}
        if rule.condition is not None:
            try:
                ok = rule.condition.evaluate(values)
            except ExpressionError as exc:
                logger.warning("rule %s on %s: %s", rule.name, order.number, exc)
                ok = False
                seen["error"] = str(exc)
            for name in rule.condition.names:
                try:
                    seen[name] = values[name]
                except (KeyError, ExpressionError, DomainError):
                    seen[name] = None
            if not ok:
                return
        seen.update({k: v for k, v in event_values.items()})
        firing = RuleFiring(rule_id=rule.id, order_id=order.pk, trigger=trigger, at=self.now,
                            inputs=to_plain({"order": order.number, "stage": order.stage, **seen}),
                            event_id=event_id)
        done: list[dict[str, Any]] = []
        for i, act in enumerate(rule.actions):
            plain = act.model_dump(mode="json")
            if act.type in ORDER_CHANGING:
                if self.depth > MAX_DEPTH:
                    done.append({**plain, "skipped": "depth"})
                    continue
                self.tasks.append((firing, RuleTask(order_id=order.pk, action=plain, depth=self.depth,
                                                    created_at=self.now)))
                done.append({**plain, "queued": True})
            else:
                self.notes.append({"rule": rule, "order": order, "action": act,
                                   "dedupe_key": f"rule:{rule.id}:{dedupe}:{i}"})
                done.append(plain)
        firing.actions = done
        self.firings.append(firing)

    def write(self) -> None:
        if not self.firings:
            return
        RuleFiring.objects.bulk_create(self.firings)
        if self.tasks:
            for firing, task in self.tasks:
                task.firing_id = firing.pk
            RuleTask.objects.bulk_create([t for _, t in self.tasks])
        if self.notes:
            _send_notes(self.notes)


def order_people(order: Order, people: Sequence[str]) -> tuple[list[str], list[int]]:
    """The roles and user ids an action's ``people`` name for ``order`` (no query: the order's
    owner id is on its row, the stage's owner role in the compiled workflow)."""
    roles: list[str] = []
    user_ids: list[int] = []
    if "sales_owner" in people and order.owner_id is not None:
        user_ids.append(order.owner_id)
    if "stage_owner" in people and order.workflow_id is not None:
        stages = compiled(order.workflow_id).stages
        if order.stage in stages:
            roles.append(stages[order.stage].spec.owner_role)
    return roles, user_ids


def _send_notes(notes: list[dict[str, Any]]) -> None:
    """The notify and webhook actions of one batch: one ``notify_many`` (fixed query count)."""
    usernames = {u for n in notes for u in getattr(n["action"], "users", [])}
    ids = dict(get_user_model().objects.filter(username__in=usernames)
               .values_list("username", "pk")) if usernames else {}
    requests = []
    for n in notes:
        act, order, rule = n["action"], n["order"], n["rule"]
        context = {"number": order.number, "customer": order.customer.name, "stage": order.stage,
                   "rule": rule.label, "rule_code": rule.name, "title": f"{order.number} · {rule.label}",
                   "message": getattr(act, "message", "") or rule.label}
        if order.on_hold and order.hold_reason:   # whoever is told of a held order reads why
            context["hold_reason"] = order.hold_reason
            context["message"] = _("%(message)s (on hold: %(reason)s)") % {
                "message": context["message"], "reason": order.hold_reason}
        base = {"event": RULE_NOTIFY, "order": order, "dedupe_key": n["dedupe_key"], "context": context}
        if act.type == "webhook":
            requests.append({**base, "severity": "info", "webhooks": [act.endpoint]})
        else:
            roles, user_ids = order_people(order, act.people)
            requests.append({**base, "severity": act.severity, "roles": [*act.roles, *roles],
                             "user_ids": [ids[u] for u in act.users if u in ids] + user_ids,
                             "customer_ids": [order.customer_id] if act.customer else [],
                             "channels": act.channels})
    send_many(requests)


def _matches(rule: CompiledRule, arg: str) -> bool:
    return not rule.arg or rule.arg == arg


def on_order_changes(changes: list[OrderChange]) -> None:
    """Order-hook subscriber. No query when no enabled rule listens to what happened."""
    by_trigger = active_rules()
    if not by_trigger:
        return
    batch: _Batch | None = None
    for ch in changes:
        facts = None
        for trigger, arg, values in _events(ch):
            for rule in by_trigger.get(trigger, ()):
                if not _matches(rule, arg):
                    continue
                if batch is None:
                    batch = _Batch(ch.at)
                facts = facts or _Facts(ch.order, ch.lines)
                batch.consider(rule, ch.order, trigger, facts, values, ch.event.pk,
                               dedupe=f"ev{ch.event.pk}:{trigger}:{arg}")
    if batch is not None:
        batch.write()


def rules_on_overdue(rows: Iterable[OverdueStage], orders: dict[int, Order], *, now: datetime) -> int:
    """The overdue sweep's hand-off: fire ``overdue`` rules for the stage instances just marked."""
    rules = active_rules().get(Trigger.OVERDUE, ())
    if not rules:
        return 0
    batch = _Batch(now)
    for row in rows:
        order = orders.get(row.order_id)
        if order is None:
            continue
        facts = _Facts(order, None)
        for rule in rules:
            if _matches(rule, row.stage):
                batch.consider(rule, order, Trigger.OVERDUE, facts, {"overdue_stage": row.stage}, None,
                               dedupe=f"overdue{row.stage_instance_id}")
    batch.write()
    return len(batch.firings)


# --------------------------------------------------------------------------- jobs


def rules_apply_pending(*, limit: int = 200) -> int:
    """Apply queued order-changing actions through the order services (each in its own
    transaction, claimed with SKIP LOCKED). Returns how many were handled."""
    ids = list(RuleTask.objects.filter(state=RuleTask.State.PENDING).order_by("pk")
               .values_list("pk", flat=True)[:limit])
    handled = 0
    for pk in ids:
        with transaction.atomic():
            task = lock_own_rows(RuleTask.objects.select_related("firing__rule", "order"),
                                 skip_locked=True).filter(
                pk=pk, state=RuleTask.State.PENDING).first()
            if task is None:
                continue
            state, error = _apply(task)
            task.state, task.error, task.done_at = state, error, clock.now()
            task.save(update_fields=["state", "error", "done_at"])
            handled += 1
    return handled


def _apply(task: RuleTask) -> tuple[str, str]:
    act = task.action
    rule = task.firing.rule
    order = task.order
    actor = Actor.system(f"rule:{rule.name}")
    reason = f"rule {rule.name}"
    previous = getattr(_local, "depth", 0)
    _local.depth = task.depth
    try:
        with transaction.atomic():
            kind = act["type"]
            if order.status != Order.Status.OPEN and kind != "open_ticket":
                return RuleTask.State.SKIPPED, "order closed"
            if kind == "add_tag":
                if act["tag"] in order.tags:
                    return RuleTask.State.SKIPPED, "tag present"
                order_update(order=order.number, changes={"tags": [*order.tags, act["tag"]]},
                             actor=actor, reason=reason)
            elif kind == "set_urgency":
                if order.urgency == act["value"]:
                    return RuleTask.State.SKIPPED, "urgency unchanged"
                order_update(order=order.number, changes={"urgency": act["value"]}, actor=actor,
                             reason=reason)
            elif kind == "hold":
                if order.on_hold:
                    return RuleTask.State.SKIPPED, "already on hold"
                order_hold(order=order.number, actor=actor, reason=act["reason"])
            elif kind == "open_ticket":
                hours = act.get("business_hours")
                ticket_open(order=order.number, kind=act.get("kind") or "exception", title=act["title"],
                            owner_role=act.get("owner_role"), actor=actor, source=f"rule:{rule.name}",
                            business_hours=None if hours is None else Decimal(str(hours)))
            else:
                return RuleTask.State.FAILED, f"unknown action {kind}"
    except DomainError as exc:
        return RuleTask.State.FAILED, exc.message
    finally:
        _local.depth = previous
    return RuleTask.State.DONE, ""


def rules_run_schedule(*, chunk: int = 1000) -> int:
    """Run due ``schedule`` rules over the open orders (each rule claimed by moving its
    ``last_run_at`` with a conditional UPDATE, so one runner runs it). Returns firings made."""
    now = clock.now()
    made = 0
    for rule in active_rules().get(Trigger.SCHEDULE, ()):
        interval = Rule.objects.filter(pk=rule.id).values_list("interval_minutes", flat=True).first()
        if not interval:
            continue
        claimed = Rule.objects.filter(pk=rule.id).filter(
            Q(last_run_at__isnull=True) | Q(last_run_at__lte=now - timedelta(minutes=interval))
        ).update(last_run_at=now)
        if not claimed:
            continue
        last = 0
        while True:
            with transaction.atomic():
                orders = list(Order.objects.filter(status=Order.Status.OPEN, pk__gt=last)
                              .select_related("customer").order_by("pk")[:chunk])
                if not orders:
                    break
                batch = _Batch(now)
                for order in orders:
                    batch.consider(rule, order, Trigger.SCHEDULE, _Facts(order, None), {}, None,
                                   dedupe=f"sched{now.timestamp():.0f}")
                batch.write()
                made += len(batch.firings)
                last = orders[-1].pk
            if len(orders) < chunk:
                break
    return made
