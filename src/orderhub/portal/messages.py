"""Messages: one thread per order between the customer's contacts and the order's rep
(``order.owner``).

A contact writes from the portal (its own customer's orders only: ``selectors.my_order``);
staff who see the order (``portal.tracking``) read and reply from the order page or the API.
Each message is plain text (at most ``MAX_LENGTH`` characters, escaped wherever it is shown),
audited (``portal.message_posted``, subject ``portal_message``) and announced to the other
side through the notify outbox (``portal.message``): a customer's message to the rep (in-app +
their personal channels), a reply to the e-mail / mobile of the contacts who wrote in the thread
(every active contact of the customer if none has yet)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import CUSTOMER, Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import DomainError, Problem, ValidationFailed
from orderhub.core.text import text_fault
from orderhub.notify.services import Recipient, notify
from orderhub.orders.models import Order
from orderhub.orders.selectors import get_order

from . import events
from .models import Contact, Message
from .selectors import my_order

MAX_LENGTH = 1000
SUBJECT = "portal_message"


def _clean(body: str) -> str:
    body = (body or "").strip()
    fault = text_fault(body, multiline=True)
    if not body or len(body) > MAX_LENGTH or fault:
        msg = fault or _("A message cannot be empty and may have at most %(n)d characters.") % {"n": MAX_LENGTH}
        raise ValidationFailed("invalid", msg, problems=[Problem("invalid", msg, field="body")])
    return body


def _customer_recipients(order: Order) -> list[Recipient]:
    ids = set(Message.objects.filter(order=order, side=Message.Side.CUSTOMER, contact__isnull=False)
              .values_list("contact_id", flat=True))
    contacts = Contact.objects.filter(customer_id=order.customer_id, is_active=True)
    chosen = [c for c in contacts if c.pk in ids] or list(contacts)
    out = []
    for c in chosen:
        if c.email:
            out.append(Recipient.address("email", c.email))
        if c.mobile:
            out.append(Recipient.address("sms", c.mobile))
    return out


def message_post(*, order: str, body: str, actor: Actor, contact: Contact | None = None) -> Message:
    """Add ``body`` to the order's thread: from ``contact`` (a signed-in customer, ``actor`` its
    own) or from staff who see the order. The other side is notified."""
    if actor.kind == CUSTOMER:
        if contact is None or actor.id != f"contact:{contact.pk}":
            raise DomainError("not_a_contact", _("Please log in first."), status=403)
        found = my_order(contact, order)
        side, author = Message.Side.CUSTOMER, contact.name
    else:
        permissions.check(actor, "portal.tracking")
        found = get_order(order, actor=actor)
        contact, side, author = None, Message.Side.STAFF, actor.label
    text = _clean(body)  # after the lookup: another customer's order is a 404 whatever the text
    with transaction.atomic():
        msg = Message.objects.create(order=found, customer_id=found.customer_id, side=side, contact=contact,
                                     author=author[:150], body=text, at=clock.now())
        append_event(subject_type=SUBJECT, subject_id=msg.pk, action=events.MESSAGE_POSTED, actor=actor,
                     data={"order": found.number, "side": side, "length": len(text)})
        if side == Message.Side.CUSTOMER:
            recipients = [Recipient.user(found.owner_id)] if found.owner_id else []
            subject = _("New customer message on order %(number)s") % {"number": found.number}
            message = _("%(name)s (%(customer)s) wrote on order %(number)s: %(body)s") % {
                "name": contact.name if contact else "", "customer": found.customer.name, "number": found.number,
                "body": text}
        else:
            recipients = _customer_recipients(found)
            subject = _("New reply on your order %(number)s") % {"number": found.number}
            message = _("About order %(number)s, our reply: %(body)s") % {"number": found.number, "body": text}
        if recipients:
            notify(event=events.MESSAGE_NOTICE, recipients=recipients, order=found,
                   context={"subject": subject, "message": message}, dedupe_key=f"portal.message:{msg.pk}")
    return msg


def thread(order: Order, *, for_customer: bool) -> list[dict[str, Any]]:
    """The order's messages, oldest first; a customer sees "客服" for staff, never their names."""
    rows = Message.objects.filter(order=order).order_by("at", "pk")
    return [{"id": m.pk, "side": m.side, "at": m.at, "body": m.body,
             "author": _("Customer service") if for_customer and m.side == Message.Side.STAFF else m.author}
            for m in rows]
