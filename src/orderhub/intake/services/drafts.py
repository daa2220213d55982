"""Pictures and PDFs of purchase orders → OCR → a draft order with a confidence per field,
which a person confirms (with corrections) into an order, or discards."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import Actor
from orderhub.core.canonical import to_plain
from orderhub.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    Problem,
    ValidationFailed,
)
from orderhub.core.text import text_fault
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.orders.services import order_create

from .. import events
from ..mapping import AmbiguousCustomer, Lookups, apply_tag_rules
from ..models import Draft, ImportJob, InboundMessage, InboundOrder
from ..ocr import read_document, read_purchase_order
from ..store import payload_of
from ..values import nfkc
from .config import compiled_config, current_config
from .triage import triage_input, triage_record

logger = logging.getLogger(__name__)
Status = InboundMessage.Status
OCR_CHANNEL = "email"


# how sure a customer found only because its name sits inside the text read ("…有限公司 (盖章)")
CONTAINED_NAME_CONFIDENCE = 0.6


def _find_customer(lookups: Lookups, doubts: dict[str, Any]):
    """``find(name)`` → a customer code or None. Below certainty it records why in ``doubts``
    (the draft then names it and carries a low confidence): a name more than one customer
    carries is never matched; a name found only inside longer text is a guess to confirm."""
    def find(name: str) -> str | None:
        name = nfkc(name).strip()
        try:
            c = lookups.customer(name, ("alias", "name", "code"))
        except AmbiguousCustomer as exc:
            doubts["ambiguous"] = exc.codes
            return None
        if c is not None:
            return c.code
        # the name may carry trailing text ("…有限公司 (盖章)")
        inside = [cust.code for cust in Customer.objects.filter(is_active=True).only("code", "name").order_by("code")
                  if cust.name and cust.name in name]
        if len(inside) > 1:
            doubts["ambiguous"] = inside
            return None
        if inside:
            doubts["contained"] = inside[0]
            return inside[0]
        return None
    return find


def _customer_doubts(reading, doubts: dict[str, Any]) -> None:
    """Name a customer match below certainty on the draft (problem + confidence)."""
    if doubts.get("ambiguous"):
        reading.data.pop("customer", None)
        reading.confidence.pop("customer", None)
        reading.problems[:] = [p for p in reading.problems if p.get("field") != "customer"]
        reading.problems.append({"field": "customer", "code": "ambiguous_customer",
                                 "message": _("More than one customer fits the name read (%(codes)s): choose one.")
                                 % {"codes": ", ".join(doubts["ambiguous"])}})
    elif doubts.get("contained") and reading.data.get("customer") == doubts["contained"]:
        reading.confidence["customer"] = min(reading.confidence.get("customer", 1.0), CONTAINED_NAME_CONFIDENCE)
        reading.problems.append({"field": "customer", "code": "customer_guessed",
                                 "message": _("Customer %(code)s was found by part of the name read: check it.")
                                 % {"code": doubts["contained"]}})


def _find_product(lookups: Lookups):
    def find(text: str) -> str | None:
        if not text or len(text) < 3:
            return None
        p = lookups.product(text, ("sku", "alias"))
        return p.sku if p else None
    return find


def draft_from_document(*, message: InboundMessage, actor: Actor) -> InboundMessage:
    """OCR a stored image/PDF into a draft; the message then awaits a person (needs_review)."""
    before = message.status
    try:
        document = read_document(payload_of(message), message.content_type)
        lookups = Lookups(OCR_CHANNEL)
        doubts: dict[str, Any] = {}
        reading = read_purchase_order(document.boxes, find_customer=_find_customer(lookups, doubts),
                                      find_product=_find_product(lookups))
        _customer_doubts(reading, doubts)
        reading.data["meta"]["pages"] = document.pages  # per page: read from its text layer, or OCR'd
    except Exception as exc:  # an unreadable picture, or OCR itself failing: keep it, say why
        logger.exception("intake: OCR of message %s raised", message.pk)
        with transaction.atomic():
            message.status = Status.FAILED
            message.errors = [{"code": "ocr_failed", "message": _("The document could not be read: %(e)s")
                               % {"e": str(exc)[:300]}}]
            message.attempts += 1
            message.processed_at = clock.now()
            message.save(update_fields=["status", "errors", "attempts", "processed_at"])
            events.message_status_changed(message=message, before=before, actor=actor,
                                          data={"errors": message.errors})
            _end_job(message, failed=True)
        return message
    data = reading.data
    tags_v = current_config("tags", "default")
    if tags_v:
        tags, remarks, urgency = apply_tag_rules(compiled_config(tags_v), data.get("remarks", ""), "",
                                                 [], "green")
        data["tags"], data["urgency"] = tags, urgency
        if remarks:
            data["remarks"] = remarks
    if data.get("customer") and data.get("external_ref"):
        data["external_ref"] = f"{data['customer']}/{data['external_ref']}"
    with transaction.atomic():
        Draft.objects.filter(message=message, status=Draft.Status.OPEN).update(
            status=Draft.Status.DISCARDED, decided_at=clock.now(), decided_by=actor.label[:150])
        draft = Draft.objects.create(message=message, data=to_plain(data), confidence=reading.confidence,
                                     text=reading.text, created_at=clock.now())
        message.status = Status.NEEDS_REVIEW
        message.errors = reading.problems
        message.report = {"summary": {"drafts": 1}, "draft": draft.pk, "pages": document.pages}
        message.attempts += 1
        message.processed_at = clock.now()
        message.external_ref = (data.get("external_ref") or "")[:200]
        message.save(update_fields=["status", "errors", "report", "attempts", "processed_at", "external_ref"])
        events.message_status_changed(message=message, before=before, actor=actor,
                                      data={"draft": draft.pk, "problems": reading.problems})
        _end_job(message, failed=False)
    return message


def _end_job(message: InboundMessage, *, failed: bool) -> None:
    """A document uploaded on the import page has an import job: it ends here (a draft made, or
    the document unreadable), or its page would say "importing" for ever."""
    now = clock.now()
    ImportJob.objects.filter(message=message, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED if failed else ImportJob.Status.DONE, finished_at=now, updated_at=now)


def _order_input(data: dict[str, Any]) -> OrderInput:
    """The draft's data (with a person's corrections, any JSON) as an order input, or every
    fault named by its field (wrong types and control characters included: never a 500)."""
    problems: list[Problem] = []

    def text(value, field, limit, *, multiline=False):
        if value is None:
            return ""
        if not isinstance(value, str):
            problems.append(Problem("invalid", _("Must be text."), field=field))
            return ""
        fault = text_fault(value, multiline=multiline)
        if fault:
            problems.append(Problem("invalid_text", fault, field=field))
            return ""
        return value[:limit]

    customer = text(data.get("customer"), "customer", 32)
    if not customer and not any(p.field == "customer" for p in problems):
        problems.append(Problem("required", _("A customer is required."), field="customer"))
    external_ref = text(data.get("external_ref"), "external_ref", 128)
    remarks = text(data.get("remarks"), "remarks", 5000, multiline=True)
    try:
        required = date.fromisoformat(str(data.get("required_date")))
    except ValueError:
        required = None
        problems.append(Problem("invalid_date", _("A required date (YYYY-MM-DD) is needed."), field="required_date"))
    urgency = data.get("urgency") or "green"
    if not isinstance(urgency, str):
        problems.append(Problem("invalid_choice", _("Urgency must be red, yellow or green."), field="urgency"))
        urgency = "green"
    tags = data.get("tags") or []
    if not isinstance(tags, list):
        problems.append(Problem("invalid", _("Tags must be a list of texts."), field="tags"))
        tags = []
    tags = [text(t, f"tags[{i}]", 64) for i, t in enumerate(tags)]
    lines = []
    raw_lines = data.get("lines") or []
    if not isinstance(raw_lines, list) or not raw_lines:
        problems.append(Problem("required", _("An order needs at least one line."), field="lines"))
        raw_lines = []
    for i, ln in enumerate(raw_lines):
        if not isinstance(ln, dict):
            problems.append(Problem("invalid", _("A line is an object with sku and qty."), field=f"lines[{i}]"))
            continue
        try:
            qty = Decimal(str(ln.get("qty")))
            price = None if ln.get("unit_price") in (None, "") else Decimal(str(ln["unit_price"]))
        except InvalidOperation:
            problems.append(Problem("invalid_number", _("Quantity and price must be numbers."), field=f"lines[{i}]"))
            continue
        sku = ln.get("sku")
        sku = text(sku if isinstance(sku, str) else str(sku or ""), f"lines[{i}].sku", 64)
        unit = text(ln.get("unit"), f"lines[{i}].unit", 16)
        lines.append(LineInput(sku=sku, qty=qty, unit=unit or None, unit_price=price))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    return OrderInput(customer=customer, lines=lines, required_date=required, channel=OCR_CHANNEL,
                      external_ref=external_ref or None, urgency=urgency, remarks=remarks,
                      tags=[t for t in tags if t])


EDITABLE = ("customer", "external_ref", "required_date", "urgency", "remarks", "tags", "lines")


def draft_confirm(*, draft: Draft | int, actor: Actor, changes: dict[str, Any] | None = None) -> Draft:
    """A person confirms a draft, with corrections in ``changes``: the order is created (or
    the existing one with the same content found) and linked to the message."""
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    pk = draft if isinstance(draft, int) else draft.pk
    with transaction.atomic():
        d = Draft.objects.select_for_update().select_related("message").filter(pk=pk).first()
        if d is None:
            raise NotFound("draft_not_found", _("Draft %(id)s does not exist.") % {"id": pk})
        if d.status != Draft.Status.OPEN:
            raise Conflict("draft_decided", _("Draft %(id)s is already %(status)s.")
                           % {"id": pk, "status": d.get_status_display()})
        changes = changes or {}
        unknown = [k for k in changes if k not in EDITABLE]
        if unknown:
            raise ValidationFailed("invalid", _("Field '%(f)s' cannot be changed.") % {"f": unknown[0]},
                                   problems=[Problem("unknown_field", _("Cannot be changed."), field=unknown[0])])
        data = {**{k: v for k, v in d.data.items() if k != "meta"}, **changes}
        order_input, alerts = triage_input(_order_input(data), base_time=d.message.received_at)
        result = order_create(data=order_input, actor=actor, filtered=True)
        alerts = alerts if result.created else []
        before = d.status
        d.status, d.order = Draft.Status.CONFIRMED, result.order
        d.decided_at, d.decided_by = clock.now(), actor.label[:150]
        d.data = to_plain({**d.data, **changes})
        d.save()
        InboundOrder.objects.get_or_create(message=d.message, order=result.order,
                                           defaults={"created": result.created,
                                                     "meta": to_plain({**d.data.get("meta", {}),
                                                                       "draft": d.pk, "corrected": sorted(changes),
                                                                       **({"triage": alerts} if alerts else {})})})
        if alerts:
            triage_record(message=d.message, order=result.order, alerts=to_plain(alerts), actor=actor)
        events.draft_decided(draft=d, actor=actor, before=before,
                             data={"order": result.order.number, "created": result.created,
                                   "corrected": sorted(changes)})
        msg = InboundMessage.objects.select_for_update().get(pk=d.message_id)
        mbefore = msg.status
        msg.status = Status.PARSED if result.created else Status.DUPLICATE
        msg.processed_at = clock.now()
        msg.save(update_fields=["status", "processed_at"])
        events.message_status_changed(message=msg, before=mbefore, actor=actor,
                                      data={"draft": d.pk, "order": result.order.number})
    return d


def draft_discard(*, draft: Draft | int, actor: Actor, reason: str = "") -> Draft:
    if not actor.has_perm("orders.add_order"):
        raise PermissionDenied("permission_denied", _("You may not create orders."))
    pk = draft if isinstance(draft, int) else draft.pk
    with transaction.atomic():
        d = Draft.objects.select_for_update().filter(pk=pk).first()
        if d is None:
            raise NotFound("draft_not_found", _("Draft %(id)s does not exist.") % {"id": pk})
        if d.status != Draft.Status.OPEN:
            raise Conflict("draft_decided", _("Draft %(id)s is already %(status)s.")
                           % {"id": pk, "status": d.get_status_display()})
        before = d.status
        d.status, d.decided_at, d.decided_by = Draft.Status.DISCARDED, clock.now(), actor.label[:150]
        d.save()
        events.draft_decided(draft=d, actor=actor, before=before, data={"reason": reason})
        msg = InboundMessage.objects.select_for_update().get(pk=d.message_id)
        mbefore = msg.status
        msg.status = Status.FAILED
        msg.errors = [{"code": "discarded", "message": reason or _("Discarded by a person.")}]
        msg.save(update_fields=["status", "errors"])
        events.message_status_changed(message=msg, before=mbefore, actor=actor, reason=reason)
    return d


__all__ = ["DomainError", "draft_confirm", "draft_discard", "draft_from_document"]
