"""What the order services share: results, order numbers, snapshots and audit events.

Locks live in ``orders.locks``, row writes in ``orders.store``, guards and entry actions in
``stages``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings

from orderhub.core.actors import Actor
from orderhub.core.audit import build_event, seal
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.canonical import canonical_json, sha256_hex
from orderhub.core.errors import Problem
from orderhub.core.instances import new
from orderhub.core.models import AuditEvent
from orderhub.core.numbering import next_value

from ..models import Order, OrderLine, Snapshot, StageInstance, snapshot_sealed_text

CENT = Decimal("0.01")
NUMBER_SEQUENCE = "orderhub_order_number"
MAX_LINES = 5000
MAX_QTY = Decimal("1e14")     # QTY columns: 18 digits, 4 decimals
MAX_MONEY = Decimal("1e14")   # MONEY columns: 16 digits, 2 decimals


@dataclass
class CreateResult:
    order: Order
    created: bool
    # what a new order was written with, so a caller can answer without reading it back
    lines: list[OrderLine] | None = None
    stages: list[StageInstance] | None = None


@dataclass
class TransitionResult:
    order: Order
    ok: bool
    reasons: list[Problem] = field(default_factory=list)


class Blocked(Exception):
    def __init__(self, reasons: list[Problem]):
        super().__init__("; ".join(p.message for p in reasons))
        self.reasons = reasons


# --------------------------------------------------------------------------- numbers


def next_order_number(now: datetime) -> str:
    return f"{_number_prefix(settings.ORDERHUB_ORDER_NUMBER_PREFIX, now, get_business_calendar().tz)}" \
           f"{next_value(NUMBER_SEQUENCE):06d}"


@lru_cache(maxsize=16)
def _number_prefix(prefix: str, now: datetime, tz: tzinfo) -> str:
    """'SO-261130-': the same for every order of a batch (one ``now``)."""
    return f"{prefix}-{now.astimezone(tz):%y%m%d}-"


# --------------------------------------------------------------------------- snapshots & events


def snapshot_content(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    return {
        "number": order.number,
        "version": order.version,
        "channel": order.channel,
        "external_ref": order.external_ref,
        "customer": order.customer.code,
        "workflow": f"{order.workflow.code} v{order.workflow.version}",
        "stage": order.stage,
        "status": order.status,
        "on_hold": order.on_hold,
        "required_date": order.required_date,
        "promised_date": order.promised_date,
        "urgency": order.urgency,
        "currency": order.currency,
        "total_amount": order.total_amount,
        "remarks": order.remarks,
        "tags": order.tags,
        "ship_to": {"contact": order.ship_to_contact, "phone": order.ship_to_phone,
                    "address": order.ship_to_address},
        "owner_id": order.owner_id,
        "lines": [
            {"line_no": ln.line_no, "sku": ln.product.sku, "qty": ln.qty, "unit": ln.unit,
             "base_qty": ln.base_qty, "unit_price": ln.unit_price, "amount": ln.amount,
             "remarks": ln.remarks}
            for ln in lines
        ],
    }


def make_snapshot(order: Order, lines: list[OrderLine], now: datetime) -> Snapshot:
    content = canonical_json(snapshot_content(order, lines))
    key_id, mac = seal(snapshot_sealed_text(order.pk, order.version, content))
    return new(Snapshot, order=order, version=order.version, stage=order.stage, taken_at=now,
                    content=content, sha256=sha256_hex(content), key_id=key_id, mac=mac)


def next_event(order: Order, *, action: str, actor: Actor, now: datetime,
               changes: dict[str, Any] | None = None, data: dict[str, Any] | None = None,
               reason: str = "", forced: bool = False, plain: bool = False,
               data_json: str | None = None) -> AuditEvent:
    """Build the next event of the order's chain and move the head kept on the order row
    (``data_json``: see :func:`core.audit.build_event`)."""
    ev = build_event(subject_type="order", subject_id=order.pk, head=(order.audit_seq, order.audit_head),
                     action=action, actor=actor, changes=changes, data=data, reason=reason,
                     forced=forced, at=now, plain=plain, data_json=data_json)
    order.audit_seq, order.audit_head = ev.seq, ev.hash
    return ev
