"""The carrier breaker (issue 15.6). A carrier, or one of its routes (shipments whose ship-to
address contains the route's text), is marked disrupted (:func:`carrier_disrupt`, capability
``shipping.disruptions``); every planned shipment it carries whose order is open and at a stage
the breaker watches trips the breaker: the order is paused (the order's hold, through
``orders.breakers.trips``), logistics (the configured role) gets a ticket and the configured
alternative carrier (``Breaker.alternatives``) is proposed. Shipping such a shipment with the
disrupted carrier is refused. When the disruption is cleared (:func:`carrier_disruption_clear`),
or the shipment leaves with another carrier, the breaker resets and the order resumes.

:func:`check_carriers` decides for every planned shipment at once (a handful of queries); it
runs on marking and clearing, after a tripped shipment is shipped, and every five minutes (new
shipments of a disrupted carrier)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.errors import Conflict, NotFound, Problem, ValidationFailed
from orderhub.core.locking import lock_own_rows
from orderhub.orders.breakers.config import breaker_config
from orderhub.orders.breakers.trips import Trip, apply_pending, record_resets, record_trips
from orderhub.orders.models import Breaker, BreakerTrip, Order

from .models import CarrierDisruption, Shipment

KIND = Breaker.Kind.CARRIER


def subject(shipment_id: int) -> str:
    return f"shipment:{shipment_id}"


def disruption_for(shipment: Shipment, disruptions: list[CarrierDisruption]) -> CarrierDisruption | None:
    """The open disruption that stops ``shipment`` (its carrier, and its route if one is named)."""
    for d in disruptions:
        if d.carrier == shipment.carrier and (not d.route or d.route in shipment.ship_to_address):
            return d
    return None


def check_carriers(*, actor: Actor) -> list[int]:
    """Trip and reset the carrier breaker for every planned shipment; the orders changed."""
    cfg = breaker_config(KIND)
    disruptions = list(CarrierDisruption.objects.filter(cleared_at__isnull=True).order_by("pk")) if cfg.enabled else []
    matches: dict[tuple[int, str], Trip] = {}
    if disruptions:
        shipments = (Shipment.objects.filter(status=Shipment.Status.PLANNED, order__status=Order.Status.OPEN,
                                             carrier__in={d.carrier for d in disruptions})
                     .select_related("order"))
        if cfg.stages:
            shipments = shipments.filter(order__stage__in=cfg.stages)
        for sh in shipments:
            d = disruption_for(sh, disruptions)
            if d is None:
                continue
            alt = (cfg.alternatives or {}).get(sh.carrier, "")
            where = _(" (route: %(route)s)") % {"route": d.route} if d.route else ""
            reason = _("Carrier “%(carrier)s”%(where)s disrupted: %(why)s; shipment %(n)s is on hold") % {
                "carrier": sh.carrier, "where": where, "why": d.reason, "n": sh.number}
            if alt:
                reason += _("; consider “%(alt)s” instead") % {"alt": alt}
            matches[(sh.order_id, subject(sh.pk))] = Trip(sh.order_id, subject(sh.pk), reason, {
                "shipment": sh.number, "carrier": sh.carrier, "route": d.route, "alternative": alt,
                "disruption": d.pk})
    active = {(oid, subj): pk for pk, oid, subj in BreakerTrip.objects.filter(kind=KIND, reset_at__isnull=True)
              .order_by().values_list("pk", "order_id", "subject")}
    now = clock.now()
    touched = record_trips(KIND, [t for key, t in matches.items() if key not in active], now=now)
    touched |= record_resets([pk for key, pk in active.items() if key not in matches], now=now, by=actor.label,
                             reason=_("The carrier is back or another carrier is in use") if cfg.enabled else _("The breaker is switched off"))
    return apply_pending(touched, actor=actor)


def carrier_disrupt(*, carrier: str, reason: str, actor: Actor, route: str = "") -> CarrierDisruption:
    """Mark a carrier (or one of its routes) disrupted; its planned shipments' orders pause."""
    permissions.check(actor, "shipping.disruptions")
    carrier, route, reason = (carrier or "").strip(), (route or "").strip(), (reason or "").strip()
    problems = []
    if not carrier or len(carrier) > 100:
        problems.append(Problem("required", _("Enter the carrier (at most 100 characters)."), field="carrier"))
    if len(route) > 100:
        problems.append(Problem("invalid", _("The route may have at most 100 characters."), field="route"))
    if not reason or len(reason) > 300:
        problems.append(Problem("required", _("Enter the reason for the disruption (at most 300 characters)."), field="reason"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    with transaction.atomic():
        d = CarrierDisruption.objects.create(carrier=carrier, route=route, reason=reason, since=clock.now(),
                                             created_by=actor.label[:150])
        check_carriers(actor=actor)
        return d


def carrier_disruption_clear(*, disruption: int, actor: Actor) -> CarrierDisruption:
    """The carrier runs again: the breaker resets and the orders it paused resume."""
    permissions.check(actor, "shipping.disruptions")
    with transaction.atomic():
        d = lock_own_rows(CarrierDisruption.objects.filter(pk=disruption)).first()
        if d is None:
            raise NotFound("disruption_not_found", _("There is no such carrier disruption."))
        if d.cleared_at is not None:
            raise Conflict("already_cleared", _("This carrier disruption has already been lifted."))
        d.cleared_at, d.cleared_by = clock.now(), actor.label[:150]
        d.save(update_fields=["cleared_at", "cleared_by"])
        check_carriers(actor=actor)
        return d


def ship_refusal(shipment: Shipment, carrier: str | None) -> Conflict | None:
    """Refuse shipping a shipment the carrier breaker paused with its disrupted carrier."""
    using = shipment.carrier if carrier is None else carrier.strip()
    if not BreakerTrip.objects.filter(kind=KIND, order_id=shipment.order_id, subject=subject(shipment.pk),
                                      reset_at__isnull=True).exists():
        return None
    disrupted = disruption_for(Shipment(carrier=using, ship_to_address=shipment.ship_to_address),
                               list(CarrierDisruption.objects.filter(cleared_at__isnull=True, carrier=using)))
    if disrupted is None:
        return None
    return Conflict("carrier_disrupted", _("Carrier “%(c)s” is disrupted (%(why)s); use another carrier.") % {
        "c": using, "why": disrupted.reason})


def open_disruptions() -> list[CarrierDisruption]:
    return list(CarrierDisruption.objects.filter(cleared_at__isnull=True).order_by("-since", "-pk"))
