"""Writes of the portal: contacts (staff), one-time codes and sign-in (customers), sessions
ended everywhere, opens of orders, inbound calls, tracking links.

One-time codes: 6 digits, only HMAC-SHA256(SECRET_KEY, salt:contact:code) is stored; valid
``CODE_MINUTES``, used once, dead after ``MAX_FAILURES`` wrong tries; a new code ends the
previous one. Requests are limited per client address and per address asked for
(``core.ratelimit``: scopes ``portal_code_ip``, ``portal_code_contact``, ``portal_verify_ip``).
Nothing tells whether an address belongs to a contact: an unknown address gets the same answers
(its wrong tries are counted in the cache as a real code's would be).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orderhub.catalog.models import Customer
from orderhub.core import clock, permissions, ratelimit
from orderhub.core.actors import CUSTOMER, Actor, RequestContext
from orderhub.core.audit import append_event
from orderhub.core.errors import DomainError, NotFound, Problem, ValidationFailed
from orderhub.core.text import text_fault
from orderhub.notify.common import active_endpoints
from orderhub.notify.services import Recipient, notify
from orderhub.orders.models import Order
from orderhub.orders.selectors import get_order

from . import events
from .models import Contact, InboundCall, LoginCode, Visit

CODE_MINUTES = 10
MAX_FAILURES = 5
SUBJECT = "portal_contact"
TRACK_SALT = "orderhub.portal.track"
_MOBILE = re.compile(r"^\+?\d{5,20}$")


def contact_actor(contact: Contact, context: RequestContext | None = None) -> Actor:
    """A signed-in contact as an Actor (kind customer: no user, no role, no permission)."""
    return Actor(kind=CUSTOMER, id=f"contact:{contact.pk}", label=f"{contact.name} ({contact.customer.code})"[:150],
                 context=context or RequestContext())


def visitor_actor(context: RequestContext | None = None) -> Actor:
    """Whoever opens a tracking link (no sign-in)."""
    return Actor(kind=CUSTOMER, id="track-link", label="tracking link", context=context or RequestContext())


def normalize(identifier: str) -> tuple[str, str]:
    """("email", lower-cased address) or ("sms", digits); 422 if it is neither."""
    value = (identifier or "").strip()
    if "@" in value:
        try:
            validate_email(value)
        except ValidationError:
            pass
        else:
            return "email", value.lower()
    else:
        digits = re.sub(r"[\s\-()]", "", value)
        if digits.startswith("+86"):
            digits = digits[3:]
        if _MOBILE.match(digits):
            return "sms", digits
    raise ValidationFailed("invalid_identifier", _("Enter a valid e-mail address or mobile number."),
                           problems=[Problem("invalid_identifier", _("Enter a valid e-mail address or mobile number."), field="identifier")])


# --------------------------------------------------------------------------- contacts (staff)

@dataclass
class ContactInput:
    name: str
    email: str = ""
    mobile: str = ""
    is_active: bool = True


def _contact_problems(data: ContactInput) -> list[Problem]:
    problems = []
    if not data.name.strip() or len(data.name) > 100 or text_fault(data.name):
        problems.append(Problem("invalid", _("Enter the contact's name (at most 100 characters)."), field="name"))
    if data.email:
        try:
            validate_email(data.email)
        except ValidationError:
            problems.append(Problem("invalid", _("The e-mail address is not valid."), field="email"))
    if data.mobile and not _MOBILE.match(data.mobile):
        problems.append(Problem("invalid", _("A mobile number may contain only digits (5 to 20)."), field="mobile"))
    if not data.email and not data.mobile:
        problems.append(Problem("invalid", _("Enter an e-mail address or a mobile number (or both); codes are sent there."), field="email"))
    return problems


def customer_in_scope(code: str, actor: Actor) -> Customer:
    """The customer whose contacts ``actor`` may manage: any customer for those who see every
    order, their own customers (sales owner) for those who see their own customers' orders;
    any other is a 404, as a customer that does not exist. (A contact sees every order of its
    customer, so adding one is seeing them.)"""
    cust = Customer.objects.filter(code=code).first()
    if cust is not None and _in_scope(cust, actor):
        return cust
    raise NotFound("unknown_customer", _("There is no customer %(code)s.") % {"code": code})


def _in_scope(cust: Customer, actor: Actor) -> bool:
    scope = permissions.order_scope(actor)
    if scope == permissions.OrderScope.ALL:
        return True
    return (scope == permissions.OrderScope.OWN_CUSTOMERS and actor.user is not None
            and cust.sales_owner_id == actor.user.pk)


def contact_save(*, customer: str, data: ContactInput, actor: Actor, contact_id: int | None = None) -> Contact:
    """Add a contact to ``customer`` (or change contact ``contact_id`` of it). Switching a contact
    off ends its sessions."""
    permissions.check(actor, "portal.contacts")
    data.email, data.mobile, data.name = data.email.strip().lower(), re.sub(r"[\s\-]", "", data.mobile), data.name.strip()
    problems = _contact_problems(data)
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    cust = customer_in_scope(customer, actor)
    try:
        with transaction.atomic():
            if contact_id is None:
                contact = Contact.objects.create(customer=cust, name=data.name, email=data.email, mobile=data.mobile,
                                                 is_active=data.is_active, created_at=clock.now(),
                                                 created_by=actor.label[:150])
                action, changes = events.CONTACT_ADDED, {}
            else:
                found = Contact.objects.select_for_update().filter(pk=contact_id, customer=cust).first()
                if found is None:
                    raise NotFound("not_found", _("There is no such contact."))
                contact = found
                changes = {k: [getattr(contact, k), v] for k, v in vars(data).items() if getattr(contact, k) != v}
                for k, (_old, new) in changes.items():
                    setattr(contact, k, new)
                if "is_active" in changes or "email" in changes or "mobile" in changes:
                    contact.generation += 1   # its sessions end
                contact.save()
                action = events.CONTACT_CHANGED
            append_event(subject_type=SUBJECT, subject_id=contact.pk, action=action, actor=actor, changes=changes,
                         data={"customer": cust.code, "name": contact.name, "email": contact.email,
                               "mobile": contact.mobile, "is_active": contact.is_active})
    except IntegrityError:
        raise ValidationFailed("duplicate", _("This e-mail address or mobile number already belongs to another contact."),
                               problems=[Problem("duplicate", _("This e-mail address or mobile number already belongs to another contact."), field="email")]) from None
    return contact


def _send(contact: Contact, *, event: str, subject: str, message: str, dedupe_key: str,
          channel: str | None = None) -> int:
    recipients = []
    if contact.email and channel in (None, "email"):
        recipients.append(Recipient.address("email", contact.email))
    if contact.mobile and channel in (None, "sms"):
        recipients.append(Recipient.address("sms", contact.mobile))
    return notify(event=event, recipients=recipients, context={"subject": subject, "message": message},
                  severity="red", dedupe_key=dedupe_key)


def contact_invite(*, contact_id: int, login_url: str, actor: Actor) -> int:
    """Send the contact the portal's address and how to sign in; the number of messages queued."""
    permissions.check(actor, "portal.contacts")
    with transaction.atomic():
        contact = Contact.objects.select_related("customer").select_for_update(of=("self",)).filter(pk=contact_id).first()
        if contact is None or not contact.is_active or not _in_scope(contact.customer, actor):
            raise NotFound("not_found", _("There is no such contact, or it is deactivated."))
        now = clock.now()
        n = _send(contact, event=events.INVITE_MESSAGE, subject=_("Invitation to track your orders"),
                  message=_("Hello %(name)s, we invite you to track the orders of %(customer)s online. Open %(url)s, enter this e-mail address or mobile number, and log in with the code you receive.") % {
                                "name": contact.name, "customer": contact.customer.name, "url": login_url},
                  dedupe_key=f"portal.invite:{contact.pk}:{now.timestamp()}")
        if not n:
            raise DomainError("channel_unavailable", _("No e-mail or SMS channel is configured yet, so no invitation can be sent."), status=409)
        contact.invited_at = now
        contact.save(update_fields=["invited_at"])
        append_event(subject_type=SUBJECT, subject_id=contact.pk, action=events.CONTACT_INVITED, actor=actor,
                     data={"messages": n})
    return n


def logout_everywhere(*, contact_id: int, actor: Actor) -> None:
    """End every session of the contact (the contact itself, or staff who manage contacts)."""
    if actor.kind != CUSTOMER or actor.id != f"contact:{contact_id}":
        permissions.check(actor, "portal.contacts")
        found = Contact.objects.select_related("customer").filter(pk=contact_id).first()
        if found is None or not _in_scope(found.customer, actor):
            raise NotFound("not_found", _("There is no such contact."))
    with transaction.atomic():
        if not Contact.objects.filter(pk=contact_id).update(generation=F("generation") + 1):
            raise NotFound("not_found", _("There is no such contact."))
        append_event(subject_type=SUBJECT, subject_id=contact_id, action=events.LOGGED_OUT_EVERYWHERE, actor=actor)


# --------------------------------------------------------------------------- one-time codes

def _digest(*parts: object) -> str:
    msg = ":".join(str(p) for p in parts).encode()
    return hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()


def _limited(scope: str, who: str) -> None:
    wait = ratelimit.hit(scope, who)
    if wait:
        raise DomainError("rate_limited", _("Too many requests; try again in %(s)d seconds.") % {"s": wait}, status=429,
                          data={"retry_after": wait})


def show_codes() -> bool:
    """Demo mode only (``orderhub demo`` sets it): the code is shown on the page, clearly marked."""
    return bool(getattr(settings, "ORDERHUB_PORTAL_SHOW_CODES", False))


def channel_ready(channel: str) -> bool:
    return any(e.kind == channel for e in active_endpoints())


@dataclass(frozen=True)
class CodeRequest:
    channel: str
    shown_code: str | None = None   # demo mode only


def code_request(*, identifier: str, context: RequestContext) -> CodeRequest:
    """Send a code to the contact with this e-mail or mobile, if there is one (the answer is
    the same either way). 429 over the per-address or per-contact limits."""
    channel, value = normalize(identifier)
    if not channel_ready(channel) and not show_codes():
        raise DomainError("channel_unavailable", _("A code cannot be sent by %(how)s right now; contact your sales representative.")
                          % {"how": _("email") if channel == "email" else _("SMS")}, status=503)
    _limited("portal_code_ip", ratelimit.client_key(context.ip or ""))
    _limited("portal_code_contact", _digest("who", value))
    contact = (Contact.objects.select_related("customer")
               .filter(**{"email" if channel == "email" else "mobile": value}, is_active=True,
                       customer__is_active=True).first())
    if contact is None:
        cache.set(_ghost_key(value), 0, CODE_MINUTES * 60)
        return CodeRequest(channel)
    raw = f"{secrets.randbelow(10 ** 6):06d}"
    now = clock.now()
    with transaction.atomic():
        LoginCode.objects.filter(contact=contact, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        salt = secrets.token_hex(8)
        code = LoginCode.objects.create(contact=contact, channel=channel, salt=salt,
                                        code_hash=_digest(salt, contact.pk, raw), created_at=now,
                                        expires_at=now + timedelta(minutes=CODE_MINUTES), ip=context.ip)
        _send(contact, event=events.CODE_MESSAGE, channel=channel, subject=_("Login code for order tracking"),
              message=_("Your code is %(code)s, valid for %(m)d minutes and usable once. If you did not request it, ignore this message.")
              % {"code": raw, "m": CODE_MINUTES}, dedupe_key=f"portal.code:{code.pk}")
        append_event(subject_type=SUBJECT, subject_id=contact.pk, action=events.CODE_SENT,
                     actor=contact_actor(contact, context), data={"channel": channel})
    return CodeRequest(channel, raw if show_codes() else None)


def _ghost_key(value: str) -> str:
    return "orderhub:portal:ghost:" + _digest("ghost", value)[:32]


def _wrong(failures: int) -> DomainError:
    if failures >= MAX_FAILURES:
        return DomainError("code_locked", _("Too many wrong attempts; the code is no longer valid. Request a new code."), status=403)
    return DomainError("code_wrong", _("The code is wrong; %(n)d attempts left.") % {"n": MAX_FAILURES - failures},
                       status=403, data={"tries_left": MAX_FAILURES - failures})


EXPIRED = gettext_lazy("The code has expired or has been used; request a new one.")


def code_verify(*, identifier: str, code: str, context: RequestContext) -> Contact:
    """The contact a right code signs in; 403 with a Chinese message for a wrong, expired, used or
    locked code; 429 over the per-address limit."""
    channel, value = normalize(identifier)
    _limited("portal_verify_ip", ratelimit.client_key(context.ip or ""))
    code = (code or "").strip()
    now = clock.now()
    contact = (Contact.objects.select_related("customer")
               .filter(**{"email" if channel == "email" else "mobile": value}, is_active=True,
                       customer__is_active=True).first())
    if contact is None:
        return _ghost_verify(value)
    error: DomainError | None = None
    with transaction.atomic():
        row = (LoginCode.objects.select_for_update().filter(contact=contact, used_at__isnull=True, expires_at__gt=now)
               .order_by("-created_at").first())
        if row is None:
            error = DomainError("code_expired", str(EXPIRED), status=403)
        elif row.failures >= MAX_FAILURES:
            error = _wrong(row.failures)
        elif not hmac.compare_digest(row.code_hash, _digest(row.salt, contact.pk, code)):
            row.failures += 1
            row.save(update_fields=["failures"])
            if row.failures >= MAX_FAILURES:
                append_event(subject_type=SUBJECT, subject_id=contact.pk, action=events.CODE_LOCKED,
                             actor=contact_actor(contact, context))
            error = _wrong(row.failures)
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
            contact.last_login_at = now
            contact.save(update_fields=["last_login_at"])
            append_event(subject_type=SUBJECT, subject_id=contact.pk, action=events.SIGNED_IN,
                         actor=contact_actor(contact, context), data={"channel": row.channel})
    if error is not None:
        raise error
    return contact


def _ghost_verify(value: str) -> Contact:
    """An address no contact has: the answers a real code would give, never a sign-in."""
    key = _ghost_key(value)
    if cache.get(key) is None:
        raise DomainError("code_expired", str(EXPIRED), status=403)
    try:
        failures = min(cache.incr(key), MAX_FAILURES)
    except ValueError:
        raise DomainError("code_expired", str(EXPIRED), status=403) from None
    raise _wrong(failures)


# --------------------------------------------------------------------------- opens, calls, links

def visit_record(*, order: Order, kind: str, actor: Actor, contact: Contact | None = None) -> Visit:
    """A customer opened ``order`` (its tracking link or its portal page)."""
    if actor.kind != CUSTOMER:
        raise DomainError("not_a_customer", _("Only views by customers are recorded."), status=400)
    ctx = actor.context
    return Visit.objects.create(order=order, customer_id=order.customer_id, kind=kind, contact=contact,
                                at=clock.now(), ip=ctx.ip, user_agent=(ctx.user_agent or "")[:200])


def call_log(*, order: str, actor: Actor, note: str = "") -> InboundCall:
    """Staff log a customer's "where is my order" call (one click on the order page)."""
    permissions.check(actor, "portal.tracking")
    note = (note or "").strip()
    if len(note) > 300 or text_fault(note):
        raise ValidationFailed("invalid", _("The note may have at most 300 characters."), problems=[Problem("invalid", _("The note may have at most 300 characters."), field="note")])
    found = get_order(order, actor=actor)
    with transaction.atomic():
        call = InboundCall.objects.create(order=found, customer_id=found.customer_id, at=clock.now(),
                                          logged_by=actor.label[:150], note=note)
        append_event(subject_type="portal_call", subject_id=call.pk, action=events.CALL_LOGGED, actor=actor,
                     data={"order": found.number, "customer": found.customer.code, "note": note})
    return call


def link_days() -> int:
    return int(getattr(settings, "ORDERHUB_TRACK_LINK_DAYS", 60))


def tracking_link_issue(*, order: str, actor: Actor, days: int | None = None) -> tuple[str, datetime]:
    """A signed token for ``/track/<token>`` of an order the actor sees, valid ``days`` (default
    ``ORDERHUB_TRACK_LINK_DAYS``); nothing is stored, the signature is the credential."""
    permissions.check(actor, "portal.tracking")
    found = get_order(order, actor=actor)
    days = days or link_days()
    if not 1 <= days <= 366:
        raise ValidationFailed("invalid", _("The validity must be between 1 and 366 days."),
                               problems=[Problem("invalid", _("The validity must be between 1 and 366 days."), field="days")])
    expires = clock.now() + timedelta(days=days)
    token = signing.dumps({"o": found.pk, "e": int(expires.timestamp())}, salt=TRACK_SALT)
    return token, expires


def tracking_order(token: str) -> Order:
    """The order a tracking token names, if its signature holds and it has not expired (404)."""
    try:
        data = signing.loads(token, salt=TRACK_SALT)
        pk, exp = int(data["o"]), int(data["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        pk, exp = 0, 0
    order = Order.objects.select_related("customer", "workflow").filter(pk=pk).first() if pk else None
    if order is None or exp < clock.now().timestamp():
        raise NotFound("not_found", _("This tracking link is invalid or has expired; ask your sales representative for a new one."))
    return order


def tracking_qr(url: str, *, kind: str = "svg", scale: int = 6) -> bytes:
    """The tracking link as a QR code (segno), as the quick-order link's."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png" if kind == "png" else "svg", scale=scale, border=2)
    return buf.getvalue()
