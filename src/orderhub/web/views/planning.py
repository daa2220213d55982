"""Capacity planning pages under /planning/: the capacity board (load per line and day, coloured
by % load), lines and routings, the rebuild, delivery risks (with the warning's measured
precision and recall) and, per order, its plan and the rush-order options. Reads through
``planning.selectors``/``rush``/``risk``, writes through ``planning.services`` (as the API)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from orderhub.catalog.models import Product
from orderhub.core import permissions
from orderhub.core.errors import DomainError, ValidationFailed
from orderhub.planning import selectors, services
from orderhub.planning.models import RiskNotice
from orderhub.planning.risk import risk_backtest, risk_list
from orderhub.planning.rush import rush_options
from orderhub.planning.schedule import today

from .common import actor_for, refused, requires

WEEKDAYS = [pgettext_lazy("weekday, short", "Mon"), pgettext_lazy("weekday, short", "Tue"),
            pgettext_lazy("weekday, short", "Wed"), pgettext_lazy("weekday, short", "Thu"),
            pgettext_lazy("weekday, short", "Fri"), pgettext_lazy("weekday, short", "Sat"),
            pgettext_lazy("weekday, short", "Sun")]


def _num(raw: str, what: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValidationFailed("invalid_number", _("“%(v)s” is not a number (%(w)s).") % {"v": raw, "w": what}) from None
    if not value.is_finite():
        raise ValidationFailed("invalid_number", _("“%(v)s” is not a number (%(w)s).") % {"v": raw, "w": what})
    return value


@requires("planning.view")
def capacity_board(request):
    try:
        start = date.fromisoformat(request.GET.get("start", "")) if request.GET.get("start") else today()
    except ValueError:
        start = today()
    days = 21
    dates, rows = selectors.capacity_board(start=start, days=days)
    return render(request, "web/planning/board.html", {
        "dates": [(d, WEEKDAYS[d.weekday()]) for d in dates], "rows": rows, "start": start,
        "earlier": start - timedelta(days=days), "later": start + timedelta(days=days),
        "may_plan": permissions.allowed(actor_for(request), "planning.plan")})


@requires("planning.view")
def lines(request):
    return render(request, "web/planning/lines.html", {
        "lines": selectors.lines_with_routings(),
        "may_plan": permissions.allowed(actor_for(request), "planning.plan")})


@requires("planning.plan")
@require_POST
def line_save(request):
    back = reverse("web:planning_lines")
    post = request.POST
    try:
        routings = []
        for i in range(int(post.get("rows", "0") or 0)):
            sku = post.get(f"sku-{i}", "").strip()
            if not sku:
                continue
            pid = Product.objects.filter(sku=sku).values_list("pk", flat=True).first()
            if pid is None:
                raise ValidationFailed("unknown_sku", _("Product “%(sku)s” does not exist.") % {"sku": sku})
            routings.append(services.RoutingIn(pid, int(_num(post.get(f"seq-{i}", "10"), _("Operation number"))),
                                               post.get(f"op-{i}", "").strip() or _("Processing"),
                                               _num(post.get(f"rate-{i}", ""), _("Hours per piece")),
                                               post.get(f"pref-{i}") == "on"))
        wc = services.line_save(actor=actor_for(request), code=post.get("code", ""), name=post.get("name", ""),
                                hours_per_day=_num(post.get("hours", ""), _("Hours per day")),
                                is_active=post.get("active", "on") == "on",
                                routings=routings if post.get("rows") else None)
    except (DomainError, ValueError) as e:
        return refused(request, e if isinstance(e, DomainError) else ValidationFailed("invalid", _("Invalid input.")), back)
    messages.success(request, _("Production line %(n)s saved and rescheduled.") % {"n": wc.name})
    return redirect(back)


@requires("planning.plan")
@require_POST
def reschedule(request):
    r = services.schedule_rebuild(actor=actor_for(request), refresh_materials=True)
    messages.success(request, _("Rescheduled: %(o)s orders, %(m)s completion dates changed, %(s)s later than the promised date (owners notified).") % {
        "o": r.orders, "m": len(r.moved), "s": len(r.slipped)})
    return redirect(reverse("web:planning"))


@requires("planning.view")
def risks(request):
    hours = 48 if request.GET.get("hours") not in ("168",) else 168
    found = risk_list(hours=hours)
    return render(request, "web/planning/risks.html", {
        "risks": found, "hours": hours, "score": risk_backtest(), "kinds": RiskNotice.Kind})


@requires("planning.view")
def order_rush(request, number: str):
    actor = actor_for(request)
    try:
        order = selectors.visible_order(number, actor)
        opts = rush_options(order.number)
    except DomainError as e:
        return refused(request, e, reverse("web:planning"))
    return render(request, "web/planning/rush.html", {
        "order": order, "opts": opts, "schedule": selectors.order_schedule(order),
        "may_plan": permissions.allowed(actor, "planning.plan")})


@requires("planning.plan")
@require_POST
def order_rush_apply(request, number: str):
    back = reverse("web:planning_rush", args=[number])
    try:
        order = selectors.visible_order(number, actor_for(request))
        r = services.rush_apply(actor=actor_for(request), number=order.number, line_code=request.POST.get("line", ""),
                                reason=request.POST.get("reason", ""))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Inserted as a rush order and rescheduled; %(m)s orders' completion dates changed, and the owners of the affected orders have been notified.") % {
        "m": len(r.moved)})
    return redirect(back)
