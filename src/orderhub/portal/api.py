"""Portal API (mounted at /api/portal).

Staff (bearer token or session): contacts of a customer (``portal.contacts``), tracking links,
inbound calls and the self-query rate (``portal.tracking``). Customers: ``/login/code`` and
``/login/verify`` (no credentials; verify sets the ``oh_portal`` cookie), then ``/me/…`` with
that cookie only (a staff session or token is no customer: 401). ``/track/{token}``: what a
tracking link shows, no sign-in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Router, Schema, Status
from ninja.security import APIKeyCookie
from ninja.utils import check_csrf

from orderhub.core.actors import RequestContext
from orderhub.core.errors import NotFound, PermissionDenied, ValidationFailed
from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, ErrorOut, Line
from orderhub.orders.selectors import get_order

from . import messages, selectors, services, sessions
from .models import Contact, Visit

router = Router(tags=["portal"])
DOOR_ERRORS = {**ERRORS, 429: ErrorOut, 503: ErrorOut}


def _ctx(request: HttpRequest) -> RequestContext:
    return getattr(request, "orderhub_context", None) or RequestContext()


class PortalCookie(APIKeyCookie):
    """The customer's own session cookie (``portal.sessions``), CSRF checked on unsafe methods."""

    param_name = sessions.COOKIE
    capability = "portal.customer"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        key = request.COOKIES.get(self.param_name)
        if key and request.method not in ("GET", "HEAD", "OPTIONS") and check_csrf(request):
            raise PermissionDenied("csrf_failed", _("CSRF check failed: send the X-CSRFToken header with the request."))
        return key

    def authenticate(self, request: HttpRequest, key: str | None) -> Contact | None:
        contact = sessions.session_contact(key)
        if contact is not None:
            request.portal_contact = contact  # type: ignore[attr-defined]
        return contact


CUSTOMER = PortalCookie()


# --------------------------------------------------------------------------- schemas

class ContactIn(Schema):
    name: Line
    email: Line = ""
    mobile: Line = ""
    is_active: bool = True
    invite: bool = False


class ContactPatch(Schema):
    name: Line | None = None
    email: Line | None = None
    mobile: Line | None = None
    is_active: bool | None = None


class ContactOut(Schema):
    id: int
    customer: str
    name: str
    email: str
    mobile: str
    is_active: bool
    invited_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class LinkIn(Schema):
    days: int | None = None


class LinkOut(Schema):
    order: str
    token: str
    url: str
    expires_at: datetime
    qr_svg: str


class CallIn(Schema):
    note: Line = ""


class CallOut(Schema):
    id: int
    order: str
    at: datetime
    logged_by: str
    note: str


class RateOut(Schema):
    orders: int
    opened: int
    called: int
    calls: int
    self_query_rate: float | None
    calls_per_order: float | None


class CodeIn(Schema):
    identifier: Line


class CodeOut(Schema):
    message: str


class VerifyIn(Schema):
    identifier: Line
    code: Line


class MeOut(Schema):
    name: str
    customer: str
    customer_name: str


class TrackOut(Schema):
    number: str
    reference: str
    stage: str
    note: str
    eta: date
    eta_promised: bool
    last_update: datetime
    closed: bool


class OrderRow(Schema):
    number: str
    reference: str
    stage: str
    eta: date
    last_update: datetime
    closed: bool


class PortalOrderPage(Schema):
    count: int
    page: int
    pages: int
    results: list[OrderRow]


class TimelineOut(Schema):
    label: str
    at: datetime


class EtaMoveOut(Schema):
    at: datetime
    before: date | None
    after: date | None


class PortalLineOut(Schema):
    line_no: int
    product: str
    qty: str
    unit: str


class MyOrderOut(TrackOut):
    required_date: date
    created_at: datetime
    timeline: list[TimelineOut]
    eta_moves: list[EtaMoveOut]
    lines: list[PortalLineOut]


# --------------------------------------------------------------------------- staff



@router.get("/customers/{customer}/contacts", auth=requires("portal.contacts"), response={200: list[ContactOut], **ERRORS})
def list_contacts(request: ActorRequest, customer: str) -> list[dict[str, Any]]:
    """A customer's portal contacts."""
    return [selectors.contact_dict(c) for c in Contact.objects.select_related("customer")
            .filter(customer=services.customer_in_scope(customer, request.actor)).order_by("name", "pk")]


@router.post("/customers/{customer}/contacts", auth=requires("portal.contacts"), response={201: ContactOut, **ERRORS})
def add_contact(request: ActorRequest, customer: str, payload: ContactIn) -> Status:
    """Add a contact (e-mail and/or mobile); ``invite`` also sends the portal's address."""
    c = services.contact_save(customer=customer, actor=request.actor, data=services.ContactInput(
        name=payload.name, email=payload.email, mobile=payload.mobile, is_active=payload.is_active))
    if payload.invite:
        services.contact_invite(contact_id=c.pk, login_url=request.build_absolute_uri("/portal/login/"),
                                actor=request.actor)
        c.refresh_from_db()
    return Status(201, selectors.contact_dict(c))


def _contact(contact_id: int, request: ActorRequest) -> Contact:
    """A contact of a customer in the actor's scope (else 404)."""
    c = Contact.objects.select_related("customer").filter(pk=contact_id).first()
    if c is None:
        raise NotFound("not_found", _("There is no such contact."))
    services.customer_in_scope(c.customer.code, request.actor)
    return c


@router.patch("/contacts/{contact_id}", auth=requires("portal.contacts"), response={200: ContactOut, **ERRORS})
def change_contact(request: ActorRequest, contact_id: int, payload: ContactPatch) -> dict[str, Any]:
    """Change a contact; switching it off or changing its address ends its sessions."""
    c = _contact(contact_id, request)
    sent = payload.dict(exclude_unset=True)
    data = services.ContactInput(name=sent.get("name", c.name), email=sent.get("email", c.email),
                                 mobile=sent.get("mobile", c.mobile), is_active=sent.get("is_active", c.is_active))
    return selectors.contact_dict(services.contact_save(customer=c.customer.code, data=data, actor=request.actor,
                                                        contact_id=c.pk))


@router.post("/contacts/{contact_id}/invite", auth=requires("portal.contacts"), response={200: ContactOut, **ERRORS})
def invite_contact(request: ActorRequest, contact_id: int) -> dict[str, Any]:
    """Send the contact the portal's address and how to sign in (e-mail and/or SMS)."""
    _contact(contact_id, request)
    services.contact_invite(contact_id=contact_id, login_url=request.build_absolute_uri("/portal/login/"),
                            actor=request.actor)
    return selectors.contact_dict(_contact(contact_id, request))


@router.post("/contacts/{contact_id}/logout-everywhere", auth=requires("portal.contacts"),
             response={200: ContactOut, **ERRORS})
def end_contact_sessions(request: ActorRequest, contact_id: int) -> dict[str, Any]:
    """End every portal session of the contact."""
    services.logout_everywhere(contact_id=contact_id, actor=request.actor)
    return selectors.contact_dict(_contact(contact_id, request))


@router.post("/orders/{number}/tracking-link", auth=requires("portal.tracking"), response={201: LinkOut, **ERRORS})
def issue_tracking_link(request: ActorRequest, number: str, payload: LinkIn) -> Status:
    """A signed, expiring link showing the order's stage, ETA and last update without sign-in,
    with its QR code (SVG)."""
    token, expires = services.tracking_link_issue(order=number, actor=request.actor, days=payload.days)
    url = request.build_absolute_uri(f"/track/{token}")
    return Status(201, {"order": number, "token": token, "url": url, "expires_at": expires,
                        "qr_svg": services.tracking_qr(url).decode()})


@router.post("/orders/{number}/calls", auth=requires("portal.tracking"), response={201: CallOut, **ERRORS})
def log_call(request: ActorRequest, number: str, payload: CallIn) -> Status:
    """Log an inbound "where is my order" call of the customer."""
    call = services.call_log(order=number, note=payload.note, actor=request.actor)
    return Status(201, {"id": call.pk, "order": number, "at": call.at, "logged_by": call.logged_by, "note": call.note})


@router.get("/self-query", auth=requires("portal.tracking"), response={200: RateOut, **ERRORS})
def self_query(request: ActorRequest, customer: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> dict[str, Any]:
    """Of the orders you see (of one customer, created in [since, until)): how many the customer
    opened (tracking link or portal) and phoned about; self-query rate = opened / orders."""
    try:   # PostgreSQL takes offsets up to ±15:59 and years up to 294276: compare in UTC
        since, until = (d.astimezone(UTC) if d and d.tzinfo else d for d in (since, until))
    except (OverflowError, ValueError):
        raise ValidationFailed("invalid", _("The time is out of range.")) from None
    return selectors.self_query_rate(actor=request.actor, customer=customer, since=since, until=until)


# --------------------------------------------------------------------------- customers

CODE_SENT = gettext_lazy("If this e-mail address or mobile number is registered, a code has been sent; it is valid for 10 minutes.")


@router.post("/login/code", auth=None, response={200: CodeOut, **DOOR_ERRORS})
def request_code(request: HttpRequest, payload: CodeIn) -> dict[str, Any]:
    """Send a one-time code to a contact's e-mail or mobile. The answer is the same whether or
    not the address belongs to a contact; 429 over the limits."""
    services.code_request(identifier=payload.identifier, context=_ctx(request))
    return {"message": str(CODE_SENT)}


@router.post("/login/verify", auth=None, response={200: MeOut, **DOOR_ERRORS})
def verify_code(request: HttpRequest, response: HttpResponse, payload: VerifyIn) -> dict[str, Any]:
    """Sign in with the code: sets the ``oh_portal`` session cookie (a customer session, never
    a staff one). 403 names a wrong (with the tries left), expired or locked code."""
    contact = services.code_verify(identifier=payload.identifier, code=payload.code, context=_ctx(request))
    response.set_cookie(sessions.COOKIE, sessions.session_token(contact), max_age=sessions.max_age(),
                        **sessions.cookie_options())
    return {"name": contact.name, "customer": contact.customer.code, "customer_name": contact.customer.name}


def _me(request: HttpRequest) -> Contact:
    return request.auth  # type: ignore[attr-defined]


@router.get("/me", auth=CUSTOMER, response={200: MeOut, **ERRORS})
def me(request: HttpRequest) -> dict[str, Any]:
    c = _me(request)
    return {"name": c.name, "customer": c.customer.code, "customer_name": c.customer.name}


@router.get("/me/orders", auth=CUSTOMER, response={200: PortalOrderPage, **ERRORS})
def my_orders(request: HttpRequest, q: str = "", status: str = "", page: int = 1) -> dict[str, Any]:
    """The signed-in customer's own orders, newest first (``q``: number or your reference)."""
    pages = Paginator(selectors.my_orders(_me(request), q=q.strip()[:64], status=status), selectors.PAGE)
    got = pages.get_page(page)
    return {"count": pages.count, "page": got.number, "pages": pages.num_pages,
            "results": selectors.list_rows(list(got.object_list))}


@router.get("/me/orders/{number}", auth=CUSTOMER, response={200: MyOrderOut, **ERRORS})
def my_order(request: HttpRequest, number: str) -> dict[str, Any]:
    """One of the customer's own orders (any other number: 404); the open is recorded."""
    contact = _me(request)
    order = selectors.my_order(contact, number)
    services.visit_record(order=order, kind=Visit.Kind.PORTAL, contact=contact,
                          actor=services.contact_actor(contact, _ctx(request)))
    out = selectors.order_view(order)
    out["lines"] = [{**ln, "qty": str(ln["qty"])} for ln in out["lines"]]
    return out


@router.post("/me/logout-everywhere", auth=CUSTOMER, response={204: None, **ERRORS})
def my_logout_everywhere(request: HttpRequest) -> Status:
    """End every session of the signed-in contact, on every device."""
    contact = _me(request)
    services.logout_everywhere(contact_id=contact.pk, actor=services.contact_actor(contact, _ctx(request)))
    return Status(204, None)


@router.get("/track/{token}", auth=None, response={200: TrackOut, **ERRORS})
def track(request: HttpRequest, token: str) -> dict[str, Any]:
    """What a tracking link shows (stage, ETA, last update); 404 for a wrong or expired link.
    Every open is recorded."""
    order = services.tracking_order(token)
    services.visit_record(order=order, kind=Visit.Kind.TRACK, actor=services.visitor_actor(_ctx(request)))
    return selectors.order_view(order, full=False)


# --------------------------------------------------------------------------- messages

class MessageIn(Schema):
    body: str


class OrderMessageOut(Schema):
    id: int
    side: str
    author: str
    at: datetime
    body: str


staff_messages_router = Router(tags=["portal"])  # mounted at /api/orders


@staff_messages_router.get("/{number}/messages", auth=requires("portal.tracking"),
                           response={200: list[OrderMessageOut], **ERRORS})
def order_messages(request: ActorRequest, number: str) -> list[dict[str, Any]]:
    """The order's thread with the customer (oldest first)."""
    return messages.thread(get_order(number, actor=request.actor), for_customer=False)


@staff_messages_router.post("/{number}/messages", auth=requires("portal.tracking"),
                            response={201: OrderMessageOut, **ERRORS})
def reply_message(request: ActorRequest, number: str, payload: MessageIn) -> Status:
    """Reply to the customer (their contacts get it by e-mail / SMS)."""
    m = messages.message_post(order=number, body=payload.body, actor=request.actor)
    return Status(201, {"id": m.pk, "side": m.side, "author": m.author, "at": m.at, "body": m.body})


@router.get("/me/orders/{number}/messages", auth=CUSTOMER, response={200: list[OrderMessageOut], **ERRORS})
def my_messages(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    """The thread of one of your orders with its rep (any other number: 404)."""
    return messages.thread(selectors.my_order(_me(request), number), for_customer=True)


@router.post("/me/orders/{number}/messages", auth=CUSTOMER, response={201: OrderMessageOut, **ERRORS})
def write_message(request: HttpRequest, number: str, payload: MessageIn) -> Status:
    """Write to the order's rep (plain text, at most 1000 characters)."""
    contact = _me(request)
    m = messages.message_post(order=number, body=payload.body, contact=contact,
                              actor=services.contact_actor(contact, _ctx(request)))
    return Status(201, {"id": m.pk, "side": m.side, "author": m.author, "at": m.at, "body": m.body})
