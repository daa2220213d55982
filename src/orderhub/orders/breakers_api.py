"""The circuit breakers over the API (mounted at /api/breakers): their configuration (data:
enabled, the stages watched, the ticket's role and deadline, the carrier alternatives), the
trips (the orders paused and why) and the reset by hand with a reason. The carrier
disruptions that trip the carrier breaker are shipping's (``/api/shipping/disruptions``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from orderhub.core.errors import NotFound
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, STRICT, Line, Text

from .breakers import selectors
from .breakers.configure import breaker_config_save
from .breakers.trips import breaker_reset
from .models import Breaker, BreakerTrip

router = Router(tags=["breakers"])


class BreakerConfigOut(Schema):
    kind: str = Field(description="stock, credit or carrier")
    label: str
    enabled: bool
    stages: list[str] = Field(description="Stage codes watched; empty: every stage")
    ticket_role: str = Field(description="The role that gets the ticket when it trips")
    ticket_hours: Decimal = Field(description="The ticket's deadline in business hours")
    alternatives: dict[str, str] = Field(description="Carrier breaker: {disrupted carrier: alternative}")
    updated_at: datetime | None
    updated_by: str


class BreakerConfigIn(Schema):
    model_config = STRICT
    enabled: bool | None = None
    stages: list[Line] | None = Field(None, max_length=50)
    ticket_role: Line | None = Field(None, max_length=32)
    ticket_hours: Decimal | None = Field(None, gt=0, le=999, max_digits=5, decimal_places=1)
    alternatives: dict[Line, Line] | None = Field(None, max_length=100)


class BreakerTripOut(Schema):
    id: int
    kind: str
    label: str
    order: str
    customer: str
    subject: str
    reason: str
    detail: dict[str, Any] = Field(description="stock: need, free, substitutes; credit: available; "
                                               "carrier: shipment, carrier, route, alternative")
    tripped_at: datetime
    holds: bool = Field(description="The breaker put the order on hold (a hold by hand is left alone)")
    ticket: int | None
    reset_at: datetime | None
    reset_by: str
    reset_reason: str


class BreakerResetIn(Schema):
    model_config = STRICT
    reason: Text = Field(max_length=300, description="Required: why the breaker is reset by hand")


def _config(b: Breaker) -> dict[str, Any]:
    return {"kind": b.kind, "label": str(Breaker.Kind(b.kind).label), "enabled": b.enabled, "stages": b.stages,
            "ticket_role": b.ticket_role, "ticket_hours": b.ticket_hours, "alternatives": b.alternatives,
            "updated_at": b.updated_at, "updated_by": b.updated_by}


def _trip(t: BreakerTrip) -> dict[str, Any]:
    return {"id": t.pk, "kind": t.kind, "label": str(Breaker.Kind(t.kind).label), "order": t.order.number,
            "customer": t.order.customer.name, "subject": t.subject, "reason": t.reason, "detail": t.detail,
            "tripped_at": t.tripped_at, "holds": t.holds, "ticket": t.ticket_id, "reset_at": t.reset_at,
            "reset_by": t.reset_by, "reset_reason": t.reset_reason}


@router.get("/config", auth=requires("breakers.view"), response={200: list[BreakerConfigOut], **ERRORS})
def breaker_configs(request: ActorRequest) -> list[dict[str, Any]]:
    """Every breaker's configuration."""
    return [_config(b) for b in selectors.configs()]


@router.put("/config/{kind}", auth=requires("breakers.configure"), response={200: BreakerConfigOut, **ERRORS})
def breaker_config_put(request: ActorRequest, kind: str, payload: BreakerConfigIn) -> dict[str, Any]:
    """Change a breaker's configuration (fields left out stay); switching it off resets its trips."""
    data = payload.model_dump(exclude_none=True)
    return _config(breaker_config_save(kind=kind, data=data, actor=request.actor))


class TripFilter(Schema):
    active: bool = Field(True, description="Only trips not reset yet")
    kind: str = Field("", max_length=16, description="stock, credit or carrier; empty: all")


@router.get("/trips", auth=requires("breakers.view"), response={200: list[BreakerTripOut], **ERRORS})
def breaker_trips(request: ActorRequest, filters: Query[TripFilter]) -> list[dict[str, Any]]:
    """Trips of the orders the caller may see, newest first (at most 500)."""
    return [_trip(t) for t in selectors.trips(request.actor, active=filters.active, kind=filters.kind)[:500]]


@router.post("/trips/{trip_id}/reset", auth=requires("breakers.reset"), response={200: BreakerTripOut, **ERRORS})
def breaker_trip_reset(request: ActorRequest, trip_id: int, payload: BreakerResetIn) -> dict[str, Any]:
    """Reset a trip by hand (reason required): the order resumes unless another breaker or a
    hold by hand still holds it; the breaker trips again at its next check if the condition holds."""
    if not selectors.trips(request.actor, active=False).filter(pk=trip_id).exists():
        raise NotFound("trip_not_found", _("There is no such breaker trip."))
    breaker_reset(trip=trip_id, actor=request.actor, reason=payload.reason)
    return _trip(BreakerTrip.objects.select_related("order__customer").get(pk=trip_id))
