"""Creating orders, one at a time or in batches."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.catalog.selectors import MasterData, master_data, to_base_qty
from orderhub.core import clock, fastsql
from orderhub.core.actors import Actor
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.errors import (
    Conflict,
    DomainError,
    PermissionDenied,
    Problem,
    ValidationFailed,
)
from orderhub.core.instances import attach, new
from orderhub.core.memory import collector_paused
from orderhub.core.models import AuditEvent
from orderhub.core.numbering import reserve
from orderhub.core.permissions import check_customer_in_scope, check_line_prices
from orderhub.core.text import text_fault
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled, current_definition_cached
from orderhub.workflow.spec import CompiledWorkflow

from .. import events, hooks
from ..facts import OrderFacts
from ..input_filters import apply_input_filters
from ..inputs import OrderInput, differences
from ..models import Order, OrderLine, Snapshot, StageInstance, Urgency
from ..store import (
    copies,
    insert_new_orders,
    insert_order_and_lines,
    new_order_id,
    reserve_ids,
    send_new_orders,
    write_order_change,
)
from .common import (
    CENT,
    MAX_LINES,
    MAX_MONEY,
    MAX_QTY,
    NUMBER_SEQUENCE,
    Blocked,
    CreateResult,
    make_snapshot,
    next_event,
    next_order_number,
)
from .stages import enter_stage, run_entry_actions

# --------------------------------------------------------------------------- create


def _master(datas: list[OrderInput], known: MasterData | None = None) -> MasterData:
    """The master data ``datas`` name (customers, SKUs, owners): ``known`` (what an intake run
    looked up already) completed with what it lacks, so nothing is looked up twice."""
    return master_data(customers=(d.customer for d in datas), skus=(ln.sku for d in datas for ln in d.lines),
                       owners=(d.owner for d in datas if d.owner), into=known)


_URGENCIES = frozenset(Urgency.values)


def _build(data: OrderInput, lk: MasterData, actor: Actor) -> tuple[Order, list[OrderLine]]:
    order, lines, problems = _assemble(data, lk)
    if problems or order is None:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    check_customer_in_scope(actor, order.customer)  # 403 on "customer" for another rep's customer
    check_line_prices(actor=actor, customer=order.customer, lines=lines,  # 403 naming lines[i].unit_price
                      prices=lk.price_book(order.customer))
    return order, lines


def _default_price(lk: MasterData, customer: Customer | None, product: Any, base_qty: Decimal) -> Decimal:
    """A line's unit price when none is given: the customer's price for the quantity (its price
    list, valid today), else the list price."""
    return lk.price_book(customer).price(product, base_qty) if customer is not None else product.list_price


def _assemble(data: OrderInput, lk: MasterData) -> tuple[Order | None, list[OrderLine], list[Problem]]:
    """The order and the lines ``data`` makes, with every problem found (all at once): the
    lines that are right are built even when others are not (``order_preview`` shows them)."""
    problems: list[Problem] = []
    if not data.lines:
        problems.append(Problem("required", _("An order needs at least one line."), field="lines"))
    if len(data.lines) > MAX_LINES:
        problems.append(Problem("too_many", _("An order may have at most %(n)d lines.") % {"n": MAX_LINES}, field="lines"))
    if data.urgency not in _URGENCIES:
        problems.append(Problem("invalid_choice", _("Urgency must be red, yellow or green."), field="urgency"))
    for name, value in (("customer", data.customer), ("channel", data.channel),
                        ("external_ref", data.external_ref or ""), ("remarks", data.remarks),
                        ("tags", "".join(data.tags))):
        fault = text_fault(value, multiline=name == "remarks")
        if fault:
            problems.append(Problem("invalid_text", fault, field=name))
    customer = lk.customers.get(data.customer)
    if customer is None:
        problems.append(Problem("unknown_customer", _("Unknown customer '%(code)s'.") % {"code": data.customer},
                                field="customer"))
    owner = lk.owners.get(data.owner) if data.owner else None
    if data.owner and owner is None:
        problems.append(Problem("unknown_user", _("Unknown owner '%(u)s'.") % {"u": data.owner}, field="owner"))
    lines: list[OrderLine] = []
    total = Decimal("0")
    for i, ln in enumerate(data.lines):
        bad = next(((f, fault) for f, v in (("sku", ln.sku), ("unit", ln.unit or ""), ("remarks", ln.remarks))
                    if (fault := text_fault(v, multiline=f == "remarks"))), None)
        if bad:
            problems.append(Problem("invalid_text", bad[1], field=f"lines[{i}].{bad[0]}"))
            continue
        product = lk.products.get(ln.sku)
        if product is None:
            problems.append(Problem("unknown_sku", _("Unknown SKU '%(sku)s'.") % {"sku": ln.sku},
                                    field=f"lines[{i}].sku"))
            continue
        if not ln.qty.is_finite() or ln.qty <= 0:
            problems.append(Problem("invalid_quantity", _("Quantity must be greater than zero."),
                                    field=f"lines[{i}].qty"))
            continue
        base_qty, problem = to_base_qty(product, ln.qty, ln.unit, lk.factors)
        if problem:
            problems.append(Problem("unknown_unit", _("Unit '%(unit)s' cannot be converted to %(base)s for %(sku)s.")
                                    % {"unit": ln.unit, "base": product.unit, "sku": product.sku},
                                    field=f"lines[{i}].unit"))
            continue
        if base_qty <= 0:
            problems.append(Problem("invalid_quantity", _("Quantity rounds to zero in the base unit."),
                                    field=f"lines[{i}].qty"))
            continue
        if base_qty >= MAX_QTY:
            problems.append(Problem("out_of_range", _("Quantity is too large."), field=f"lines[{i}].qty"))
            continue
        price = _default_price(lk, customer, product, base_qty) if ln.unit_price is None else ln.unit_price
        if not price.is_finite() or price < 0:
            problems.append(Problem("invalid_price", _("Unit price cannot be negative."),
                                    field=f"lines[{i}].unit_price"))
            continue
        amount = (ln.qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount >= MAX_MONEY:
            problems.append(Problem("out_of_range", _("Line amount is too large."),
                                    field=f"lines[{i}].unit_price"))
            continue
        total += amount
        lines.append(new(OrderLine, line_no=i + 1, product=product, qty=ln.qty, unit=ln.unit or product.unit,
                         base_qty=base_qty, unit_price=price, amount=amount, remarks=ln.remarks[:500]))
    if total >= MAX_MONEY:
        problems.append(Problem("out_of_range", _("Order total is too large."), field="lines"))
    if customer is None:
        return None, lines, problems
    order = new(Order, channel=data.channel, external_ref=data.external_ref or None, customer=customer,
                required_date=data.required_date, promised_date=data.promised_date,
                urgency=data.urgency, total_amount=total, remarks=data.remarks,
                tags=sorted(set(data.tags)))
    order.owner = owner or customer.sales_owner
    ship_to = _ship_to(data, customer, lk, problems)
    if ship_to:
        order.ship_to_contact, order.ship_to_phone, order.ship_to_address = (
            ship_to[0][:100], ship_to[1][:32], ship_to[2][:300])
    return order, lines, problems


_SHIP_TO_LIMITS = (("contact", 100), ("phone", 32), ("address", 300))


def _ship_to(data: OrderInput, customer: Customer, lk: MasterData,
             problems: list[Problem]) -> tuple[str, str, str] | None:
    """Where the order goes: the address typed for it, else the customer's address chosen by
    id, else the customer's default address (each fault added to ``problems``)."""
    if data.ship_to is not None:
        typed = tuple(getattr(data.ship_to, name).strip() for name, _limit in _SHIP_TO_LIMITS)
        for (name, limit), value in zip(_SHIP_TO_LIMITS, typed, strict=True):
            fault = text_fault(value) or (_("At most %(n)d characters.") % {"n": limit} if len(value) > limit else None)
            if fault:
                problems.append(Problem("invalid_text", fault, field=f"ship_to.{name}"))
        if not typed[2]:
            problems.append(Problem("required", _("Enter the address."), field="ship_to.address"))
        return (typed[0], typed[1], typed[2])
    if data.ship_to_address_id is not None:
        found = lk.ship_to_of(customer, data.ship_to_address_id)
        if found is None:
            problems.append(Problem("unknown_address", _("The customer has no such address."),
                                    field="ship_to_address_id"))
        return found
    return lk.default_ship_to(customer)


def _existing(data: OrderInput, fingerprint: str, normalized: dict[str, Any]) -> Order | None:
    if not data.external_ref:
        return None
    order = Order.objects.filter(channel=data.channel, external_ref=data.external_ref).first()
    if order is None:
        return None
    if order.intake_hash != fingerprint:
        raise Conflict("duplicate_conflict",
                       _("Order %(number)s already exists for %(channel)s/%(ref)s with different content.")
                       % {"number": order.number, "channel": data.channel, "ref": data.external_ref},
                       data={"order": order.number, "differences": differences(order.intake, normalized)})
    return order


def order_create(*, data: OrderInput, actor: Actor, filtered: bool = False) -> CreateResult:
    """Create an order in its workflow's initial stage.

    The same ``channel`` + ``external_ref`` again returns the existing order (created=False);
    the same key with different content raises Conflict listing the differences (the key's
    content is ``data`` as given). ``data`` passes the input filters first (remark tags and
    triage, :mod:`orders.input_filters`) unless the caller ran them already (``filtered``:
    intake's doors), and their recorders run once the order exists, in its transaction.
    """
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    normalized = data.normalized()
    text = canonical_json(normalized)
    fingerprint = sha256_hex(text)
    try:
        with transaction.atomic():
            if filtered:
                return _create(data, actor, normalized, fingerprint, text=text)
            data, recorders = apply_input_filters(data, at=clock.now())
            result = _create(data, actor, normalized, fingerprint, text=text)
            for record in recorders:
                record(result.order, actor)
            return result
    except IntegrityError:
        existing = _existing(data, fingerprint, normalized)
        if existing is None:
            raise
        return CreateResult(existing, False)


def _workflow_for(data: OrderInput) -> tuple[WorkflowDefinition, CompiledWorkflow]:
    code = data.workflow or settings.ORDERHUB_DEFAULT_WORKFLOW
    definition = current_definition_cached(code)
    if definition is None:
        raise ValidationFailed("invalid", _("Unknown workflow '%(code)s'.") % {"code": code},
                               problems=[Problem("unknown_workflow", _("Unknown workflow '%(code)s'.") % {"code": code}, field="workflow")])
    return definition, compiled(definition.pk)


def _prepare(data: OrderInput, lk: MasterData, actor: Actor, normalized: dict[str, Any],
             fingerprint: str, now: datetime
             ) -> tuple[Order, list[OrderLine], CompiledWorkflow, StageInstance, OrderFacts]:
    """Everything about a new order that needs no database write: validation, number,
    initial stage and its guards. Returns (order, lines, workflow, stage instance, facts)."""
    order, lines = _build(data, lk, actor)
    definition, wf = _workflow_for(data)
    order.workflow = definition
    order.number = next_order_number(now)
    order.intake, order.intake_hash = normalized, fingerprint
    order.created_at = order.updated_at = order.stage_entered_at = now
    order.created_by = actor.label[:150]
    facts = OrderFacts(order, lines)
    try:
        inst = enter_stage(order, lines, wf, wf.initial, actor=actor, now=now, forced=False, facts=facts)
    except Blocked as blocked:
        raise ValidationFailed("blocked", blocked.reasons[0].message, problems=blocked.reasons) from None
    return order, lines, wf, inst, facts


def _create(data: OrderInput, actor: Actor, normalized: dict[str, Any], fingerprint: str,
            lk: MasterData | None = None, text: str | None = None) -> CreateResult:
    now = clock.now()
    order, lines, wf, inst, facts = _prepare(data, _master([data], lk), actor, normalized,
                                             fingerprint, now)
    order.pk = new_order_id()
    actions = wf.initial.spec.on_enter
    # the usual case: with the id known and no entry actions, one INSERT per table
    one_pass = order.pk is not None and not actions
    for ln in lines:
        ln.order = order
    inst.order = order
    if one_pass:
        ev = _append_created(order, actor, now, normalized, {}, text)
        insert_new_orders([order], lines, [inst], [ev], [make_snapshot(order, lines, now)])
        events.order_created(order=order, actor=actor, at=now, event=ev, entered=inst, lines=lines)
        return CreateResult(order, True, lines, [inst])
    # entry actions need the order and its lines stored (or the database gives the order its id)
    insert_order_and_lines(order, lines)
    try:
        done = run_entry_actions(order, lines, wf.initial, actor=actor, now=now, forced=False, facts=facts)
    except Blocked as blocked:
        raise ValidationFailed("blocked", blocked.reasons[0].message, problems=blocked.reasons) from None
    ev = _append_created(order, actor, now, normalized, done)
    write_order_change(order, ["tags", "urgency", "promised_date", "audit_seq", "audit_head"], event=ev, entered=inst,
                       snapshot=make_snapshot(order, lines, now))
    events.order_created(order=order, actor=actor, at=now, event=ev, entered=inst, lines=lines)
    return CreateResult(order, True, lines, [inst])


def _append_created(order: Order, actor: Actor, now: datetime, normalized: dict[str, Any],
                    done: dict[str, Any], text: str | None = None) -> AuditEvent:
    """The order's created event. ``text``: ``canonical_json(normalized)`` if the caller has it
    (then, with no entry actions' results, the event's hash and its row reuse it)."""
    # normalized is plain JSON already; entry actions' results may not be
    data = {"intake": normalized, "actions": done}
    if done or text is None:
        return next_event(order, action=events.ORDER_CREATED, actor=actor, now=now, changes=_created_changes(order),
                          data=data, plain=not done)
    data_json = f'{{"actions":{{}},"intake":{text}}}'  # canonical_json(data): keys sorted
    ev = next_event(order, action=events.ORDER_CREATED, actor=actor, now=now, changes=_created_changes(order),
                    data=data, plain=True, data_json=data_json)
    fastsql.encoded(ev, "data", data_json)
    return ev


def _created_changes(order: Order) -> dict[str, Any]:
    return {"stage": [None, str(order.stage)], "status": [None, str(order.status)]}


@dataclass
class BatchItem:
    index: int
    order: Order | None = None
    created: bool = False
    error: DomainError | None = None


@collector_paused()
def order_create_batch(*, items: list[OrderInput], actor: Actor, all_or_nothing: bool = False,
                       master: MasterData | None = None) -> list[BatchItem]:
    """Create many orders in one transaction: imports and batch intake.

    Each item is validated on its own and follows order_create's rules (same key and content:
    the existing order; same key, other content: a Conflict). With ``all_or_nothing`` one bad
    item refuses the whole batch (nothing is written); otherwise the valid items go in and each
    bad one is reported. On PostgreSQL the batch costs one INSERT per table, whatever its size.
    ``master``: the master data the caller looked up already (intake mapping); only what it
    lacks is looked up.
    """
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    results = [BatchItem(i) for i in range(len(items))]
    normalized = [d.normalized() for d in items]
    # each item's content encoded once: its fingerprint, its created event's hash, its rows' JSON
    texts = [canonical_json(n) for n in normalized]
    prints = [sha256_hex(t) for t in texts]
    first_of_key: dict[tuple[str, str], int] = {}
    todo: list[int] = []
    for i, d in enumerate(items):
        key = (d.channel, d.external_ref) if d.external_ref else None
        if key is None or key not in first_of_key:
            if key:
                first_of_key[key] = i
            todo.append(i)
    try:
        with transaction.atomic():
            _batch_write(items, normalized, texts, prints, todo, results, actor, master)
            _batch_repeats(items, normalized, prints, first_of_key, results)
            if all_or_nothing and any(r.error for r in results):
                raise _BatchRefused()
    except _BatchRefused:
        for r in results:
            if r.error is None:
                r.order, r.created = None, False
        return results
    except IntegrityError:
        # another writer took one of the keys meanwhile: go one by one (each its own transaction)
        if all_or_nothing:
            raise
        for i, d in enumerate(items):
            try:
                res = order_create(data=d, actor=actor, filtered=True)
                results[i] = BatchItem(i, res.order, res.created)
            except DomainError as exc:
                results[i] = BatchItem(i, error=exc)
    return results


class _BatchRefused(Exception):
    pass


def _batch_repeats(items: list[OrderInput], normalized: list[dict[str, Any]], prints: list[str],
                   first_of_key: dict[tuple[str, str], int], results: list[BatchItem]) -> None:
    """Items repeating a key already used earlier in the same batch."""
    for i, d in enumerate(items):
        if not d.external_ref:
            continue
        j = first_of_key[(d.channel, d.external_ref)]
        if j == i:
            continue
        first = results[j]
        if prints[i] != prints[j]:
            results[i].error = Conflict(
                "duplicate_conflict", _("Repeats the key of item %(j)d with different content.") % {"j": j},
                data={"differences": differences(normalized[j], normalized[i])})
        elif first.order is not None:
            results[i].order, results[i].created = first.order, False
        else:
            results[i].error = first.error


def _existing_orders(keyed: list[OrderInput]) -> dict[tuple[str, str | None], Order]:
    """Orders already holding one of these (channel, external_ref) keys."""
    if not keyed:
        return {}
    return {(o.channel, o.external_ref): o
            for o in Order.objects.filter(external_ref__in={d.external_ref for d in keyed},
                                          channel__in={d.channel for d in keyed})}


# Orders per INSERT statement inside a batch: each is sent (pipelined) as soon as it is built,
# so PostgreSQL writes one group while Python builds the next.
PIPELINE_GROUP = 25


def _batch_write(items: list[OrderInput], normalized: list[dict[str, Any]], texts: list[str], prints: list[str],
                 todo: list[int], results: list[BatchItem], actor: Actor,
                 master: MasterData | None) -> None:
    lk = _master([items[i] for i in todo], master)
    existing = _existing_orders([items[i] for i in todo if items[i].external_ref])
    now = clock.now()
    # every id and number the batch may need, held before pipelining (no nextval mid-way,
    # which would wait for the INSERTs already sent)
    reserve_ids(len(todo), sum(len(items[i].lines) for i in todo))
    reserve(NUMBER_SEQUENCE, len(todo))
    published: list[events.OrderChange] = []
    pending: list[Callable[[], None]] = []
    # a large batch is one group, copied (``store.copies``: COPY runs outside pipeline mode)
    copy = copies(len(todo))
    with nullcontext() if copy else fastsql.pipeline():
        group = _Group()
        for i in todo:
            _batch_item(items[i], normalized[i], texts[i], prints[i], results[i], existing, lk, actor, now,
                        group, published)
            if not copy and len(group.orders) >= PIPELINE_GROUP:
                pending.append(group.send())
                group = _Group()
        if group.orders:
            pending.append(group.send())
        # every row has its id already: the subscribers' work overlaps the server's on the last
        # group; the first of their queries that needs an answer waits for the INSERTs before it
        events.orders_created(published)
        for finish in pending:
            finish()


@dataclass
class _Group:
    """New orders of a batch written by one statement."""

    orders: list[Order] = field(default_factory=list)
    lines: list[OrderLine] = field(default_factory=list)
    stages: list[StageInstance] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    snaps: list[Snapshot] = field(default_factory=list)

    def send(self) -> Callable[[], None]:
        return send_new_orders(self.orders, self.lines, self.stages, self.events, self.snaps)


def _batch_item(d: OrderInput, normalized: dict[str, Any], text: str, fingerprint: str, result: BatchItem,
                existing: dict[tuple[str, str | None], Order], lk: MasterData, actor: Actor,
                now: datetime, group: _Group, published: list[events.OrderChange]) -> None:
    found = existing.get((d.channel, d.external_ref)) if d.external_ref else None
    if found is not None:
        if found.intake_hash == fingerprint:
            result.order = found
        else:
            result.error = Conflict(
                "duplicate_conflict",
                _("Order %(number)s already exists for %(channel)s/%(ref)s with different content.")
                % {"number": found.number, "channel": d.channel, "ref": d.external_ref},
                data={"order": found.number, "differences": differences(found.intake, normalized)})
        return
    try:
        order, lines, wf, inst, _facts = _prepare(d, lk, actor, normalized, fingerprint, now)
    except DomainError as exc:
        result.error = exc
        return
    order.pk = new_order_id()
    if order.pk is None or wf.initial.spec.on_enter:
        # no id before INSERT (SQLite) or entry actions: this one goes alone, and is published
        # with the rest of the batch (subscribers hear one list on every database)
        try:
            with hooks.held() as changes, transaction.atomic():
                result.order = _create(d, actor, normalized, fingerprint, lk, text).order
                result.created = True
        except DomainError as exc:
            result.error = exc
            return
        published.extend(changes)
        return
    ev = _append_created(order, actor, now, normalized, {}, text)
    fastsql.encoded(order, "intake", text)
    attach(lines, "order", order)
    attach([inst], "order", order)
    group.orders.append(order)
    group.lines.extend(lines)
    group.stages.append(inst)
    group.events.append(ev)
    group.snaps.append(make_snapshot(order, lines, now))
    published.append(events.order_created_change(order=order, actor=actor, at=now, event=ev, entered=inst,
                                                  lines=lines))
    result.order, result.created = order, True
