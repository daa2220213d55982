"""Restoring an earlier snapshot as the order's next version (issue 15.3).

The snapshot's header fields, ship-to, dates and lines become version n+1 through the line
edit (``lines``): one transaction, stock brought in line with the restored quantities, the
current stage's guards checked, an ``order.restored`` event and a new snapshot. Earlier
snapshots are only read (their content and hashes never change); what hangs off the order
(tickets, attachments, notification history, reservations still needed) stays with it."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.selectors import master_data
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.canonical import sha256_hex
from orderhub.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.permissions import allowed
from orderhub.core.text import text_fault
from orderhub.workflow.services import compiled

from .. import events
from ..editing import edit_refusal
from ..locks import lock_order_with_lines
from ..models import Order, OrderLine, Snapshot
from .lines import Extra, LineChange, _check_prices, _Edit, _write

# the header fields a restore brings back, as the snapshot spells them
HEADER = ("required_date", "promised_date", "urgency", "remarks", "tags")
SHIP_TO = {"contact": "ship_to_contact", "phone": "ship_to_phone", "address": "ship_to_address"}


def restorable_snapshot(order: Order, version: int) -> tuple[Snapshot, dict[str, Any]]:
    """The order's snapshot ``version`` and its content, refused when it is not an earlier
    version or its content no longer matches its SHA-256."""
    snap = Snapshot.objects.filter(order=order, version=version).first()
    if snap is None:
        raise NotFound("snapshot_not_found", _("Snapshot version %(v)s does not exist.") % {"v": version})
    if version >= order.version:
        raise ValidationFailed("invalid", _("Only an earlier version can be restored."),
                               problems=[Problem("not_earlier", _("Only an earlier version can be restored."),
                                                 field="version")])
    if sha256_hex(snap.content) != snap.sha256:
        raise DomainError("snapshot_edited", _("Snapshot version %(v)s does not match its SHA-256; it is not "
                                               "restored.") % {"v": version}, status=409)
    return snap, json.loads(snap.content)


def _header(order: Order, content: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the snapshot's header and ship-to on ``order``; returns {field: [before, after]}."""
    wanted: dict[str, Any] = {
        "required_date": date.fromisoformat(content["required_date"]),
        "promised_date": date.fromisoformat(content["promised_date"]) if content.get("promised_date") else None,
        "urgency": content["urgency"], "remarks": content.get("remarks", ""),
        "tags": sorted(set(content.get("tags") or [])),
    }
    for key, name in SHIP_TO.items():
        wanted[name] = (content.get("ship_to") or {}).get(key, "")
    diff = {}
    for name, value in wanted.items():
        if getattr(order, name) != value:
            diff[name] = [getattr(order, name), value]
            setattr(order, name, value)
    return diff


def _line_changes(lines: list[OrderLine], target: list[dict[str, Any]]) -> list[LineChange]:
    """The changes that turn ``lines`` into the snapshot's lines, keeping its line numbers: a
    line of the same number and SKU is changed, others removed and added."""
    now = {ln.line_no: ln for ln in lines}
    want = {int(t["line_no"]): t for t in target}
    removes, updates, adds = [], [], []
    for no, ln in now.items():
        if no not in want or want[no]["sku"] != ln.product.sku:
            removes.append(LineChange("remove", line_no=no))
    for no, t in sorted(want.items()):
        qty, price = Decimal(str(t["qty"])), Decimal(str(t["unit_price"]))
        cur = now.get(no)
        if cur is not None and cur.product.sku == t["sku"]:
            if (cur.qty, cur.unit, cur.unit_price, cur.remarks) != (qty, t["unit"], price, t.get("remarks", "")):
                updates.append(LineChange("update", line_no=no, qty=qty, unit=t["unit"],
                                          unit_price=None if price == cur.unit_price else price,
                                          remarks=t.get("remarks", "")))
        else:
            adds.append(LineChange("add", line_no=no, sku=t["sku"], qty=qty, unit=t["unit"], unit_price=price,
                                   remarks=t.get("remarks", "")))
    return [*removes, *updates, *adds]


def order_restore(*, order: Order | str, version: int, actor: Actor, reason: str = "") -> Order:
    """Make snapshot ``version``'s header, ship-to, dates and lines the order's version n+1,
    while the order's stage allows edits. Prices the snapshot carries need the price permission
    as in any line edit; stock follows the restored quantities (409 ``stock_short`` when it is
    not there); the current stage's guards must pass (409 ``blocked``); 409 ``no_change`` when
    the order already is as the snapshot says."""
    if not (allowed(actor, "orders.edit_lines") and allowed(actor, "orders.update")):
        raise PermissionDenied("permission_denied", _("You may not restore an earlier version."))
    if text_fault(reason, multiline=True):
        raise ValidationFailed("invalid", str(text_fault(reason, multiline=True)),
                               problems=[Problem("invalid_text", str(text_fault(reason, multiline=True)),
                                                 field="reason")])
    number = order if isinstance(order, str) else order.number
    with transaction.atomic():
        locked, lines = lock_order_with_lines(number)
        wf = compiled(locked.workflow_id)
        refusal = edit_refusal(locked, wf)
        if refusal:
            raise DomainError("not_editable", refusal, status=409)
        snap, content = restorable_snapshot(locked, version)
        changes = _line_changes(lines, content.get("lines") or [])
        edit = _Edit(locked, lines, master_data(skus=[t["sku"] for t in content.get("lines") or []]))
        edit.apply(changes, allow_empty=True)
        _check_prices(actor, locked, edit)
        header = _header(locked, content)
        if not (header or changes):
            raise DomainError("no_change", _("The order already is as version %(v)s.") % {"v": version},
                              status=409)
        return _write(locked, edit, wf, actor=actor, now=clock.now(), reason=reason,
                      extra=Extra(events.ORDER_RESTORED, header,
                                  {"from_version": version, "from_sha256": snap.sha256}))
