"""Customer quick order: a link (and its QR code) per customer; three fields on a phone
(product or an earlier order's reference, due date, remark), everything else from the
customer's intake profile.

The link carries a random token; only its SHA-256 is stored. Issuing a new link revokes the
old one. An order sent with a wrong link stores nothing: it is logged as a refused request
(``refusals``) and answered 404.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.actors import SYSTEM, Actor, RequestContext
from orderhub.core.audit import append_event
from orderhub.core.calendar_config import get_business_calendar
from orderhub.core.canonical import to_plain
from orderhub.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.orders.inputs import LineInput, OrderInput
from orderhub.orders.models import Order
from orderhub.orders.services import order_attach, order_create

from .. import events
from ..mapping import Lookups, apply_tag_rules
from ..models import CustomerProfile, InboundMessage, InboundOrder, RefusedRequest
from .config import CONFIG_PERM, compiled_config, current_config
from .inbox import inbound_receive
from .refusals import refusal_record
from .triage import triage_input, triage_record

QUICK_CHANNEL = "quick"
TOKEN_PREFIX = "qo_"
Status = InboundMessage.Status


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def quick_link_issue(*, customer: str, actor: Actor) -> str:
    """A new quick-order token for ``customer`` (shown once; the previous one stops working)."""
    if not (actor.has_perm(CONFIG_PERM) or actor.has_perm("orders.add_order")):
        raise PermissionDenied("permission_denied", _("You may not issue quick-order links."))
    cust = Customer.objects.filter(code=customer, is_active=True).first()
    if cust is None:
        raise NotFound("unknown_customer", _("Unknown customer '%(code)s'.") % {"code": customer})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(24)
    profile, _created = CustomerProfile.objects.get_or_create(customer=cust)
    profile.quick_token_hash, profile.quick_token_prefix = _digest(raw), raw[:10]
    profile.save(update_fields=["quick_token_hash", "quick_token_prefix"])
    append_event(subject_type="intake_profile", subject_id=profile.pk, action=events.QUICK_LINK_ISSUED,
                 actor=actor, data={"customer": customer, "prefix": raw[:10]})
    return raw


def quick_qr(url: str, *, kind: str = "svg", scale: int = 6) -> bytes:
    """The link as a QR code (PNG or SVG) to print on a delivery note or a sticker."""
    import io

    import segno

    qr = segno.make(url, error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="png" if kind == "png" else "svg", scale=scale, border=2)
    return buf.getvalue()


def quick_customer(token: str) -> Customer:
    profile = (CustomerProfile.objects.select_related("customer")
               .filter(quick_token_hash=_digest(token or ""), customer__is_active=True).exclude(quick_token_hash="")
               .first()) if token and token.startswith(TOKEN_PREFIX) else None
    if profile is None:
        raise NotFound("unknown_link", _("This quick-order link is not valid (any more)."))
    return profile.customer


def quick_refused(*, token: str, body: bytes, content_type: str = "",
                  context: RequestContext | None = None) -> None:
    """Log an order sent with a wrong (unknown or revoked) link: no body kept, no message."""
    refusal_record(kind=InboundMessage.Kind.QUICK, channel=QUICK_CHANNEL, reason=RefusedRequest.Reason.UNKNOWN_LINK,
                   detail=_("Link %(prefix)s… is not valid.") % {"prefix": (token or "")[:10]}, body=body,
                   content_type=content_type, context=context)


def _lines(customer: Customer, item: str, lookups: Lookups, profile) -> list[LineInput]:
    """``item`` is a SKU (or an alias of one), or the number / reference of one of the
    customer's earlier orders, which is ordered again."""
    product = lookups.product(item, ("sku", "alias"))
    if product is not None:
        usual = (profile.default_qty or {}).get(product.sku) if profile else None
        qty = Decimal(str(usual)) if usual else (product.moq if product.moq > 0 else Decimal(1))
        return [LineInput(sku=product.sku, qty=qty)]
    earlier = (Order.objects.filter(customer=customer).filter(number=item).first()
               or Order.objects.filter(customer=customer, external_ref=item).order_by("-created_at").first())
    if earlier is not None:
        return [LineInput(sku=ln.product.sku, qty=ln.qty, unit=ln.unit, unit_price=ln.unit_price)
                for ln in earlier.lines.select_related("product").order_by("line_no")]
    raise ValidationFailed("unknown_item", _("'%(item)s' is neither a product nor one of your orders.")
                           % {"item": item},
                           problems=[Problem("unknown_item", _("Unknown product or order."), field="item")])


def _quick_lines(lines: list[tuple[str, Any]], lookups: Lookups) -> tuple[list[LineInput], list[Problem]]:
    """The products and quantities a customer typed, each product required and found (by SKU
    or alias), each quantity a number above zero; every fault at once, by line."""
    out, problems = [], []
    for i, (item, qty) in enumerate(lines):
        item = (item or "").strip()
        product = lookups.product(item, ("sku", "alias")) if item and len(item) <= 128 else None
        if not item:
            problems.append(Problem("required", _("Choose a product."), field=f"lines[{i}].item"))
        elif product is None:
            problems.append(Problem("unknown_item", _("Unknown product '%(item)s'.") % {"item": item},
                                    field=f"lines[{i}].item"))
        try:
            amount = Decimal(str(qty).strip())
        except (ArithmeticError, ValueError):
            amount = None
        if amount is None or not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):
            problems.append(Problem("invalid_quantity", _("Enter a quantity above zero."),
                                    field=f"lines[{i}].qty"))
        elif product is not None:
            out.append(LineInput(sku=product.sku, qty=amount))
    if not lines:
        problems.append(Problem("required", _("Choose at least one product."), field="lines[0].item"))
    return out, problems


def quick_lines_problems(lines: list[tuple[str, Any]]) -> list[Problem]:
    """What is wrong with a quick order's lines (to show with the other faults of the form)."""
    return _quick_lines(lines, Lookups(QUICK_CHANNEL))[1]


def quick_order_submit(*, token: str, item: str = "", due_date: date, remark: str = "",
                       lines: list[tuple[str, Any]] | None = None,
                       files: list[tuple[str, bytes, str]] | None = None,
                       context: RequestContext | None = None, body: bytes | None = None,
                       content_type: str = "") -> InboundMessage:
    """A customer's quick order. Stored raw first (without the token); the same form sent
    twice on one day is one order. A wrong link raises NotFound after logging the refusal
    (``body``/``content_type``: the request as sent, for that log)."""
    try:
        customer = quick_customer(token)
    except NotFound:
        if body is None:
            body = json.dumps({"item": item, "due_date": str(due_date), "remark": remark},
                              ensure_ascii=False).encode()
        quick_refused(token=token, body=body, content_type=content_type, context=context)
        raise
    actor = Actor(kind=SYSTEM, id=f"quick:{customer.code}", label=f"quick-order {customer.code}",
                  roles=frozenset({"system"}), context=context or RequestContext())
    return _submit(customer, actor, item=item, due_date=due_date, remark=remark, lines=lines, files=files)


def portal_order_submit(*, customer: str, contact_id: int, contact_label: str, due_date: date,
                        lines: list[tuple[str, Any]], remark: str = "",
                        files: list[tuple[str, bytes, str]] | None = None, reorder_of: str = "",
                        context: RequestContext | None = None) -> InboundMessage:
    """An order a signed-in portal contact placed (or reordered from an earlier one): the quick
    order's path, raw first, the same checks and profile, with drawings attached; the message
    names the contact (``portal:<id>``) and the order it copied."""
    found = Customer.objects.filter(code=customer, is_active=True).first()
    if found is None:
        raise NotFound("unknown_customer", _("Unknown customer."))
    actor = Actor(kind=SYSTEM, id=f"portal:{contact_id}", label=f"portal {contact_label}"[:150],
                  roles=frozenset({"system"}), context=context or RequestContext())
    return _submit(found, actor, item="", due_date=due_date, remark=remark, lines=lines, files=files,
                   extra={"via": "portal", "contact": contact_id, **({"reorder_of": reorder_of} if reorder_of else {})})


def _submit(customer: Customer, actor: Actor, *, item: str, due_date: date, remark: str,
            lines: list[tuple[str, Any]] | None, files: list[tuple[str, bytes, str]] | None,
            extra: dict[str, Any] | None = None) -> InboundMessage:
    context = actor.context
    problems = []
    item = (item or "").strip()
    typed: list[LineInput] = []
    lookups = Lookups(QUICK_CHANNEL)
    if lines is not None:  # products with quantities (the page's lines)
        typed, line_problems = _quick_lines(lines, lookups)
        problems.extend(line_problems)
    elif not item or len(item) > 128:
        problems.append(Problem("required", _("Give a product or an order reference."), field="item"))
    today = clock.now().astimezone(get_business_calendar().tz).date()
    if due_date < today:
        problems.append(Problem("past_date", _("The due date has passed."), field="due_date"))
    if len(remark or "") > 1000:
        problems.append(Problem("too_long", _("The remark is too long."), field="remark"))
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    body: dict[str, Any] = {"customer": customer.code, "item": item, "due_date": due_date.isoformat(),
                            "remark": remark or "", "day": today.isoformat(), **(extra or {})}
    if lines is not None:
        body["lines"] = [{"sku": ln.sku, "qty": str(ln.qty)} for ln in typed]
    if files:  # the files themselves go to the order as attachments; the message names them
        body["files"] = [{"name": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
                         for name, content, _type in files]
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    msg = inbound_receive(channel=QUICK_CHANNEL, kind=InboundMessage.Kind.QUICK, payload=raw, actor=actor,
                          content_type="application/json", source=(context.ip if context else "") or "")
    profile = lookups.profile(customer)
    before = msg.status
    try:
        order_lines = typed if lines is not None else _lines(customer, item, lookups, profile)
        tags_v = current_config("tags", "default")
        urgency = (profile.urgency if profile and profile.urgency else "green")
        tags, remarks = [], remark or ""
        if tags_v:
            tags, remarks, urgency = apply_tag_rules(compiled_config(tags_v), remarks, "", [], urgency)
        data = OrderInput(customer=customer.code, lines=order_lines, required_date=due_date, channel=QUICK_CHANNEL,
                          external_ref="Q" + hashlib.sha256(raw).hexdigest()[:20], urgency=urgency,
                          remarks=remarks, tags=tags,
                          workflow=(profile.workflow if profile and profile.workflow else None))
        data, alerts = triage_input(data, base_time=msg.received_at)
        with transaction.atomic():
            result = order_create(data=data, actor=actor, filtered=True)
            if result.created:
                for name, content, ctype in files or ():
                    order_attach(order=result.order.number, name=name, content=content,
                                 content_type=ctype or "application/octet-stream", actor=actor)
            alerts = to_plain(alerts) if result.created else []
            InboundOrder.objects.get_or_create(message=msg, order=result.order, defaults={
                "created": result.created, "meta": {"item": item, **({"triage": alerts} if alerts else {})}})
            if alerts:
                triage_record(message=msg, order=result.order, alerts=alerts, actor=actor)
            msg.status = Status.PARSED if result.created else Status.DUPLICATE
            msg.external_ref = data.external_ref
            msg.attempts, msg.processed_at = 1, clock.now()
            msg.save(update_fields=["status", "external_ref", "attempts", "processed_at"])
            events.message_status_changed(message=msg, before=before, actor=actor,
                                          data={"order": result.order.number})
    except DomainError as exc:
        with transaction.atomic():
            msg.status = Status.FAILED
            msg.errors = [p.as_dict() for p in exc.problems] or [{"code": exc.code, "message": exc.message}]
            msg.attempts, msg.processed_at = 1, clock.now()
            msg.save(update_fields=["status", "errors", "attempts", "processed_at"])
            events.message_status_changed(message=msg, before=before, actor=actor, data={"errors": msg.errors})
        raise
    return msg
