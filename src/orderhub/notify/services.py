"""Writes of the notification hub. ``notify`` is the one way to send anything.

``notify`` never sends: it writes outbox rows (one INSERT for all of them) in the caller's
transaction, then, after that transaction commits, wakes a deliverer (``notify.delivery``). A
rolled-back change sends nothing; a dead worker loses nothing. The rows carry what their text is
made from (event, channel, the template context with its types, the language), not the text:
the deliverer renders the template when it sends (``render_pending``), and pages that show a
message still queued render it for display.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time as _time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from orderhub.core import clock, crypto
from orderhub.core.actors import Actor
from orderhub.core.errors import NotFound, PermissionDenied, Problem, ValidationFailed
from orderhub.core.text import text_fault

from . import codec
from .models import (
    ENDPOINT_CHANNELS,
    PERSONAL_CHANNELS,
    ContactProfile,
    DeliveryChannel,
    Endpoint,
    Message,
    MessageTemplate,
    Severity,
)
from .store import insert_messages, row_defaults

logger = logging.getLogger(__name__)

SEVERITIES = {s.value for s in Severity}
CHANNELS = {c.value for c in DeliveryChannel}
MANAGE_PERM = "notify.change_endpoint"


def _invalid(message: str, *, field: str) -> ValidationFailed:
    return ValidationFailed("invalid", message, problems=[Problem("invalid", message, field)])


# --------------------------------------------------------------------------- recipients

@dataclass(frozen=True)
class Recipient:
    """Who a notification is for. Use the constructors."""

    kind: str   # role | user | customer | webhook
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
        transaction.on_commit(_wake_after_commit)
    return written


def _wake_after_commit() -> None:
    from .runner import wake

    wake()


def _check_request(r: NotifyRequest) -> None:
    if not r.event or len(r.event) > 64:
        raise _invalid(_("notify: the event must be 1 to 64 characters."), field="event")
    if r.severity not in SEVERITIES:
        raise _invalid(_("notify: unknown severity '%(s)s'.") % {"s": r.severity}, field="severity")
    if not r.dedupe_key:
        raise _invalid(_("notify: a deduplication key is required."), field="dedupe_key")
    for c in r.channels or []:
        if c not in CHANNELS:
            raise _invalid(_("notify: unknown channel '%(c)s'.") % {"c": c}, field="channels")
    for rec in r.recipients:
        if not isinstance(rec, Recipient):
            raise _invalid(_("notify: recipients must be Recipient objects."), field="recipients")


# --------------------------------------------------------------------------- lookups

_cache_lock = threading.Lock()
_cache: dict[str, tuple[float, Any]] = {}


def _cache_seconds() -> float:
    return float(getattr(settings, "ORDERHUB_NOTIFY_CACHE_SECONDS", 10))


def _cached(key: str, load):
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and _time.monotonic() - hit[0] < _cache_seconds():
            return hit[1]
    value = load()
    with _cache_lock:
        _cache[key] = (_time.monotonic(), value)
    return value


def clear_caches() -> None:
    with _cache_lock:
        _cache.clear()


def active_endpoints() -> list[Endpoint]:
    """Active endpoints, cached per process for ORDERHUB_NOTIFY_CACHE_SECONDS (cleared at once on save here)."""
    return _cached("endpoints", lambda: list(Endpoint.objects.filter(is_active=True)))


def templates() -> dict[tuple[str, str], MessageTemplate]:
    """The shipped Chinese defaults (``notify.defaults``, also seeded as rows by migration 0002
    so they can be edited) overlaid with the rows: a deleted or never-seeded row falls back to
    its default instead of to a bare event name."""
    def load():
        from .defaults import DEFAULT_TEMPLATES

        out = {(e, c): MessageTemplate(event=e, channel=c, subject=subj, body=body)
               for e, c, subj, body in DEFAULT_TEMPLATES}
        out.update({(t.event, t.channel): t for t in MessageTemplate.objects.all()})
        return out

    return _cached("templates", load)


def people() -> tuple[dict[str, list[_Person]], dict[int, _Person]]:
    """Active users by role and by id with their addresses: one query, cached per process
    for ORDERHUB_NOTIFY_CACHE_SECONDS (10 s) like the other lookups: a new member of a role is
    reached within that time (at once when saved in this process)."""
    def load():
        by_role: dict[str, list[_Person]] = defaultdict(list)
        by_user: dict[int, _Person] = {}
        for uid, email, group, mobile, chans, q_start, q_end, ding, wecom in (
                get_user_model().objects.filter(is_active=True)
                .values_list("pk", "email", "groups__name", "contact_profile__mobile",
                             "contact_profile__channels", "contact_profile__quiet_start",
                             "contact_profile__quiet_end", "contact_profile__dingtalk_id",
                             "contact_profile__wecom_id").order_by("pk")):
            p = by_user.get(uid)
            if p is None:
                p = by_user[uid] = _Person(uid, email or "", mobile or "", tuple(chans or ()),
                                           q_start, q_end, ding or "", wecom or "")
            if group:
                by_role[group].append(p)
        return dict(by_role), by_user

    return _cached("people", load)


@dataclass
class _Person:
    user_id: int
    email: str = ""
    mobile: str = ""
    channels: tuple[str, ...] = ()
    quiet_start: dt_time | None = None     # the user's own quiet hours (e-mail and SMS)
    quiet_end: dt_time | None = None
    dingtalk_id: str = ""                  # @-mentioned by the group robots of the user's roles
    wecom_id: str = ""


@dataclass
class _Lookups:
    by_role: dict[str, list[_Person]]
    by_user: dict[int, _Person]
    customers: dict[int, tuple[str, str]]   # id -> (email, mobile)
    endpoints: list[Endpoint]
    default_personal: tuple[str, ...] = ()   # ORDERHUB_NOTIFY_DEFAULT_CHANNELS
    email: Endpoint | None = None            # the first e-mail and SMS endpoints
    sms: Endpoint | None = None
    lang: str | None = None                  # the language templates render in (None: the default)

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
        by_role: dict[str, list[_Person]] = {}
        by_user: dict[int, _Person] = {}
        if roles or user_ids:
            by_role, by_user = people()
        customers = {}
        if customer_ids:
            from orderhub.catalog.models import Customer

            customers = {pk: (email, mobile) for pk, email, mobile in
                         Customer.objects.filter(pk__in=customer_ids).values_list("pk", "email", "mobile")}
        return cls(by_role=by_role, by_user=by_user, customers=customers, endpoints=active_endpoints())

    def endpoint(self, code: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.code == code), None)

    def first_of(self, kind: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.kind == kind), None)


# --------------------------------------------------------------------------- expansion

def _key(base: str, channel: str, where: str) -> str:
    key = f"{base}|{channel}|{where}"
    if len(key) > 300:
        key = f"{base[:200]}|{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def _expand(r: NotifyRequest, lk: _Lookups, now: datetime) -> list[dict[str, Any]]:
    """The outbox rows (dicts of every column, see ``store.row_defaults``) of one request."""
    allowed = set(r.channels) if r.channels is not None else None
    default_personal = lk.default_personal
    email_ep, sms_ep = lk.email, lk.sms
    # channel, endpoint, address, user id, recipient label, the person (for their quiet hours)
    targets: list[tuple[str, Endpoint | None, str, int | None, str, _Person | None]] = []
    mention: dict[str, list[_Person]] = {}   # group robot code -> the role's people to @-mention

    def person(p: _Person, recipient: str) -> None:
        chans = allowed if allowed is not None else set(p.channels or default_personal)
        for ch in sorted(chans & PERSONAL_CHANNELS):
            if ch == DeliveryChannel.INAPP:
                targets.append((ch, None, str(p.user_id), p.user_id, recipient, None))
            elif ch == DeliveryChannel.EMAIL and p.email and email_ep:
                targets.append((ch, email_ep, p.email, p.user_id, recipient, p))
            elif ch == DeliveryChannel.SMS and p.mobile and sms_ep:
                targets.append((ch, sms_ep, p.mobile, p.user_id, recipient, p))

    for rec in r.recipients:
        label = str(rec)
        if rec.kind == "role":
            for p in lk.by_role.get(rec.ref, []):
                person(p, label)
            for ep in lk.endpoints:
                if ep.kind in ENDPOINT_CHANNELS and rec.ref in (ep.roles or []) and (
                        allowed is None or ep.kind in allowed):
                    targets.append((ep.kind, ep, ep.code, None, label, None))
                    if ep.kind in (DeliveryChannel.DINGTALK, DeliveryChannel.WECOM):
                        mention.setdefault(ep.code, []).extend(lk.by_role.get(rec.ref, []))
        elif rec.kind == "user":
            p = lk.by_user.get(int(rec.ref))
            if p is not None:
                person(p, label)
        elif rec.kind == "customer":
            email, mobile = lk.customers.get(int(rec.ref), ("", ""))
            chans = allowed if allowed is not None else {DeliveryChannel.EMAIL}
            if DeliveryChannel.EMAIL in chans and email and email_ep:
                targets.append((DeliveryChannel.EMAIL, email_ep, email, None, label, None))
            if DeliveryChannel.SMS in chans and mobile and sms_ep:
                targets.append((DeliveryChannel.SMS, sms_ep, mobile, None, label, None))
        elif rec.kind == "webhook":
            ep = lk.endpoint(rec.ref)
            if ep is not None and (allowed is None or ep.kind in allowed):
                targets.append((ep.kind, ep, ep.code, None, label, None))

    if not targets:
        return []
    # what the deliverer renders the text from (render_pending): the context as plain JSON
    # (what webhooks receive) with the places of its typed values, and the language
    plain_ctx, types = codec.encode(_template_context(r))
    render = {RENDER_KEY: True}
    if types:
        render[TYPES_KEY] = types
    if lk.lang:
        render[LANG_KEY] = lk.lang
    order_id = r.order.pk if r.order is not None and r.order.pk else None
    red = r.severity == Severity.RED
    defaults = row_defaults()
    queued = Message.Status.QUEUED
    out = []
    for channel, ep, address, user_id, label, who in targets:
        key = _key(r.dedupe_key, channel, address)
        due = now
        if not red:   # red ignores every quiet hour
            if ep is not None:
                due = quiet_until(ep, due)
            if who is not None:
                due = quiet_hours_end(who.quiet_start, who.quiet_end, due)
        payload = {"dedupe_key": key, "event": r.event, "severity": r.severity,
                   "context": plain_ctx, **render, **r.extra_payload}
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
    from orderhub.orders.models import Order

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


# --------------------------------------------------------------------------- templates

_engine = Engine(autoescape=False, debug=False)


def compile_template(text: str):
    return _engine.from_string(text)


@functools.lru_cache(maxsize=512)
def _compiled(text: str):
    """Rendering parses each template text once per process (texts are the cache key)."""
    return _engine.from_string(text)


RENDER_KEY = "render"           # payload: the text is rendered at delivery (subject/body empty until then)
TYPES_KEY = "context_types"     # payload: codec.encode's places of the context's typed values
LANG_KEY = "lang"               # payload: the language at enqueue when not LANGUAGE_CODE


def pending_render(m: Message) -> bool:
    """True while ``m`` carries no text yet: queued for rendering and not delivered (a delivered
    row keeps the text it was sent with; rows queued before rendering moved to delivery carry
    their text and no marker)."""
    return bool(m.payload.get(RENDER_KEY)) and m.status != Message.Status.DELIVERED


def render_stored(m: Message) -> tuple[str, str]:
    """Subject and body of the outbox row ``m`` from the template as it is now, the context kept
    in its payload (with its types) and the language it was queued in."""
    p = m.payload or {}
    plain = p.get("context") or {}
    try:
        ctx = codec.decode(plain, p.get(TYPES_KEY))
    except Exception:  # a malformed payload: the plain values still render
        logger.exception("notify: the context of message %s could not be decoded", m.pk)
        ctx = dict(plain)
    lang = p.get(LANG_KEY) or settings.LANGUAGE_CODE
    if lang != translation.get_language():
        with translation.override(lang):
            subject, body = render_message(m.event, m.channel, ctx)
    else:
        subject, body = render_message(m.event, m.channel, ctx)
    return subject[:300], body


def render_pending(m: Message) -> bool:
    """Give ``m`` (in memory) its subject and body if it was queued without them; True if it did.
    The deliverer stores the text with the delivered state; pages render for display only."""
    if not pending_render(m):
        return False
    m.subject, m.body = render_stored(m)
    return True


def render_message(event: str, channel: str, ctx: dict[str, Any]) -> tuple[str, str]:
    """Subject and body of ``event`` on ``channel`` from the template for that channel, else the
    template for every channel, else a plain fallback (the context's ``message``)."""
    tpls = templates()
    t = tpls.get((event, channel)) or tpls.get((event, ""))
    if t is None:
        body = str(ctx.get("message") or event)
        return str(ctx.get("subject") or event)[:300], body
    c = Context(ctx, autoescape=False)
    try:
        subject = _compiled(t.subject).render(c).strip() if t.subject else event
        body = _compiled(t.body).render(c)
    except Exception as e:  # a template that renders badly must not lose the message
        logger.exception("notify: template %s failed to render", t)
        return event, f"{ctx.get('message') or event}\n[template error: {e}]"
    return subject, body


def template_save(*, event: str, channel: str, subject: str, body: str, actor: Actor) -> MessageTemplate:
    """Create or change the template for (event, channel); syntax errors are refused by name."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not change message templates."))
    if channel and channel not in CHANNELS:
        raise _invalid(_("Unknown channel '%(c)s'.") % {"c": channel}, field="channel")
    if not event or len(event) > 64:
        raise _invalid(_("The event must be 1 to 64 characters."), field="event")
    if not body.strip():
        raise _invalid(_("The body must not be empty."), field="body")
    for name, text in (("subject", subject), ("body", body)):
        try:
            compile_template(text)
        except TemplateSyntaxError as e:
            raise _invalid(_("Template syntax error in the %(field)s: %(error)s")
                                   % {"field": name, "error": e}, field=name) from e
    with transaction.atomic():
        t = MessageTemplate.objects.select_for_update().filter(event=event, channel=channel).first()
        before = {"subject": t.subject, "body": t.body} if t else {}
        if t is None:
            t = MessageTemplate(event=event, channel=channel)
        t.subject, t.body, t.updated_by = subject, body, actor.label[:150]
        t.save()
        _audit("message_template", t.pk, "notify.template_saved", actor, before,
               {"subject": subject, "body": body}, data={"event": event, "channel": channel})
    clear_caches()
    return t


SECRET_KEYS = ("secret", "password", "token", "key", "sign")


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    """Endpoint settings as the audit log keeps them: secrets as a fingerprint, never in clear."""
    def fingerprint(v) -> str:
        return "sha256:" + hashlib.sha256(str(v).encode()).hexdigest()[:12]

    out = {}
    for k, v in (config or {}).items():
        if any(s in k.lower() for s in SECRET_KEYS) and v:
            out[k] = fingerprint(v)
        elif isinstance(v, str) and v.startswith(("http://", "https://")) and "?" in v:
            # robot URLs carry their token in the query (access_token=…, key=…)
            base, query = v.split("?", 1)
            out[k] = f"{base}?{fingerprint(query)}"
        else:
            out[k] = v
    return out


def _audit(subject_type: str, subject_id: int, action: str, actor: Actor, before: dict[str, Any],
           after: dict[str, Any], *, data: dict[str, Any] | None = None) -> None:
    """One event in the subject's chain with each changed field's before and after."""
    from orderhub.core.audit import append_event

    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    append_event(subject_type=subject_type, subject_id=subject_id, action=action, actor=actor,
                 changes=changes, data=data)


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


# --------------------------------------------------------------------------- endpoints, profiles

def endpoint_save(*, code: str, name: str, kind: str, config: dict, actor: Actor, roles=None,
                  is_active: bool = True, quiet_start=None, quiet_end=None,
                  timeout_seconds: float = 5.0, clear_secrets=()) -> Endpoint:
    """Create or change an endpoint; the channel's settings are validated, naming the key.

    ``config`` is the settings as typed: the secret ones (``notify.secretconfig``) already saved
    are kept where ``config`` leaves them out or empty (they are never shown again), unless
    their path is in ``clear_secrets`` (e.g. ``["secret", "headers.Authorization"]``). The
    URL or SMTP host must resolve to public addresses unless private targets are allowed
    (``policy``). Secrets are stored encrypted (``Endpoint.secrets``), never in the audit log."""
    from .channels import check_targets, validate_config
    from .policy import allow_private_targets
    from .secretconfig import REQUIRED, apply_update, paths, split, url_hint, value_at

    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not change channel endpoints."))
    if kind not in CHANNELS or kind == DeliveryChannel.INAPP:
        raise _invalid(_("Unknown channel '%(c)s'.") % {"c": kind}, field="kind")
    from django.utils.text import slugify

    if not code or slugify(code) != code:
        raise _invalid(_("The code must be letters, digits, '-' or '_'."), field="code")
    if not name:
        raise _invalid(_("The name is required."), field="name")
    if not (0.1 <= float(timeout_seconds) <= 60):
        raise _invalid(_("The timeout must be between 0.1 and 60 seconds."), field="timeout_seconds")
    if (quiet_start is None) != (quiet_end is None):
        raise _invalid(_("Quiet hours need both a start and an end."), field="quiet_start")
    from orderhub.core.roles import ROLES

    roles = list(roles or [])
    for r in roles:
        if r not in ROLES:
            raise _invalid(_("Unknown role '%(role)s'.") % {"role": r}, field="roles")
    if not isinstance(config, dict):
        raise _invalid(_("The settings must be a mapping."), field="config")
    clear = {str(p) for p in clear_secrets or ()}
    for path in sorted(clear):
        if path in REQUIRED.get(kind, ()):
            raise _invalid(_("config.%(key)s: a required secret cannot be cleared, only replaced.")
                           % {"key": path}, field=f"config.{path}")

    def plain(v: dict[str, Any]) -> dict[str, Any]:
        return {**v, "config": _masked(v["config"]),
                "quiet_start": v["quiet_start"].isoformat() if v["quiet_start"] else None,
                "quiet_end": v["quiet_end"].isoformat() if v["quiet_end"] else None}

    with transaction.atomic():
        ep = Endpoint.objects.select_for_update().filter(code=code).first()
        # a kind changed drops the old kind's secrets; a wrong key is an error here too
        old_secret = ep.secret_config() if ep is not None and ep.kind == kind else {}
        full = validate_config(kind, apply_update(kind, old_secret, config, clear))
        check_targets(kind, full, allow_private=allow_private_targets())
        public, secret = split(kind, full)
        values = dict(name=name, kind=kind, config=public, roles=roles, is_active=is_active,
                      quiet_start=quiet_start, quiet_end=quiet_end, timeout_seconds=float(timeout_seconds))
        def shown(secret: dict[str, Any]) -> dict[str, str]:   # in the audit: which are set, URLs' hosts
            return {p: url_hint(value_at(secret, p)) if p == "url" else "set" for p in paths(secret)}

        before = {**plain({k: getattr(ep, k) for k in values}), "secrets": shown(old_secret)} if ep else {}
        if ep is None:
            ep = Endpoint(code=code)
        for k, v in values.items():
            setattr(ep, k, v)
        ep.secrets = crypto.encrypt(json.dumps(secret, ensure_ascii=False, sort_keys=True)) if secret else ""
        ep.save()
        changed = sorted(p for p in set(paths(secret)) | set(paths(old_secret))
                         if value_at(secret, p) != value_at(old_secret, p))
        _audit("notify_endpoint", ep.pk, "notify.endpoint_saved", actor, before,
               {**plain(values), "secrets": shown(secret)}, data={"code": code, "secrets_changed": changed})
    clear_caches()
    return ep


def profile_save(*, user_id: int, actor: Actor, mobile: str = "", dingtalk_id: str = "",
                 wecom_id: str = "", channels: list[str] | None = None,
                 quiet_start: dt_time | None = None, quiet_end: dt_time | None = None) -> ContactProfile:
    """A user's contact details, preferred personal channels and own quiet hours (for e-mail and
    SMS; red messages ignore them). The user or a user administrator may change them."""
    if not (actor.has_perm("auth.change_user") or (actor.user is not None and actor.user.pk == user_id)):
        raise PermissionDenied("forbidden", _("You may not change this contact profile."))
    for c in channels or []:
        if c not in PERSONAL_CHANNELS:
            raise _invalid(_("Unknown personal channel '%(c)s'.") % {"c": c}, field="channels")
    mobile = (mobile or "").strip()
    if mobile and not all(ch.isdigit() or ch in "+- " for ch in mobile):
        raise _invalid(_("A mobile number has digits, '+', '-' and spaces only."), field="mobile")
    if (quiet_start is None) != (quiet_end is None):
        raise _invalid(_("Quiet hours need both a start and an end."), field="quiet_start")
    for name, value in (("dingtalk_id", dingtalk_id), ("wecom_id", wecom_id)):
        if fault := text_fault(value or ""):
            raise _invalid(fault, field=name)
    values = dict(mobile=mobile[:32], dingtalk_id=dingtalk_id[:64], wecom_id=wecom_id[:64],
                  channels=list(channels or []), quiet_start=quiet_start, quiet_end=quiet_end)

    def plain(v: dict[str, Any]) -> dict[str, Any]:
        return {**v, "quiet_start": v["quiet_start"].isoformat() if v["quiet_start"] else None,
                "quiet_end": v["quiet_end"].isoformat() if v["quiet_end"] else None}

    with transaction.atomic():
        p = ContactProfile.objects.select_for_update().filter(user_id=user_id).first()
        before = plain({k: getattr(p, k) for k in values}) if p else {}
        if p is None:
            p = ContactProfile(user_id=user_id)
        for k, v in values.items():
            setattr(p, k, v)
        p.save()
        _audit("contact_profile", user_id, "notify.profile_saved", actor, before, plain(values))
    clear_caches()
    return p


# --------------------------------------------------------------------------- inbox, dead letters

def inbox_mark_read(*, actor: Actor, ids: list[int] | None = None) -> int:
    """Mark the actor's in-app messages read (all of them when ``ids`` is None)."""
    if actor.user is None:
        raise PermissionDenied("forbidden", _("Only people have an inbox."))
    qs = Message.objects.filter(user=actor.user, channel=DeliveryChannel.INAPP, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())


def message_resend(*, message: int, actor: Actor) -> Message:
    """Put a dead (or failed) message back in the queue with a fresh attempt budget."""
    if not actor.has_perm(MANAGE_PERM):
        raise PermissionDenied("forbidden", _("You may not re-send messages."))
    with transaction.atomic():
        m = Message.objects.select_for_update().filter(pk=message).first()
        if m is None:
            raise NotFound("not_found", _("No such message."))
        if m.status not in (Message.Status.DEAD, Message.Status.FAILED):
            raise _invalid(_("Only dead or failed messages can be re-sent (this one is %(s)s).")
                                   % {"s": m.get_status_display()}, field="status")
        before = {"status": m.status, "attempts": m.attempts}
        m.status = Message.Status.QUEUED
        m.attempts = 0
        m.next_attempt_at = clock.now()
        m.save(update_fields=["status", "attempts", "next_attempt_at"])
        _audit("notify_message", m.pk, "notify.message_resent", actor, before,
               {"status": m.status, "attempts": 0},
               data={"event": m.event, "channel": m.channel, "order": m.order_id,
                     "last_error": m.last_error[:500]})
        transaction.on_commit(_wake_after_commit)
    return m
