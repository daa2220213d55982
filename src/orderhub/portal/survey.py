"""The short satisfaction survey after delivery (1-5 stars and a comment), one answer per order,
given by a signed-in contact on the portal or by anyone holding the order's survey link
(``orders.survey_links``, sent in the delivery notice); it may be changed until
``CoeiConfig.survey_days`` after delivery. Also the customer's expected update interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from orderhub.core import clock, permissions
from orderhub.core.actors import Actor
from orderhub.core.audit import append_event
from orderhub.core.errors import Conflict, NotFound, Problem, ValidationFailed
from orderhub.core.text import text_fault
from orderhub.orders.models import Order
from orderhub.orders.survey_links import survey_order_id

from . import coei, events
from .models import Contact, CustomerSetting, SurveyAnswer
from .services import customer_in_scope

MAX_COMMENT = 500


def delivered_at(order: Order) -> datetime | None:
    """When the order was delivered: its last shipment's departure, else its completion; None
    while nothing has left (the survey is not open yet)."""
    shipment = apps.get_model("shipping", "Shipment")   # shipping sits beside portal in the layers
    last = (shipment.objects.filter(order_id=order.pk, shipped_at__isnull=False)
            .order_by("-shipped_at").values_list("shipped_at", flat=True).first())
    if last is not None:
        return last
    return order.stage_entered_at if order.status == Order.Status.COMPLETED else None


def survey_state(order: Order) -> dict[str, Any]:
    """open (may be answered or changed now), the deadline, and the answer so far."""
    at = delivered_at(order)
    deadline = at + timedelta(days=coei.config().survey_days) if at else None
    now = clock.now()
    return {"delivered_at": at, "deadline": deadline, "open": bool(deadline and now <= deadline),
            "answer": coei.survey_of(order.pk)}


def survey_order(token: str) -> Order:
    """The order a survey link names (404 for an altered or foreign token)."""
    pk = survey_order_id(token)
    order = Order.objects.select_related("customer", "workflow").filter(pk=pk).first() if pk else None
    if order is None:
        raise NotFound("not_found", _("This survey link is not valid."))
    return order


def _problems(stars: Any, comment: str) -> list[Problem]:
    out = []
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        out.append(Problem("invalid", _("Choose 1 to 5 stars."), field="stars"))
    if len(comment) > MAX_COMMENT or text_fault(comment):
        out.append(Problem("invalid", _("The comment may have at most 500 characters."), field="comment"))
    return out


def survey_answer(*, order: Order, stars: Any, comment: str = "", via: str, actor: Actor,
                  contact: Contact | None = None) -> SurveyAnswer:
    """Record (or change) the order's answer. 422 for stars outside 1-5 or a long comment; 409
    before delivery or after the deadline. Audited (subject ``portal_survey``)."""
    comment = (comment or "").strip()
    problems = _problems(stars, comment)
    if problems:
        raise ValidationFailed("invalid", problems[0].message, problems=problems)
    state = survey_state(order)
    if state["delivered_at"] is None:
        raise Conflict("not_delivered", _("The survey opens once the order has been delivered."))
    if not state["open"]:
        raise Conflict("survey_closed", _("The survey for this order has closed."))
    now = clock.now()
    try:
        with transaction.atomic():
            found = SurveyAnswer.objects.select_for_update().filter(order_id=order.pk).first()
            changed = found is not None
            if found is None:
                found = SurveyAnswer(order=order, customer_id=order.customer_id, answered_at=now)
            found.stars, found.comment, found.via, found.contact, found.updated_at = stars, comment, via, contact, now
            found.save()
            append_event(subject_type="portal_survey", subject_id=found.pk, action=events.SURVEY_ANSWERED, actor=actor,
                         data={"order": order.number, "stars": stars, "via": via, "changed": changed})
    except IntegrityError:   # two first answers at once: the other won, this one changes it
        return survey_answer(order=order, stars=stars, comment=comment, via=via, actor=actor, contact=contact)
    return found


def customer_setting_save(*, customer: str, update_hours: int | None, actor: Actor) -> CustomerSetting:
    """How often the customer expects to hear how its orders stand (hours; None: the default)."""
    permissions.check(actor, "portal.contacts")
    if update_hours is not None and not 1 <= update_hours <= 720:
        raise ValidationFailed("invalid", _("Enter a whole number of hours from 1 to 720."),
                               problems=[Problem("invalid", _("Enter a whole number of hours from 1 to 720."),
                                                 field="update_hours")])
    cust = customer_in_scope(customer, actor)
    with transaction.atomic():
        row, _created = CustomerSetting.objects.select_for_update().get_or_create(customer=cust)
        before = row.update_hours
        row.update_hours, row.updated_at = update_hours, clock.now()
        row.save()
        append_event(subject_type="portal_setting", subject_id=cust.pk, action=events.CUSTOMER_SETTING_SAVED,
                     actor=actor, changes={"update_hours": [before, update_hours]} if before != update_hours else {},
                     data={"customer": cust.code})
    return row
