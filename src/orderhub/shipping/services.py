"""Shipment writes, the only ones. Every function is keyword-only, takes the ``Actor``, checks
the capability, locks the order and its lines, validates, writes, and appends its event to the
order's history in the same transaction; the shipping notice goes through the notify outbox in
that transaction too.

Never more than ordered: what a shipment may take of a line is its quantity less what every
other shipment of the order (planned or shipped) already takes, computed while the order row and
its lines are locked (``SELECT … FOR UPDATE``), so concurrent shipments of one order serialise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Sum
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.audited import audit_save
from orderhub.core.errors import Conflict, NotFound, Problem, ValidationFailed
from orderhub.core.locking import lock_own_rows
from orderhub.inventory.services import ShipItem, stock_ship
from orderhub.notify.services import NotifyRequest, Recipient, notify, notify_many
from orderhub.orders.locks import lock_order
from orderhub.orders.models import BreakerTrip, Order, OrderLine
from orderhub.orders.selectors import check_visible
from orderhub.orders.services.common import next_event
from orderhub.orders.survey_links import survey_url

from . import documents, events
from .breaker import check_carriers, ship_refusal, subject
from .models import DocumentTemplate, Letterhead, Shipment, ShipmentLine

Q4 = Decimal("0.0001")
_ORDER_FIELDS = ["version", "updated_at", "audit_seq", "audit_head"]


def num(value: Decimal) -> str:
    """A quantity as people write it: ``70``, ``2.5`` (no exponent, no trailing zeros)."""
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class ShipmentInput:
    """``quantities``: line number → quantity (the line's unit) to ship; lines not named or 0
    stay open (backorder)."""

    quantities: Mapping[int, Decimal]
    carrier: str = ""
    waybill: str = ""
    packages: int = 1
    weight_kg: Decimal | None = None
    remarks: str = ""


def _locked(number: str, actor: Actor) -> tuple[Order, list[OrderLine]]:
    check_visible(number, actor)
    order = lock_order(number)
    lines = list(lock_own_rows(OrderLine.objects.select_related("product"))
                 .filter(order=order).order_by("pk"))
    return order, sorted(lines, key=lambda ln: ln.line_no)


def taken(order: Order) -> dict[int, Decimal]:
    """Order line id → quantity that the order's shipments (planned or shipped) take."""
    rows = (ShipmentLine.objects.filter(shipment__order=order).values("order_line_id")
            .annotate(q=Sum("qty")).values_list("order_line_id", "q"))
    return {lid: q for lid, q in rows}


def _invalid(code: str, message: str, field: str) -> ValidationFailed:
    return ValidationFailed(code, message, problems=[Problem(code, message, field=field)])


def _check_header(data: ShipmentInput) -> None:
    if data.packages < 1 or data.packages > 100000:
        raise _invalid("invalid_packages", _("The number of packages must be between 1 and 100000."), "packages")
    if data.weight_kg is not None and (not data.weight_kg.is_finite() or data.weight_kg < 0
                                       or data.weight_kg >= Decimal("1e9")):
        raise _invalid("invalid_weight", _("The weight must be a number not below 0."), "weight_kg")


def _shipment_lines(data: ShipmentInput, lines: list[OrderLine],
                    already: dict[int, Decimal]) -> list[ShipmentLine]:
    by_no = {ln.line_no: ln for ln in lines}
    problems: list[Problem] = []
    out: list[ShipmentLine] = []
    for line_no, qty in sorted(data.quantities.items()):
        field = f"quantities.{line_no}"
        ln = by_no.get(line_no)
        if ln is None:
            problems.append(Problem("unknown_line", _("The order has no line %(n)s.") % {"n": line_no}, field=field))
            continue
        if not qty.is_finite() or qty < 0 or qty != qty.quantize(Q4):
            problems.append(Problem("invalid_quantity", _("The quantity on line %(n)s is invalid.") % {"n": line_no}, field=field))
            continue
        if qty == 0:
            continue
        left = ln.qty - already.get(ln.pk, Decimal("0"))
        if qty > left:
            problems.append(Problem(
                "over_shipped", _("Line %(n)s (%(sku)s) can ship at most %(left)s more, not %(qty)s.") % {
                    "n": line_no, "sku": ln.product.sku, "left": num(left), "qty": num(qty)},
                field=field, data={"remaining": num(left)}))
            continue
        base = (qty * ln.base_qty / ln.qty).quantize(Q4)
        out.append(ShipmentLine(order_line=ln, qty=qty, base_qty=base))
    if problems:
        code = "over_shipped" if any(p.code == "over_shipped" for p in problems) else "invalid"
        error = Conflict if code == "over_shipped" else ValidationFailed
        raise error(code, str(problems[0].message), problems=problems)
    if not out:
        raise _invalid("nothing_to_ship", _("Enter a quantity to ship for at least one line."), "quantities")
    return out


def shipment_create(*, order: str, data: ShipmentInput, actor: Actor) -> Shipment:
    """Plan a shipment of some quantities of the order's lines (the rest stays open), the ship-to
    copied from the order; the customer's contact e-mail gets the shipping notice."""
    permissions.check(actor, "shipping.ship")
    _check_header(data)
    with transaction.atomic():
        locked, lines = _locked(order, actor)
        if locked.status == Order.Status.CANCELLED:
            raise Conflict("order_cancelled", _("The order is cancelled and cannot be shipped."))
        rows = _shipment_lines(data, lines, taken(locked))
        now = clock.now()
        seq = (Shipment.objects.filter(order=locked).aggregate(m=Max("seq"))["m"] or 0) + 1
        email = locked.customer.email
        shipment = Shipment.objects.create(
            order=locked, number=f"{locked.number}-F{seq}", seq=seq, carrier=data.carrier[:100],
            waybill=data.waybill[:64], packages=data.packages, weight_kg=data.weight_kg,
            ship_to_contact=locked.ship_to_contact, ship_to_phone=locked.ship_to_phone,
            ship_to_address=locked.ship_to_address, remarks=data.remarks[:500], created_at=now,
            created_by=actor.label[:150])
        for row in rows:
            row.shipment = shipment
        ShipmentLine.objects.bulk_create(rows)
        if email and _notice(locked, shipment, rows):
            shipment.notice_at, shipment.notice_to = now, email[:300]
            shipment.save(update_fields=["notice_at", "notice_to"])
        _history(locked, events.SHIPMENT_CREATED, actor, now, data={
            "shipment": shipment.number,
            "lines": [{"line_no": r.order_line.line_no, "sku": r.order_line.product.sku,
                       "qty": num(r.qty)} for r in rows],
            "ship_to": shipment.ship_to_address, "carrier": shipment.carrier,
            "waybill": shipment.waybill, "notice_to": shipment.notice_to})
        return shipment


def _notice(order: Order, shipment: Shipment, rows: list[ShipmentLine]) -> int:
    """Queue the shipping notice to the customer's e-mail, the delivery note attached (made when
    the e-mail is sent); how many messages were queued (0: no e-mail channel configured)."""
    items = "\n".join(f"{r.order_line.product.name}（{r.order_line.product.sku}）× "
                      f"{num(r.qty)} {r.order_line.unit}" for r in rows)
    subject = _("Shipping notice: order %(order)s (%(shipment)s)") % {"order": order.number,
                                                          "shipment": shipment.number}
    body = _("Dear customer,\nyour order %(order)s is about to ship (shipment %(shipment)s).\n%(items)s\nCarrier: %(carrier)s  Waybill: %(waybill)s\nShip-to address: %(address)s\n") % {
        "order": order.number, "shipment": shipment.number, "items": items,
        "carrier": shipment.carrier or _("To be decided"), "waybill": shipment.waybill or _("To be decided"),
        "address": shipment.ship_to_address or _("not given")}
    return notify_many([NotifyRequest(
        event=events.SHIPPING_NOTICE, recipients=[Recipient.customer(order.customer_id)],
        context={"subject": subject, "message": body, "shipment": shipment.number},
        order=order, dedupe_key=f"shipment-notice:{shipment.number}", channels=["email"],
        extra_payload={"attachment_refs": [documents.attachment_ref("delivery-note", shipment.number)]})])


def delivery_notice(order: Order, shipment: Shipment) -> int:
    """Queue the delivery notice (once per shipment) with the link to the order's satisfaction
    survey; how many messages were queued."""
    subject = _("Delivered: order %(order)s (%(shipment)s)") % {"order": order.number,
                                                                "shipment": shipment.number}
    body = _("Dear customer,\nyour order %(order)s has been delivered (shipment %(shipment)s).\n"
             "How did we do? Please rate this order (1 to 5 stars, one minute): %(url)s\n") % {
        "order": order.number, "shipment": shipment.number, "url": survey_url(order.pk)}
    return notify(event=events.DELIVERY_NOTICE, recipients=[Recipient.customer(order.customer_id)],
                  context={"subject": subject, "message": body, "shipment": shipment.number},
                  order=order, dedupe_key=f"shipment-delivered:{shipment.number}", channels=["email"])


def _history(order: Order, action: str, actor: Actor, now, *, data: dict) -> None:
    order.version += 1
    order.updated_at = now
    ev = next_event(order, action=action, actor=actor, now=now,
                    changes={"version": [order.version - 1, order.version]}, data=data)
    order.save(update_fields=_ORDER_FIELDS)
    ev.save(force_insert=True)


def shipment_ship(*, shipment: str, actor: Actor, carrier: str | None = None,
                  waybill: str | None = None) -> Shipment:
    """The shipment leaves: its quantities come out of stock (the lines' reservations first,
    then free stock), carrier and waybill as given."""
    permissions.check(actor, "shipping.ship")
    number = Shipment.objects.filter(number=shipment).values_list("order__number", flat=True).first()
    if number is None:
        raise NotFound("shipment_not_found", _("Shipment %(n)s does not exist.") % {"n": shipment})
    with transaction.atomic():
        locked, _lines = _locked(number, actor)
        sh = Shipment.objects.select_for_update().get(number=shipment)
        if sh.status == Shipment.Status.SHIPPED:
            raise Conflict("already_shipped", _("Shipment %(n)s has already shipped.") % {"n": sh.number})
        if (refusal := ship_refusal(sh, carrier)) is not None:
            raise refusal
        rows = list(sh.lines.select_related("order_line__product"))
        now = clock.now()
        drawn = stock_ship(order_id=locked.pk, actor=actor, note=sh.number, items=[
            ShipItem(r.order_line_id, r.order_line.product_id, r.base_qty) for r in rows])
        sh.status = Shipment.Status.SHIPPED
        sh.shipped_at, sh.shipped_by = now, actor.label[:150]
        if carrier is not None:
            sh.carrier = carrier[:100]
        if waybill is not None:
            sh.waybill = waybill[:64]
        sh.save(update_fields=["status", "shipped_at", "shipped_by", "carrier", "waybill"])
        skus = {r.order_line.product_id: r.order_line.product.sku for r in rows}
        _history(locked, events.SHIPMENT_SHIPPED, actor, now, data={
            "shipment": sh.number, "carrier": sh.carrier, "waybill": sh.waybill,
            "moves": [{"sku": skus[d.product_id], "warehouse": d.warehouse_id, "qty": num(d.qty),
                       "from_reservation": d.from_reservation} for d in drawn]})
        if BreakerTrip.objects.filter(order_id=locked.pk, subject=subject(sh.pk), reset_at__isnull=True).exists():
            check_carriers(actor=actor)  # it left with another carrier: the breaker resets
        return sh


# --------------------------------------------------------------------------- documents


def letterhead_save(*, actor: Actor, name: str, address: str, phone: str,
                    logo: bytes | None = None, remove_logo: bool = False) -> Letterhead:
    """The company on every printed document. ``logo``: PNG or JPEG bytes (at most 1 MB)."""
    permissions.check(actor, "documents.manage")
    values: dict[str, object] = {"name": name.strip()[:200], "address": address.strip()[:300],
                                 "phone": phone.strip()[:64]}
    if logo is not None:
        values["logo_type"] = _logo_type(logo)
        values["logo"] = logo
    elif remove_logo:
        values["logo"], values["logo_type"] = b"", ""
    with transaction.atomic():
        lh = lock_own_rows(Letterhead.objects.all()).order_by("pk").first() or Letterhead()
        before = _letterhead_fields(lh)
        for k, v in values.items():
            setattr(lh, k, v)
        lh.updated_at, lh.updated_by = clock.now(), actor.label[:150]
        lh.save()
        audit_save(subject_type="letterhead", subject_id=lh.pk, action=events.LETTERHEAD_SAVED,
                   actor=actor, before=before, after=_letterhead_fields(lh))
        return lh


def _letterhead_fields(lh: Letterhead) -> dict[str, str]:
    logo = bytes(lh.logo or b"")
    return {"name": lh.name, "address": lh.address, "phone": lh.phone,
            "logo": hashlib.sha256(logo).hexdigest() if logo else ""}


def _logo_type(logo: bytes) -> str:
    if len(logo) > 1024 * 1024:
        raise _invalid("logo_too_large", _("The logo image may be at most 1 MB."), "logo")
    if logo.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if logo.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    raise _invalid("logo_type", _("The logo must be a PNG or JPEG image."), "logo")


def document_template_save(*, kind: str, body: str | None, actor: Actor) -> DocumentTemplate | None:
    """An admin's body for ``kind`` (checked: it must parse and render against sample data), or
    ``None`` to go back to the shipped one."""
    permissions.check(actor, "documents.manage")
    if kind not in documents.KINDS:
        raise NotFound("unknown_document", _("There is no such document: %(k)s.") % {"k": kind})
    if body is not None:
        try:
            documents.template_check(body)
        except documents.DocumentError as e:
            raise _invalid(e.code, e.message, "body") from e
    with transaction.atomic():
        row = lock_own_rows(DocumentTemplate.objects.all()).filter(kind=kind).first()
        before = {"body": row.body if row else None}
        if body is None:
            if row is not None:
                row.delete()
            result = None
        else:
            row = row or DocumentTemplate(kind=kind)
            row.body, row.updated_at, row.updated_by = body, clock.now(), actor.label[:150]
            row.save()
            result = row
        audit_save(subject_type="document_template", subject_id=list(documents.KINDS).index(kind) + 1,
                   action=events.DOCUMENT_TEMPLATE_SAVED, actor=actor, before=before,
                   after={"body": body}, data={"kind": kind})
        return result


# --------------------------------------------------------------------------- proof of delivery

MAX_POD_BYTES = 20 * 1024 * 1024


def _locked_shipment(shipment: str, actor: Actor) -> tuple[Order, Shipment]:
    number = Shipment.objects.filter(number=shipment).values_list("order__number", flat=True).first()
    if number is None:
        raise NotFound("shipment_not_found", _("Shipment %(n)s does not exist.") % {"n": shipment})
    check_visible(number, actor)
    order = lock_order(number)
    sh = Shipment.objects.select_for_update().get(number=shipment)
    if sh.status != Shipment.Status.SHIPPED:
        raise Conflict("not_shipped", _("Shipment %(n)s has not shipped yet.") % {"n": sh.number})
    return order, sh


def shipment_pod(*, shipment: str, name: str, content: bytes, actor: Actor) -> Shipment:
    """Keep the proof of delivery (a photo or the signed delivery note, scanned) with a shipped
    shipment; a later one replaces it (both stay in the history)."""
    permissions.check(actor, "shipping.ship")
    if not content:
        raise _invalid("empty_file", _("This file is empty."), "file")
    if len(content) > MAX_POD_BYTES:
        raise _invalid("too_large", _("A file may be at most 20 MB."), "file")
    safe = (name or "pod").replace("/", "_").replace("\\", "_")[:200]
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        order, sh = _locked_shipment(shipment, actor)
        now = clock.now()
        sh.pod_file.save(f"{digest[:16]}-{safe}", ContentFile(content), save=False)
        sh.pod_name, sh.pod_sha256, sh.pod_at, sh.pod_by = safe, digest, now, actor.label[:150]
        sh.save(update_fields=["pod_file", "pod_name", "pod_sha256", "pod_at", "pod_by"])
        _history(order, events.SHIPMENT_POD_ADDED, actor, now, data={
            "shipment": sh.number, "name": safe, "sha256": digest, "size": len(content)})
        if order.customer.email:
            delivery_notice(order, sh)
        return sh


def shipment_accept(*, shipment: str, accepted_by: str, note: str = "", actor: Actor) -> Shipment:
    """Record the customer's acceptance of a shipped shipment: who accepted, and what they said
    (a reservation about the goods goes in the note)."""
    permissions.check(actor, "shipping.ship")
    who = accepted_by.strip()
    if not who:
        raise _invalid("required", _("Enter who accepted the goods."), "accepted_by")
    with transaction.atomic():
        order, sh = _locked_shipment(shipment, actor)
        if sh.accepted_at is not None:
            raise Conflict("already_accepted", _("Shipment %(n)s already has its acceptance recorded.") % {"n": sh.number})
        now = clock.now()
        sh.accepted_at, sh.accepted_by = now, who[:100]
        sh.acceptance_note, sh.acceptance_recorded_by = note.strip()[:500], actor.label[:150]
        sh.save(update_fields=["accepted_at", "accepted_by", "acceptance_note", "acceptance_recorded_by"])
        _history(order, events.SHIPMENT_ACCEPTED, actor, now, data={
            "shipment": sh.number, "accepted_by": sh.accepted_by, "note": sh.acceptance_note})
        if order.customer.email:
            delivery_notice(order, sh)
        return sh

