"""Portal API, satisfaction and COEI (mounted at /api/portal beside ``portal.api``).

Staff: an order's / a customer's COEI with its parts and the survey (``portal.tracking``, the
order or customer must be in their scope), the survey answers, the COEI settings (read:
``portal.tracking``; change: ``settings.customers``), a customer's expected update interval
(``portal.contacts``). Customers: the survey of one of their orders (cookie), or through the
order's signed survey link (no sign-in)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from orderhub.core.http.auth import ActorRequest, requires
from orderhub.core.http.schemas import ERRORS, Line
from orderhub.orders.models import Order
from orderhub.orders.selectors import get_order, visible

from . import coei, selectors, services, survey
from .api import CUSTOMER, _ctx, _me
from .models import SurveyAnswer

router = Router(tags=["portal"])


class CoeiWeightsOut(Schema):
    notice: int
    updates: int
    delay: int


class SurveyAnswerOut(Schema):
    stars: int
    comment: str
    via: str
    answered_at: datetime
    updated_at: datetime


class OrderCoeiOut(Schema):
    number: str
    coei: float | None = Field(description="0-100; null: no part applicable (or the order is cancelled)")
    notice: float | None = Field(description="share of shipped shipments noticed before shipping (0-1)")
    updates: float | None = Field(description="share of expected update windows with an update (0-1)")
    delay: float | None = Field(description="share of delays explained in time (0-1); null: never late")
    update_hours: int
    delays: int
    delays_explained: int
    weights: CoeiWeightsOut
    survey: SurveyAnswerOut | None


class CustomerCoeiOut(Schema):
    coei: float | None
    scored: int
    notice: float | None
    updates: float | None
    delay: float | None
    surveys: int
    stars: float | None
    update_hours: int
    weights: CoeiWeightsOut


class CoeiConfigIn(Schema):
    weight_notice: int
    weight_updates: int
    weight_delay: int
    update_hours: int = 24
    explain_hours: int = 2
    survey_days: int = 14


class CoeiConfigOut(CoeiConfigIn):
    updated_at: datetime | None
    updated_by: str


class UpdateHoursIn(Schema):
    update_hours: int | None = Field(None, description="hours; null: the COEI settings' default")


class UpdateHoursOut(Schema):
    customer: str
    update_hours: int | None
    effective_hours: int


class SurveyRowOut(SurveyAnswerOut):
    order: str
    customer: str


class SurveyIn(Schema):
    stars: int = Field(description="1 to 5")
    comment: Line = ""


class SurveyStateOut(Schema):
    number: str
    delivered_at: datetime | None
    deadline: datetime | None
    open: bool
    answer: SurveyAnswerOut | None


# --------------------------------------------------------------------------- staff

@router.get("/orders/{number}/coei", auth=requires("portal.tracking"), response={200: OrderCoeiOut, **ERRORS})
def order_coei(request: ActorRequest, number: str) -> dict[str, Any]:
    """The order's COEI (seed 002) with its three parts and the customer's survey answer."""
    return coei.order_coei(get_order(number, actor=request.actor))


@router.get("/customers/{customer}/coei", auth=requires("portal.tracking"), response={200: CustomerCoeiOut, **ERRORS})
def customer_coei(request: ActorRequest, customer: str) -> dict[str, Any]:
    """The customer's COEI (mean over its scored orders) and its survey answers."""
    return coei.customer_coei(services.customer_in_scope(customer, request.actor).pk)


@router.get("/surveys", auth=requires("portal.tracking"), response={200: list[SurveyRowOut], **ERRORS})
def surveys(request: ActorRequest, customer: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Survey answers of the orders you see, newest first (of one customer)."""
    orders = visible(Order.objects.all(), request.actor)
    if customer:
        orders = orders.filter(customer__code=customer.upper())
    rows = (SurveyAnswer.objects.filter(order_id__in=orders.values("pk")).select_related("order", "customer")
            .order_by("-updated_at")[:max(1, min(limit, 500))])
    return [{**coei.survey_dict(a), "order": a.order.number, "customer": a.customer.code} for a in rows]


@router.get("/coei/config", auth=requires("portal.tracking"), response={200: CoeiConfigOut, **ERRORS})
def coei_config(request: ActorRequest) -> dict[str, Any]:
    """The COEI's weights (they add up to 100), default update interval, explanation window and
    how long a survey answer may be changed."""
    return coei.config_dict()


@router.put("/coei/config", auth=requires("settings.customers"), response={200: CoeiConfigOut, **ERRORS})
def coei_config_save(request: ActorRequest, payload: CoeiConfigIn) -> dict[str, Any]:
    """Change the COEI settings (administrators); audited."""
    return coei.config_dict(coei.config_save(actor=request.actor, values=payload.dict()))


@router.put("/customers/{customer}/update-hours", auth=requires("portal.contacts"),
            response={200: UpdateHoursOut, **ERRORS})
def customer_update_hours(request: ActorRequest, customer: str, payload: UpdateHoursIn) -> dict[str, Any]:
    """How often the customer expects to hear how its orders stand (COEI's "updates" part)."""
    row = survey.customer_setting_save(customer=customer, update_hours=payload.update_hours, actor=request.actor)
    return {"customer": row.customer.code, "update_hours": row.update_hours,
            "effective_hours": coei.customer_hours(row.customer_id)}


# --------------------------------------------------------------------------- customers

def _state(order: Order) -> dict[str, Any]:
    return {"number": order.number, **survey.survey_state(order)}


@router.get("/me/orders/{number}/survey", auth=CUSTOMER, response={200: SurveyStateOut, **ERRORS})
def my_survey(request: HttpRequest, number: str) -> dict[str, Any]:
    """The survey of one of your orders: open or not, until when, your answer."""
    return _state(selectors.my_order(_me(request), number))


@router.put("/me/orders/{number}/survey", auth=CUSTOMER, response={200: SurveyStateOut, **ERRORS})
def answer_my_survey(request: HttpRequest, number: str, payload: SurveyIn) -> dict[str, Any]:
    """Answer (or change) the survey of one of your delivered orders: 1-5 stars and a comment."""
    contact = _me(request)
    order = selectors.my_order(contact, number)
    survey.survey_answer(order=order, stars=payload.stars, comment=payload.comment, via="portal", contact=contact,
                         actor=services.contact_actor(contact, _ctx(request)))
    return _state(order)


@router.get("/survey/{token}", auth=None, response={200: SurveyStateOut, **ERRORS})
def link_survey(request: HttpRequest, token: str) -> dict[str, Any]:
    """The survey behind a delivery notice's link (no sign-in; 404 for a wrong token)."""
    return _state(survey.survey_order(token))


@router.put("/survey/{token}", auth=None, response={200: SurveyStateOut, **ERRORS})
def answer_link_survey(request: HttpRequest, token: str, payload: SurveyIn) -> dict[str, Any]:
    """Answer (or change) the survey through its link."""
    order = survey.survey_order(token)
    survey.survey_answer(order=order, stars=payload.stars, comment=payload.comment, via="link",
                         actor=services.visitor_actor(_ctx(request)))
    return _state(order)
