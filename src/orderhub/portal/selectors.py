"""Reads of the portal: a contact's own orders (always filtered by the contact's customer),
what a customer may see of an order (stage under its customer-facing name, ETA and how it
moved, last update; never prices, costs, remarks or staff), and the self-query rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.utils.translation import gettext as _

from orderhub.core.actors import Actor
from orderhub.core.audit import AuditEvent
from orderhub.core.errors import NotFound
from orderhub.orders.models import Order, OrderLine, StageInstance
from orderhub.orders.selectors import visible
from orderhub.workflow.services import compiled
from orderhub.workflow.spec import CompiledWorkflow, StageSpec

from .models import Contact, InboundCall, Visit

PAGE = 20


def my_orders(contact: Contact, *, q: str = "", status: str = "") -> QuerySet[Order]:
    """The contact's customer's orders, newest first; ``q`` matches the number or the
    customer's own reference."""
    qs = Order.objects.filter(customer_id=contact.customer_id).select_related("workflow")
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(external_ref__icontains=q))
    if status in ("open", "completed", "cancelled"):
        qs = qs.filter(status=status)
    return qs.only("number", "external_ref", "stage", "status", "on_hold", "required_date", "promised_date",
                   "created_at", "updated_at", "stage_entered_at", "workflow_id", "customer_id").order_by("-created_at", "-pk")


def my_order(contact: Contact, number: str) -> Order:
    """One of the contact's customer's orders; any other number does not exist (404)."""
    order = Order.objects.select_related("workflow").filter(number=number, customer_id=contact.customer_id).first()
    if order is None:
        raise NotFound("not_found", _("This order was not found."))
    return order


# --------------------------------------------------------------------------- customer-facing stage

@dataclass(frozen=True)
class CustomerStage:
    label: str
    note: str


def _default_note(st: StageSpec, wf: CompiledWorkflow, label: str) -> str:
    if st.code == wf.spec.initial:
        return _("We have received your order and are confirming it.")
    if st.final:
        return _("Your order is complete. Thank you for your trust.")
    return _("Your order is at the “%(label)s” stage; we will update you as it progresses.") % {"label": label}


def stage_for_customer(wf: CompiledWorkflow, code: str, earlier: list[str] = ()) -> CustomerStage:  # type: ignore[assignment]
    """The stage ``code`` as customers see it; a hidden stage shows as the last visible stage in
    ``earlier`` (the order's stages before it, oldest first), else as 处理中."""
    found = wf.stages.get(code)
    if found is not None and found.spec.hidden:
        for prev in reversed(earlier):
            got = wf.stages.get(prev)
            if got is not None and not got.spec.hidden:
                return stage_for_customer(wf, prev)
        return CustomerStage(_("In progress"), _("Your order is being processed; we will update you as it progresses."))
    if found is None:
        return CustomerStage(_("In progress"), _("Your order is being processed; we will update you as it progresses."))
    st = found.spec
    label = st.customer_label or st.name
    return CustomerStage(label, st.customer_note or _default_note(st, wf, label))


def _parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def eta_moves(order: Order) -> list[dict[str, Any]]:
    """Each change of the promised date, oldest first: {at, before, after}."""
    rows = (AuditEvent.objects.filter(subject_type="order", subject_id=order.pk, changes__has_key="promised_date")
            .order_by("seq").values_list("at", "changes"))
    out = []
    for at, changes in rows:
        before, after = (list(changes.get("promised_date") or []) + [None, None])[:2]
        out.append({"at": at, "before": _parse_date(before), "after": _parse_date(after)})
    return out


def order_status(order: Order, wf: CompiledWorkflow, history: list[str]) -> CustomerStage:
    if order.status == Order.Status.CANCELLED:
        return CustomerStage(_("cancelled"), _("The order is cancelled. If you have questions, contact your sales representative."))
    current = stage_for_customer(wf, order.stage, history[:-1] if history and history[-1] == order.stage else history)
    if order.on_hold:
        return CustomerStage(current.label, _("The order is on hold; we will contact you soon."))
    return current


def order_view(order: Order, *, full: bool = True) -> dict[str, Any]:
    """What a customer sees of ``order``. ``full`` (signed in): lines, the stage timeline and
    the ETA's moves too; a tracking link shows stage, ETA and last update only."""
    wf = compiled(order.workflow_id)
    stays = list(StageInstance.objects.filter(order_id=order.pk).order_by("entered_at", "pk")
                 .values_list("stage", "entered_at"))
    history = [s for s, _at in stays]
    status = order_status(order, wf, history)
    eta = order.promised_date or order.required_date
    last = max(order.updated_at, order.stage_entered_at)
    out: dict[str, Any] = {
        "number": order.number, "reference": order.external_ref or "", "stage": status.label,
        "note": status.note, "eta": eta, "eta_promised": order.promised_date is not None,
        "required_date": order.required_date, "last_update": last, "closed": order.status != Order.Status.OPEN,
    }
    if not full:
        return out
    timeline: list[dict[str, Any]] = []
    for i, (code, at) in enumerate(stays):
        label = stage_for_customer(wf, code, history[:i]).label
        if not timeline or timeline[-1]["label"] != label:
            timeline.append({"label": label, "at": at})
    lines = (OrderLine.objects.filter(order_id=order.pk).order_by("line_no")
             .values_list("line_no", "product__name", "qty", "unit"))
    out.update({
        "created_at": order.created_at, "timeline": timeline, "eta_moves": eta_moves(order),
        "lines": [{"line_no": n, "product": name, "qty": qty.normalize(), "unit": unit} for n, name, qty, unit in lines],
    })
    return out


def list_rows(orders: list[Order]) -> list[dict[str, Any]]:
    """The list's rows: number, reference, customer-facing stage, ETA, last update."""
    hidden = [o.pk for o in orders if (cs := compiled(o.workflow_id).stages.get(o.stage)) is not None
              and cs.spec.hidden]
    histories: dict[int, list[str]] = {}
    if hidden:   # a hidden stage shows as the visible one before it: one query for the page
        for order_id, stage in (StageInstance.objects.filter(order_id__in=hidden).order_by("entered_at", "pk")
                                .values_list("order_id", "stage")):
            histories.setdefault(order_id, []).append(stage)
    out = []
    for o in orders:
        wf = compiled(o.workflow_id)
        st = order_status(o, wf, histories.get(o.pk, []))
        out.append({"number": o.number, "reference": o.external_ref or "", "stage": st.label,
                    "eta": o.promised_date or o.required_date, "last_update": max(o.updated_at, o.stage_entered_at),
                    "closed": o.status != Order.Status.OPEN})
    return out


# --------------------------------------------------------------------------- staff reads

def contacts_of(customer_id: int) -> list[Contact]:
    return list(Contact.objects.filter(customer_id=customer_id).order_by("name", "pk"))


def contact_dict(c: Contact) -> dict[str, Any]:
    return {"id": c.pk, "customer": c.customer.code, "name": c.name, "email": c.email, "mobile": c.mobile,
            "is_active": c.is_active, "invited_at": c.invited_at, "last_login_at": c.last_login_at,
            "created_at": c.created_at}


def order_portal_summary(order: Order) -> dict[str, Any]:
    """Opens (tracking link, portal page) and inbound calls of one order, for its staff page."""
    opens = dict(Visit.objects.filter(order_id=order.pk).values_list("kind").annotate(n=Count("id")).order_by())
    calls = InboundCall.objects.filter(order_id=order.pk).aggregate(n=Count("id"), last=Max("at"))
    return {"track_opens": opens.get(Visit.Kind.TRACK, 0), "portal_opens": opens.get(Visit.Kind.PORTAL, 0),
            "calls": calls["n"], "last_call": calls["last"]}


def self_query_rate(*, actor: Actor, customer: str | None = None, since: datetime | None = None,
                    until: datetime | None = None) -> dict[str, Any]:
    """Of the orders the actor sees (created in [since, until), of one customer if given): how
    many the customer opened themselves (tracking link or portal page) and how many they phoned
    about; self-query rate = opened / orders."""
    orders = visible(Order.objects.all(), actor)
    if customer:
        orders = orders.filter(customer__code=customer)
    if since:
        orders = orders.filter(created_at__gte=since)
    if until:
        orders = orders.filter(created_at__lt=until)
    return self_query_of(orders)


def self_query_of(orders: QuerySet[Order], *, total: int | None = None) -> dict[str, Any]:
    """The self-query figures of a set of orders (the KPI dashboards narrow it their way);
    ``total``: their number when the caller knows it already (the KPI rollup's count)."""
    ids = orders.values("pk")
    total = orders.count() if total is None else total
    opened = Visit.objects.filter(order_id__in=ids).values("order_id").distinct().count()
    called = InboundCall.objects.filter(order_id__in=ids).values("order_id").distinct().count()
    calls = InboundCall.objects.filter(order_id__in=ids).count()
    return {"orders": total, "opened": opened, "called": called, "calls": calls,
            "self_query_rate": round(opened / total, 4) if total else None,
            "calls_per_order": round(calls / total, 4) if total else None}


def self_query_by_customer(*, actor: Actor, since: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The self-query rate per customer (the ``limit`` customers with the most orders the actor
    sees created since ``since``), with inbound calls beside it."""
    orders = visible(Order.objects.all(), actor)
    if since:
        orders = orders.filter(created_at__gte=since)
    rows = (orders.values("customer__code", "customer__name")
            .annotate(orders=Count("pk"),
                      opened=Count("pk", filter=Q(pk__in=Visit.objects.values("order_id"))),
                      called=Count("pk", filter=Q(pk__in=InboundCall.objects.values("order_id"))))
            .order_by("-orders", "customer__code")[:limit])
    return [{"customer": r["customer__code"], "name": r["customer__name"], "orders": r["orders"],
             "opened": r["opened"], "called": r["called"],
             "self_query_rate": round(r["opened"] / r["orders"], 4) if r["orders"] else None} for r in rows]
