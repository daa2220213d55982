"""Staff's side of the customer portal: a customer's contacts (add, invite, switch off, end
their sessions) with the customer's self-query rate; an order's tracking link with its QR code;
an inbound "where is my order" call logged in one click."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.catalog.models import Customer
from orderhub.core import clock
from orderhub.core.errors import DomainError, NotFound
from orderhub.portal import coei, selectors, services
from orderhub.portal import messages as thread_messages
from orderhub.portal.models import Contact, CustomerSetting

from .common import actor_for, field_errors, refused, requires, visible_or_404


def _customer(request, code: str) -> Customer:
    """A customer whose contacts the user may manage (their own customers, for sales); else 404."""
    try:
        return services.customer_in_scope(code, actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e


def _login_url(request) -> str:
    return request.build_absolute_uri(reverse("web:portal_login"))


@requires("portal.contacts")
def contacts(request, code: str):
    """A customer's portal contacts; add one (and invite it)."""
    cust = _customer(request, code)
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("name", "email", "mobile")}
        actor = actor_for(request)
        try:
            c = services.contact_save(customer=code, data=services.ContactInput(**values), actor=actor)
            if request.POST.get("invite") == "1":
                services.contact_invite(contact_id=c.pk, login_url=_login_url(request), actor=actor)
        except DomainError as e:
            errors = field_errors(e)
        else:
            messages.success(request, _("Contact %(name)s added.") % {"name": c.name})
            return redirect("web:portal_contacts", code=code)
    return render(request, "web/portal/staff_contacts.html", {
        "customer": cust, "contacts": selectors.contacts_of(cust.pk), "values": values, "errors": errors,
        "rate": selectors.self_query_rate(actor=actor_for(request), customer=cust.code),
        "coei": coei.customer_coei(cust.pk),
        "own_hours": CustomerSetting.objects.filter(customer=cust).values_list("update_hours", flat=True).first(),
        "surveys": coei.recent_surveys(cust.pk),
    }, status=400 if errors else 200)


@requires("portal.contacts")
@require_POST
def contact_action(request, code: str, pk: int):
    """invite | disable | enable | logout_all, on one contact of the customer."""
    cust = _customer(request, code)
    contact = Contact.objects.filter(pk=pk, customer=cust).first()
    if contact is None:
        raise Http404(str(pk))
    back = reverse("web:portal_contacts", args=[code])
    actor = actor_for(request)
    action = request.POST.get("action", "")
    try:
        if action == "invite":
            services.contact_invite(contact_id=pk, login_url=_login_url(request), actor=actor)
            messages.success(request, _("Invitation sent to %(name)s.") % {"name": contact.name})
        elif action in ("disable", "enable"):
            services.contact_save(customer=code, contact_id=pk, actor=actor, data=services.ContactInput(
                name=contact.name, email=contact.email, mobile=contact.mobile, is_active=action == "enable"))
            messages.success(request, _("Saved."))
        elif action == "logout_all":
            services.logout_everywhere(contact_id=pk, actor=actor)
            messages.success(request, _("All of %(name)s's sessions have been logged out.") % {"name": contact.name})
        else:
            messages.error(request, _("Unknown action."))
    except DomainError as e:
        return refused(request, e, back)
    return redirect(back)


@requires("portal.tracking")
@require_POST
def tracking_link(request, number: str):
    """Issue the order's tracking link and show it with its QR code (to print or send)."""
    visible_or_404(request, number)
    try:
        token, expires = services.tracking_link_issue(order=number, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, reverse("web:order_detail", args=[number]))
    url = request.build_absolute_uri(reverse("web:portal_track", args=[token]))
    return render(request, "web/portal/staff_link.html", {
        "number": number, "url": url, "expires": expires, "svg": services.tracking_qr(url).decode()})


@requires("portal.tracking")
@require_POST
def call_log(request, number: str):
    """One click: the customer phoned to ask where the order is."""
    visible_or_404(request, number)
    try:
        services.call_log(order=number, note=request.POST.get("note", ""), actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, reverse("web:order_detail", args=[number]))
    messages.success(request, _("One customer phone enquiry recorded."))
    return redirect("web:order_detail", number=number)


@requires("portal.tracking")
def self_query(request):
    """The self-query rate over the last 90 days: in all, and per customer (the busiest 50)."""
    actor = actor_for(request)
    since = clock.now() - timedelta(days=90)
    return render(request, "web/portal/staff_self_query.html", {
        "total": selectors.self_query_rate(actor=actor, since=since),
        "rows": selectors.self_query_by_customer(actor=actor, since=since), "since": since})


@requires("portal.tracking")
@require_POST
def message_reply(request, number: str):
    """Reply to the customer in the order's thread (the card on the order page)."""
    visible_or_404(request, number)
    back = reverse("web:order_detail", args=[number]) + "#messages"
    try:
        thread_messages.message_post(order=number, body=request.POST.get("body", ""), actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Reply sent to the customer."))
    return redirect(back)
