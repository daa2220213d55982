"""The circuit breakers' pages: the orders they paused (reset by hand with a reason), the
carrier disruptions (mark and clear), and the configuration page (data: on/off, the stages
watched, the ticket's role and deadline, the alternative carriers)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from orderhub.core import permissions
from orderhub.core.errors import DomainError
from orderhub.core.roles import ROLES
from orderhub.orders.breakers import selectors
from orderhub.orders.breakers.config import known_stages
from orderhub.orders.breakers.configure import breaker_config_save
from orderhub.orders.breakers.trips import breaker_reset
from orderhub.orders.models import Breaker
from orderhub.shipping.breaker import carrier_disrupt, carrier_disruption_clear, open_disruptions

from .common import actor_for, field_errors, requires


def _errors(e: DomainError) -> list[str]:
    return [m for ms in field_errors(e).values() for m in ms] or [str(e.message)]


@requires("breakers.view")
@require_http_methods(["GET"])
def breakers(request):
    return _page(request)


def _page(request, errors: list[str] | None = None, status: int = 200):
    actor = actor_for(request)
    trips = list(selectors.trips(actor)[:500])
    recent = list(selectors.trips(actor, active=False).filter(reset_at__isnull=False)[:50])
    return render(request, "web/breakers/list.html", {
        "trips": trips, "recent": recent, "disruptions": open_disruptions(), "errors": errors or [],
        "configs": selectors.configs(),
        "may_reset": permissions.allowed(actor, "breakers.reset"),
        "may_disrupt": permissions.allowed(actor, "shipping.disruptions"),
        "may_configure": permissions.allowed(actor, "breakers.configure")}, status=status)


@requires("breakers.reset")
@require_POST
def trip_reset(request, pk: int):
    actor = actor_for(request)
    if not selectors.trips(actor, active=False).filter(pk=pk).exists():
        return _page(request, errors=[_("There is no such breaker trip.")], status=404)
    try:
        trip = breaker_reset(trip=pk, actor=actor, reason=request.POST.get("reason", ""))
    except DomainError as e:
        return _page(request, errors=_errors(e), status=e.status if e.status != 400 else 422)
    messages.success(request, _("Reset: order %(n)s") % {"n": trip.order.number})
    return redirect(reverse("web:breakers"))


@requires("shipping.disruptions")
@require_POST
def disruption_new(request):
    try:
        carrier_disrupt(carrier=request.POST.get("carrier", ""), route=request.POST.get("route", ""),
                        reason=request.POST.get("reason", ""), actor=actor_for(request))
    except DomainError as e:
        return _page(request, errors=_errors(e), status=422)
    messages.success(request, _("Carrier disruption recorded; the orders of the affected shipments are on hold."))
    return redirect(reverse("web:breakers"))


@requires("shipping.disruptions")
@require_POST
def disruption_clear(request, pk: int):
    try:
        carrier_disruption_clear(disruption=pk, actor=actor_for(request))
    except DomainError as e:
        return _page(request, errors=_errors(e), status=e.status)
    messages.success(request, _("Carrier disruption lifted; the breakers are reset."))
    return redirect(reverse("web:breakers"))


def _alternatives(text: str) -> dict[str, str]:
    """Lines "顺丰速运 = 德邦物流" → {"顺丰速运": "德邦物流"} (a line without "=" is kept as a
    fault for the service to name)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            left, _sep, right = line.partition("=")
            out[left.strip()] = right.strip()
    return out


@requires("breakers.configure")
@require_http_methods(["GET", "POST"])
def breaker_settings(request):
    actor = actor_for(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        data = {"enabled": request.POST.get("enabled") == "on",
                "stages": request.POST.getlist("stages"),
                "ticket_role": request.POST.get("ticket_role", ""),
                "ticket_hours": request.POST.get("ticket_hours", "")}
        if kind == Breaker.Kind.CARRIER:
            data["alternatives"] = _alternatives(request.POST.get("alternatives", ""))
        try:
            breaker_config_save(kind=kind, data=data, actor=actor)
        except DomainError as e:
            errors[kind] = _errors(e)
        else:
            messages.success(request, _("Breaker settings saved."))
            return redirect(reverse("web:config_breakers"))
    rows = [{"b": b, "label": Breaker.Kind(b.kind).label,
             "alternatives": "\n".join(f"{k} = {v}" for k, v in (b.alternatives or {}).items()),
             "errors": errors.get(b.kind, [])} for b in selectors.configs()]
    return render(request, "web/config/breakers.html", {
        "rows": rows, "roles": list(ROLES.items()), "stages": sorted(known_stages().items())},
        status=422 if errors else 200)
