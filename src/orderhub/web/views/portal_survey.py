"""Satisfaction and COEI pages: the customer's survey after delivery (on the portal, or through
the signed link in the delivery notice, no sign-in), the COEI settings (administrators) and a
customer's expected update interval (staff who manage its contacts)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core.errors import DomainError, NotFound
from orderhub.portal import coei, selectors, services, survey

from .common import actor_for, field_errors, refused, requires
from .portal import _ctx, customer_required, public


def _stars(request) -> int | None:
    try:
        return int(request.POST.get("stars", ""))
    except ValueError:
        return None


def _survey_page(request, order, *, via: str, contact=None, action: str, back: str | None):
    errors: dict[str, list[str]] = {}
    saved = False
    values = {"stars": None, "comment": ""}
    if request.method == "POST":
        values = {"stars": _stars(request), "comment": request.POST.get("comment", "")[:600]}
        actor = (services.contact_actor(contact, _ctx(request)) if contact is not None
                 else services.visitor_actor(_ctx(request)))
        try:
            survey.survey_answer(order=order, stars=values["stars"], comment=values["comment"], via=via,
                                 contact=contact, actor=actor)
        except DomainError as e:
            errors = field_errors(e) if e.problems else {"general": [e.message]}
        else:
            saved = True
    state = survey.survey_state(order)
    if not errors and state["answer"]:
        values = {"stars": state["answer"]["stars"], "comment": state["answer"]["comment"]}
    return render(request, "web/portal/survey.html", {
        "contact": contact, "number": order.number, "state": state, "values": values, "errors": errors,
        "saved": saved, "action": action, "back": back, "star_choices": range(1, 6),
    }, status=400 if errors else 200)


@customer_required
def portal_survey(request, number: str):
    """The survey of one of my orders (after delivery; changeable until the deadline)."""
    contact = request.portal_contact
    try:
        order = selectors.my_order(contact, number)
    except NotFound as e:
        raise Http404(e.message) from e
    return _survey_page(request, order, via="portal", contact=contact,
                        action=reverse("web:portal_survey", args=[number]),
                        back=reverse("web:portal_order", args=[number]))


@public
def link_survey(request, token: str):
    """The survey behind the delivery notice's link: no sign-in, the signature decides."""
    try:
        order = survey.survey_order(token)
    except NotFound as e:
        return render(request, "web/portal/track_invalid.html", {"message": e.message}, status=404)
    return _survey_page(request, order, via="link", action=reverse("web:survey_link", args=[token]), back=None)


@requires("settings.customers")
def coei_settings(request):
    """The COEI's weights (adding up to 100), default update interval, explanation window and
    survey deadline; with the company's figure."""
    errors: dict[str, list[str]] = {}
    cfg = coei.config_dict()
    if request.method == "POST":
        values: dict[str, int] = {}
        for k in ("weight_notice", "weight_updates", "weight_delay", "update_hours", "explain_hours", "survey_days"):
            try:
                values[k] = int(request.POST.get(k, ""))
            except ValueError:
                values[k] = -1
        try:
            coei.config_save(actor=actor_for(request), values=values)
        except DomainError as e:
            errors = field_errors(e)
            cfg = {**cfg, **values}
        else:
            messages.success(request, _("COEI settings saved."))
            return redirect("web:coei_settings")
    return render(request, "web/portal/coei_settings.html", {"cfg": cfg, "errors": errors},
                  status=400 if errors else 200)


@requires("portal.contacts")
@require_POST
def update_hours(request, code: str):
    """Set how often the customer expects to hear how its orders stand (empty: the default)."""
    back = reverse("web:portal_contacts", args=[code])
    raw = request.POST.get("update_hours", "").strip()
    try:
        hours = int(raw) if raw else None
    except ValueError:
        hours = 0
    try:
        survey.customer_setting_save(customer=code, update_hours=hours, actor=actor_for(request))
    except NotFound as e:
        raise Http404(e.message) from e
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Saved."))
    return redirect(back)
