"""Carrier disruptions over the API (mounted at /api/shipping/disruptions): marking a carrier or
route disrupted trips the carrier breaker for its planned shipments (their orders pause, the
configured alternative carrier is proposed); clearing it resets the breaker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status
from pydantic import Field

from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, STRICT, Line

from .breaker import carrier_disrupt, carrier_disruption_clear, open_disruptions
from .models import CarrierDisruption

router = Router(tags=["shipping"])


class DisruptionOut(Schema):
    id: int
    carrier: str
    route: str = Field(description="Only shipments whose ship-to address contains this; empty: all")
    reason: str
    since: datetime
    created_by: str
    cleared_at: datetime | None
    cleared_by: str


class DisruptionIn(Schema):
    model_config = STRICT
    carrier: Line = Field(max_length=100)
    route: Line = Field("", max_length=100)
    reason: Line = Field(max_length=300)


def _out(d: CarrierDisruption) -> dict[str, Any]:
    return {"id": d.pk, "carrier": d.carrier, "route": d.route, "reason": d.reason, "since": d.since,
            "created_by": d.created_by, "cleared_at": d.cleared_at, "cleared_by": d.cleared_by}


@router.get("/disruptions", auth=requires("shipping.view"), response={200: list[DisruptionOut], **ERRORS})
def disruptions(request: ActorRequest) -> list[dict[str, Any]]:
    """Carrier disruptions not cleared yet, newest first."""
    return [_out(d) for d in open_disruptions()]


@router.post("/disruptions", auth=requires("shipping.disruptions"), response={201: DisruptionOut, **ERRORS})
def disruption_create(request: ActorRequest, payload: DisruptionIn) -> Status:
    """Mark a carrier (or route) disrupted: the carrier breaker pauses its planned shipments' orders."""
    d = carrier_disrupt(carrier=payload.carrier, route=payload.route, reason=payload.reason, actor=request.actor)
    return Status(201, _out(d))


@router.post("/disruptions/{disruption_id}/clear", auth=requires("shipping.disruptions"),
             response={200: DisruptionOut, **ERRORS})
def disruption_clear(request: ActorRequest, disruption_id: int) -> dict[str, Any]:
    """The carrier runs again: the breaker resets and the orders it paused resume."""
    return _out(carrier_disruption_clear(disruption=disruption_id, actor=request.actor))
