"""The customer portal's pages (``/portal/…``) and tracking links (``/track/<token>``).

Customers are not users: their session is the ``oh_portal`` cookie (``portal.sessions``), read
by ``customer_required``; ``request.user`` is never set from it, and a staff session opens no
portal page. Every order is looked up within the signed-in contact's customer
(``portal.selectors.my_order``), so another customer's number is a 404 like a number that does
not exist. Mobile-first, no script (WeChat's browser)."""

from __future__ import annotations

from functools import wraps

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from orderhub.core.actors import RequestContext
from orderhub.core.errors import DomainError, NotFound
from orderhub.portal import messages, selectors, services, sessions, survey
from orderhub.portal.models import Visit
from orderhub.shipping.selectors import customer_shipments

LOGIN = "web:portal_login"


def _ctx(request) -> RequestContext:
    return getattr(request, "orderhub_context", None) or RequestContext()


def customer_required(view):
    """The signed-in contact as ``request.portal_contact``, else to the portal's sign-in page."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        contact = sessions.session_contact(request.COOKIES.get(sessions.COOKIE))
        if contact is None:
            return redirect(LOGIN)
        request.portal_contact = contact
        return view(request, *args, **kwargs)
    wrapped.capability = "portal.customer"
    return wrapped


def public(view):
    view.capability = "portal.customer"
    return view


def _with_status(response, error: DomainError | None):
    if error is not None and error.status == 429 and error.data.get("retry_after"):
        response["Retry-After"] = str(error.data["retry_after"])
    return response


@public
def portal_login(request):
    """Step 1: the e-mail or mobile; a code is sent if it belongs to a contact (same answer
    either way)."""
    if sessions.session_contact(request.COOKIES.get(sessions.COOKIE)) is not None:
        return redirect("web:portal_orders")
    error = None
    identifier = ""
    if request.method == "POST":
        identifier = request.POST.get("identifier", "").strip()[:200]
        try:
            sent = services.code_request(identifier=identifier, context=_ctx(request))
        except DomainError as e:
            error = e
        else:
            resp = redirect("web:portal_code")
            resp.set_cookie(sessions.PENDING_COOKIE, sessions.pending_token(identifier, sent.shown_code),
                            max_age=15 * 60, **sessions.cookie_options())
            return resp
    status = error.status if error is not None else 200
    return _with_status(render(request, "web/portal/login.html", {"identifier": identifier, "error": error},
                               status=status), error)


@public
def portal_code(request):
    """Step 2: the 6-digit code; right → the customer's session cookie."""
    pending = sessions.pending(request.COOKIES.get(sessions.PENDING_COOKIE))
    identifier = pending.get("i", "")
    if not identifier:
        return redirect(LOGIN)
    error = None
    if request.method == "POST":
        try:
            contact = services.code_verify(identifier=identifier, code=request.POST.get("code", ""),
                                           context=_ctx(request))
        except DomainError as e:
            error = e
        else:
            resp = redirect("web:portal_orders")
            resp.set_cookie(sessions.COOKIE, sessions.session_token(contact), max_age=sessions.max_age(),
                            **sessions.cookie_options())
            resp.delete_cookie(sessions.PENDING_COOKIE, path="/")
            return resp
    return _with_status(render(request, "web/portal/code.html", {
        "identifier": identifier, "error": error, "demo_code": pending.get("d") if services.show_codes() else None,
    }, status=error.status if error is not None else 200), error)


@public
@require_POST
def portal_logout(request):
    """End this device's session (the cookie)."""
    resp = redirect(LOGIN)
    resp.delete_cookie(sessions.COOKIE, path="/")
    return resp


@customer_required
@require_POST
def portal_logout_all(request):
    """End every session of the contact, on every device."""
    contact = request.portal_contact
    services.logout_everywhere(contact_id=contact.pk, actor=services.contact_actor(contact, _ctx(request)))
    resp = redirect(LOGIN)
    resp.delete_cookie(sessions.COOKIE, path="/")
    return resp


@customer_required
def portal_orders(request):
    """My orders: search by number or my own reference; open / done."""
    contact = request.portal_contact
    q = request.GET.get("q", "").strip()[:64]
    status = request.GET.get("status", "")
    page = Paginator(selectors.my_orders(contact, q=q, status=status), selectors.PAGE).get_page(request.GET.get("page"))
    return render(request, "web/portal/orders.html", {
        "contact": contact, "rows": selectors.list_rows(list(page.object_list)), "page": page, "q": q,
        "status": status})


@customer_required
def portal_order(request, number: str):
    """One of my orders: stage (customer-facing), ETA and how it moved, last update, lines."""
    contact = request.portal_contact
    try:
        order = selectors.my_order(contact, number)
    except NotFound as e:
        raise Http404(e.message) from e
    services.visit_record(order=order, kind=Visit.Kind.PORTAL, contact=contact,
                          actor=services.contact_actor(contact, _ctx(request)))
    return render(request, "web/portal/order.html", {"contact": contact, "o": selectors.order_view(order),
                                                     "thread": messages.thread(order, for_customer=True),
                                                     "survey": survey.survey_state(order),
                                                     "shipments": customer_shipments(order)})


@customer_required
@require_POST
def portal_message(request, number: str):
    """Write to the order's rep (the form on the order page)."""
    contact = request.portal_contact
    try:
        messages.message_post(order=number, body=request.POST.get("body", ""), contact=contact,
                              actor=services.contact_actor(contact, _ctx(request)))
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        order = selectors.my_order(contact, number)
        return render(request, "web/portal/order.html", {
            "contact": contact, "o": selectors.order_view(order), "thread": messages.thread(order, for_customer=True),
            "survey": survey.survey_state(order), "shipments": customer_shipments(order), "message_error": e.message, "body": request.POST.get("body", "")[:messages.MAX_LENGTH]}, status=400)
    return redirect(reverse("web:portal_order", args=[number]) + "#messages")


@public
def track(request, token: str):
    """A tracking link: stage, ETA and last update, no sign-in; every open is recorded."""
    try:
        order = services.tracking_order(token)
    except NotFound as e:
        return render(request, "web/portal/track_invalid.html", {"message": e.message}, status=404)
    services.visit_record(order=order, kind=Visit.Kind.TRACK, actor=services.visitor_actor(_ctx(request)))
    return render(request, "web/portal/track.html", {"o": selectors.order_view(order, full=False),
                                                     "login_url": reverse(LOGIN)})
