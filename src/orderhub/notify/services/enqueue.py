"""Writes of the notification hub. ``notify`` is the one way to send anything.

``notify`` never sends: it writes outbox rows (one INSERT for all of them) in the caller's
transaction, then, after that transaction commits, wakes a deliverer (``notify.delivery``). A
rolled-back change sends nothing; a dead worker loses nothing. The rows carry what their text is
made from (event, channel, the template context with its types, the language), not the text:
the deliverer renders the template when it sends (``render_pending``), and pages that show a
message still queued render it for display.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.orders.models import Order

from .. import codec
from ..common import (
    CHANNELS,
    SEVERITIES,
    Person,
    active_endpoints,
    invalid,
    people,
)
from ..models import (
    ENDPOINT_CHANNELS,
    GROUP_CHAT_CHANNELS,
    PERSONAL_CHANNELS,
    DeliveryChannel,
    Endpoint,
    Message,
    Severity,
)
from ..rendering import LANG_KEY, RENDER_KEY, TYPES_KEY
from ..runner import wake
from ..store import insert_messages, row_defaults

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- recipients

@dataclass(frozen=True)
class Recipient:
    """Who a notification is for. Use the constructors."""

    kind: str   # role | user | customer | webhook | address
    ref: str

    @classmethod
    def role(cls, code: str) -> Recipient:
        """Every active user of the role, plus the group endpoints bound to the role."""
        return cls("role", str(code))

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        return cls("user", str(int(user_id)))

    @classmethod
    def customer(cls, customer_id: int) -> Recipient:
        """The customer's e-mail / mobile (customers have no in-app inbox)."""
        return cls("customer", str(int(customer_id)))

    @classmethod
    def address(cls, channel: str, address: str) -> Recipient:
        """One e-mail address or mobile number (``channel`` "email" or "sms"): a customer's
        portal contact, who has no user and no inbox."""
        return cls("address", f"{channel}:{address}")

    @classmethod
    def webhook(cls, endpoint_code: str) -> Recipient:
        """One configured endpoint by code (a webhook, a DingTalk or WeCom robot)."""
        return cls("webhook", str(endpoint_code))

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


@dataclass
class NotifyRequest:
    event: str
    recipients: list[Recipient]
    context: dict[str, Any]
    dedupe_key: str
    order: Any = None
    severity: str = Severity.INFO
    channels: list[str] | None = None
    extra_payload: dict[str, Any] = field(default_factory=dict)
    # a digest: one message about several orders (``order`` is None) for people and group chats
    # (a role's webhooks are left out: systems get each order's own message). Each person reached
    # by role hears of the orders they may see (none: no message); ``context`` gets ``count``,
    # ``numbers`` (the first DIGEST_NUMBERS) and ``more``. ``first_touch`` maps an order's id
    # to when it was submitted: delivering the message is the first touch of each order in it.
    orders: list[Any] | None = None
    first_touch: dict[int, str] | None = None


DIGEST_NUMBERS = 20   # order numbers a digest names; the rest are counted


def notify(*, event: str, recipients: list[Recipient], context: dict, order=None,
           severity: str = "info", dedupe_key: str, channels: list[str] | None = None) -> int:
    """Queue ``event`` for ``recipients``; returns how many new outbox rows were written.

    Runs in the caller's transaction; the deliverer is woken after commit. Same
    ``dedupe_key`` again → nothing new (each row's key is ``dedupe_key`` + channel + address).
    ``severity="red"`` ignores quiet hours. ``channels`` limits the channels (default: each
    user's preferred personal channels, the role's group endpoints, the named endpoint)."""
    return notify_many([NotifyRequest(event=event, recipients=list(recipients), context=context,
                                      order=order, severity=severity, dedupe_key=dedupe_key,
                                      channels=channels)])


def notify_many(requests: list[NotifyRequest]) -> int:
    """Several notifications with a fixed number of queries: one per kind of lookup needed,
    one for existing dedupe keys and one INSERT."""
    for r in requests:
        if r.channels is not None:  # "inbox" is what workflow specs call the in-app inbox
            r.channels = ["inapp" if c == "inbox" else c for c in r.channels]
        _check_request(r)
    if not requests:
        return 0
    now = clock.now()
    lookups = _Lookups.load(requests)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in requests:
        for m in _expand(r, lookups, now):
            if m["dedupe_key"] not in seen:
                seen.add(m["dedupe_key"])
                rows.append(m)
    if not rows:
        return 0
    written = insert_messages(rows)
    if written:
        transaction.on_commit(wake_after_commit)
    return written


def wake_after_commit() -> None:
    wake()


def _check_request(r: NotifyRequest) -> None:
    if not r.event or len(r.event) > 64:
        raise invalid(_("notify: the event must be 1 to 64 characters."), field="event")
    if r.severity not in SEVERITIES:
        raise invalid(_("notify: unknown severity '%(s)s'.") % {"s": r.severity}, field="severity")
    if not r.dedupe_key:
        raise invalid(_("notify: a deduplication key is required."), field="dedupe_key")
    for c in r.channels or []:
        if c not in CHANNELS:
            raise invalid(_("notify: unknown channel '%(c)s'.") % {"c": c}, field="channels")
    for rec in r.recipients:
        if not isinstance(rec, Recipient):
            raise invalid(_("notify: recipients must be Recipient objects."), field="recipients")



@dataclass
class _Lookups:
    by_role: dict[str, list[Person]]
    by_user: dict[int, Person]
    customers: dict[int, tuple[str, str]]   # id -> (email, mobile)
    endpoints: list[Endpoint]
    default_personal: tuple[str, ...] = ()   # ORDERHUB_NOTIFY_DEFAULT_CHANNELS
    email: Endpoint | None = None            # the first e-mail and SMS endpoints
    sms: Endpoint | None = None
    lang: str | None = None                  # the language templates render in (None: the default)
    sales_owners: dict[int, int | None] = field(default_factory=dict)  # customer id -> sales owner id

    def may_hear_of(self, p: Person, order: Order | None) -> bool:
        """Whether ``p``, reached through a role, may be told of ``order``: always when they see
        every order, else only when it is theirs (they own it, or look after its customer)."""
        if order is None or p.sees_all_orders:
            return True
        return p.user_id in (order.owner_id, self.sales_owners.get(order.customer_id))

    def __post_init__(self):
        self.default_personal = tuple(getattr(settings, "ORDERHUB_NOTIFY_DEFAULT_CHANNELS", ("inapp", "email")))
        self.email = self.first_of(DeliveryChannel.EMAIL)
        self.sms = self.first_of(DeliveryChannel.SMS)
        lang = translation.get_language()
        self.lang = lang if lang and lang != settings.LANGUAGE_CODE else None

    @classmethod
    def load(cls, requests: list[NotifyRequest]) -> _Lookups:
        roles = {rec.ref for r in requests for rec in r.recipients if rec.kind == "role"}
        user_ids = {int(rec.ref) for r in requests for rec in r.recipients if rec.kind == "user"}
        customer_ids = {int(rec.ref) for r in requests for rec in r.recipients if rec.kind == "customer"}
        by_role: dict[str, list[Person]] = {}
        by_user: dict[int, Person] = {}
        if roles or user_ids:
            by_role, by_user = people()
        customers = {}
        if customer_ids:
            customers = {pk: (email, mobile) for pk, email, mobile in
                         Customer.objects.filter(pk__in=customer_ids).values_list("pk", "email", "mobile")}
        return cls(by_role=by_role, by_user=by_user, customers=customers, endpoints=active_endpoints(),
                   sales_owners=_sales_owners(requests, by_role))

    def endpoint(self, code: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.code == code), None)

    def first_of(self, kind: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.kind == kind), None)


def _sales_owners(requests: list[NotifyRequest], by_role: dict[str, list[Person]]) -> dict[int, int | None]:
    """The sales owner of each customer whose order is told by role to someone who sees only
    their own customers' orders: read from the order's customer where the order carries it
    loaded (a move's locked orders do), else by one query; none when nobody such is addressed."""
    owners: dict[int, int | None] = {}
    ids: set[int] = set()
    for r in requests:
        orders = [o for o in ((r.orders or ()) if r.order is None else (r.order,))
                  if o.customer_id is not None and o.customer_id not in owners]
        if not orders or not any(
                rec.kind == "role" and any(not p.sees_all_orders for p in by_role.get(rec.ref, []))
                for rec in r.recipients):
            continue
        for order in orders:
            if Order.customer.is_cached(order):
                owners[order.customer_id] = order.customer.sales_owner_id
            else:
                ids.add(order.customer_id)
    ids -= owners.keys()
    if ids:
        owners.update(Customer.objects.filter(pk__in=ids).values_list("pk", "sales_owner_id"))
    return owners


# --------------------------------------------------------------------------- expansion

def _key(base: str, channel: str, where: str) -> str:
    key = f"{base}|{channel}|{where}"
    if len(key) > 300:
        key = f"{base[:200]}|{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def _address_targets(rec: Recipient, lk: _Lookups, allowed: set[str] | None) -> list[tuple]:
    """A customer's e-mail / mobile (e-mail unless ``allowed`` says), or one address (targets as
    ``_expand`` makes them)."""
    out: list[tuple] = []
    if rec.kind == "address":
        ch, _sep, where = rec.ref.partition(":")
        ep = lk.email if ch == DeliveryChannel.EMAIL else lk.sms if ch == DeliveryChannel.SMS else None
        if ep is not None and where and (allowed is None or ch in allowed):
            out.append((ch, ep, where, None, f"{ch}:{where}", None, None))
        return out
    email, mobile = lk.customers.get(int(rec.ref), ("", ""))
    chans = allowed if allowed is not None else {DeliveryChannel.EMAIL}
    if DeliveryChannel.EMAIL in chans and email and lk.email:
        out.append((DeliveryChannel.EMAIL, lk.email, email, None, str(rec), None, None))
    if DeliveryChannel.SMS in chans and mobile and lk.sms:
        out.append((DeliveryChannel.SMS, lk.sms, mobile, None, str(rec), None, None))
    return out


# channel, endpoint, address, user id, recipient label, the person (for their quiet hours), the
# orders of a digest this target hears of (None: not a digest, or every order of it)
Target = tuple[str, Endpoint | None, str, int | None, str, Person | None, tuple | None]


def _targets(r: NotifyRequest, lk: _Lookups, allowed: set[str] | None
             ) -> tuple[list[Target], dict[str, list[Person]]]:
    """Where the request's messages go, and the people each group robot @-mentions."""
    default_personal = lk.default_personal
    email_ep, sms_ep = lk.email, lk.sms
    digest = r.orders if r.order is None else None
    targets: list[Target] = []
    mention: dict[str, list[Person]] = {}   # group robot code -> the role's people to @-mention

    def person(p: Person, recipient: str, mine: tuple | None = None) -> None:
        chans = allowed if allowed is not None else set(p.channels or default_personal)
        for ch in sorted(chans & PERSONAL_CHANNELS):
            if ch == DeliveryChannel.INAPP:
                targets.append((ch, None, str(p.user_id), p.user_id, recipient, None, mine))
            elif ch == DeliveryChannel.EMAIL and p.email and email_ep:
                targets.append((ch, email_ep, p.email, p.user_id, recipient, p, mine))
            elif ch == DeliveryChannel.SMS and p.mobile and sms_ep:
                targets.append((ch, sms_ep, p.mobile, p.user_id, recipient, p, mine))

    for rec in r.recipients:
        label = str(rec)
        if rec.kind == "role":
            members = []
            for p in lk.by_role.get(rec.ref, []):
                # a rep who sees only their own customers' orders hears by role only of those
                if digest is None:
                    if lk.may_hear_of(p, r.order):
                        person(p, label)
                        members.append(p)
                    continue
                mine = None if p.sees_all_orders else tuple(o for o in digest if lk.may_hear_of(p, o))
                if mine is None or len(mine) == len(digest):
                    mine = None
                elif not mine:
                    continue
                person(p, label, mine)
                members.append(p)
            # a digest goes to people and group chats; a webhook (a system) gets each order's own
            kinds = ENDPOINT_CHANNELS if digest is None else GROUP_CHAT_CHANNELS
            for ep in lk.endpoints:
                if ep.kind in kinds and rec.ref in (ep.roles or []) and (allowed is None or ep.kind in allowed):
                    targets.append((ep.kind, ep, ep.code, None, label, None, None))
                    if ep.kind in GROUP_CHAT_CHANNELS:
                        mention.setdefault(ep.code, []).extend(members)
        elif rec.kind == "user":
            p = lk.by_user.get(int(rec.ref))
            if p is not None:
                person(p, label)
        elif rec.kind in ("customer", "address"):
            targets.extend(_address_targets(rec, lk, allowed))
        elif rec.kind == "webhook":
            ep = lk.endpoint(rec.ref)
            if ep is not None and (allowed is None or ep.kind in allowed):
                targets.append((ep.kind, ep, ep.code, None, label, None, None))
    return targets, mention


def _content(r: NotifyRequest, lk: _Lookups, mine: tuple | None) -> tuple[dict, dict]:
    """What the deliverer renders the text from (``render_pending``): the context as plain JSON
    (what webhooks receive), and the rest of the payload (the places of the context's typed
    values, the language, the request's extra). For a digest, of the orders ``mine`` (None: all)."""
    ctx = _template_context(r)
    extra = dict(r.extra_payload)
    if r.order is None and r.orders is not None:
        items = r.orders if mine is None else mine
        ctx.update(count=len(items), numbers=[o.number for o in items[:DIGEST_NUMBERS]],
                   more=max(len(items) - DIGEST_NUMBERS, 0))
        if r.first_touch:
            extra["first_touch"] = {"orders": [[o.pk, r.first_touch[o.pk]] for o in items if o.pk in r.first_touch]}
    plain, types = codec.encode(ctx)
    if types:
        extra[TYPES_KEY] = types
    if lk.lang:
        extra[LANG_KEY] = lk.lang
    return plain, {RENDER_KEY: True, **extra}


def _expand(r: NotifyRequest, lk: _Lookups, now: datetime) -> list[dict[str, Any]]:
    """The outbox rows (dicts of every column, see ``store.row_defaults``) of one request."""
    targets, mention = _targets(r, lk, set(r.channels) if r.channels is not None else None)
    if not targets:
        return []
    encoded: dict[tuple | None, tuple[dict, dict]] = {}
    order_id = r.order.pk if r.order is not None and r.order.pk else None
    red = r.severity == Severity.RED
    defaults = row_defaults()
    queued = Message.Status.QUEUED
    out = []
    for channel, ep, address, user_id, label, who, mine in targets:
        key = _key(r.dedupe_key, channel, address)
        due = now
        if not red:   # red ignores every quiet hour
            if ep is not None:
                due = quiet_until(ep, due)
            if who is not None:
                due = quiet_hours_end(who.quiet_start, who.quiet_end, due)
        if mine not in encoded:
            encoded[mine] = _content(r, lk, mine)
        plain_ctx, rest = encoded[mine]
        payload = {"dedupe_key": key, "event": r.event, "severity": r.severity, "context": plain_ctx, **rest}
        if ep is not None and mention.get(ep.code):
            people_ = {p.user_id: p for p in mention[ep.code]}.values()
            payload["at"] = {"mobiles": sorted({p.mobile for p in people_ if p.mobile}),
                             "dingtalk_ids": sorted({p.dingtalk_id for p in people_ if p.dingtalk_id}),
                             "wecom_ids": sorted({p.wecom_id for p in people_ if p.wecom_id})}
        out.append({
            **defaults, "event": r.event, "channel": channel, "endpoint_id": ep.pk if ep is not None else None,
            "recipient": label[:100], "user_id": user_id, "address": address[:300], "subject": "", "body": "",
            "payload": payload, "dedupe_key": key, "severity": r.severity, "status": queued, "attempts": 0,
            "next_attempt_at": due, "order_id": order_id, "created_at": now})
    return out


def order_context(order) -> dict[str, Any]:
    """What templates see as ``order`` (no query: the customer only if already loaded)."""
    cust = order.customer if Order.customer.is_cached(order) else None
    return {
        "id": order.pk, "number": order.number, "stage": order.stage, "status": order.status,
        "urgency": order.urgency, "channel": order.channel,
        "customer": cust.name if cust is not None else "", "customer_code": cust.code if cust else "",
        "required_date": order.required_date, "due_at": order.stage_due_at,
        "total": order.total_amount, "currency": order.currency, "created_at": order.created_at,
    }


def _template_context(r: NotifyRequest) -> dict[str, Any]:
    ctx = dict(r.context or {})
    if r.order is not None and "order" not in ctx:
        ctx["order"] = order_context(r.order)
    ctx.setdefault("event", r.event)
    ctx.setdefault("severity", r.severity)
    return ctx



# --------------------------------------------------------------------------- quiet hours

def quiet_until(ep: Endpoint, now: datetime) -> datetime:
    """``now`` if ``ep`` is not in its quiet hours, else the local moment they end."""
    return quiet_hours_end(ep.quiet_start, ep.quiet_end, now)


def quiet_hours_end(s: dt_time | None, e: dt_time | None, now: datetime) -> datetime:
    """``now`` if it is outside the quiet hours [s, e) (local time; may span midnight), else the
    local moment they end."""
    if s is None or e is None or s == e:
        return now
    local = timezone.localtime(now)
    t = local.time().replace(tzinfo=None)
    inside = (s <= t < e) if s < e else (t >= s or t < e)
    if not inside:
        return now
    end = local.replace(hour=e.hour, minute=e.minute, second=e.second, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end


