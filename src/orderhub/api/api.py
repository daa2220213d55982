"""The JSON API assembly: one NinjaAPI with every app's router (each app's ``api.py``), the
error handlers and the OpenAPI. Nothing else lives here: the routes are in the apps, and what
they share (authentication, capabilities, field types, the error shape) in
``orderhub.core.http``."""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation
from http import HTTPStatus

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.db import DataError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer

from orderhub.catalog.api import router as catalog_router
from orderhub.core.api import router as roles_router
from orderhub.core.errors import DomainError
from orderhub.core.http.auth import BearerToken, SessionAuth, declare_capabilities
from orderhub.core.http.schemas import ERROR_DESCRIPTIONS
from orderhub.finance.api import router as finance_router
from orderhub.floor.api import router as tickets_router
from orderhub.intake.api import router as intake_router
from orderhub.intake.api_setup import router as intake_setup_router
from orderhub.kpis.api import router as kpis_router
from orderhub.notify.api import router as notify_router
from orderhub.orders.api import router as orders_router
from orderhub.orders.api import workflow_checks as workflow_checks_router
from orderhub.orders.breakers_api import router as breakers_router
from orderhub.orders.calendar_api import router as calendar_router
from orderhub.orders.change_requests_api import router as change_requests_router
from orderhub.orders.shortages_api import router as shortages_router
from orderhub.planning.api import router as planning_router
from orderhub.portal.api import router as portal_router
from orderhub.portal.api import staff_messages_router
from orderhub.portal.api_coei import router as portal_coei_router
from orderhub.purchasing.api import router as purchasing_router
from orderhub.rules.api import router as rules_router
from orderhub.shipping.api import order_router as shipping_order_router
from orderhub.shipping.api import router as shipping_router
from orderhub.shipping.disruptions_api import router as disruptions_router
from orderhub.workflow.api import router as workflows_router

from .portal_orders import router as portal_orders_router

#: Operation ids are published (clients generate code from them) and ninja derives them from the
#: handler's module: the routes that moved into their apps keep the ids they were published with.
_PUBLISHED_MODULE = {
    "orderhub.orders.api": "orderhub.api.api",
    "orderhub.workflow.api": "orderhub.api.api",
    "orderhub.core.api": "orderhub.api.roles",
}


class DecimalJSONParser(Parser):
    """JSON with exact decimals: 12.30 stays Decimal('12.30'), never a float."""

    def parse_body(self, request):
        return json.loads(request.body, parse_float=Decimal)


logger = logging.getLogger(__name__)


class Utf8Renderer(JSONRenderer):
    """JSON in UTF-8 as it reads (苏州…), not ``\\u82cf…`` escapes: the body is UTF-8 anyway
    and its Content-Type says so."""

    json_dumps_params = {"ensure_ascii": False}  # noqa: RUF012 (ninja's own class attribute)


class OrderHubAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI says what each refusal means (``schemas.ERROR_DESCRIPTIONS``)
    wherever an operation leaves the bare HTTP phrase, and whose operation ids stay as
    published."""

    def get_openapi_operation_id(self, operation) -> str:
        module = operation.view_func.__module__
        return (_PUBLISHED_MODULE.get(module, module) + "_" + operation.view_func.__name__).replace(".", "_")

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    text = ERROR_DESCRIPTIONS.get(int(status))
                    if text and response.get("description") == HTTPStatus(int(status)).phrase:
                        response["description"] = text
        return schema


api = OrderHubAPI(
    title="OrderHub API",
    version="1",
    description="订单中枢 JSON API. Systems use `Authorization: Bearer <token>` "
                "(`orderhub token create`); the web UI uses its session.",
    auth=[BearerToken(), SessionAuth()],
    parser=DecimalJSONParser(),
    renderer=Utf8Renderer(),
    urls_namespace="api",
)


def _field(loc) -> str:
    parts = [p for p in loc if p not in ("body", "data", "query", "path", "payload", "filters")]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# pydantic's English messages for the usual faults, in the user's language (ctx fills them in)
_PYDANTIC_MESSAGES = {
    "missing": gettext_lazy("This field is required."),
    "extra_forbidden": gettext_lazy("Unknown field."),
    "string_too_short": gettext_lazy("Must be at least %(min_length)s characters long."),
    "string_too_long": gettext_lazy("Must be at most %(max_length)s characters long."),
    "string_pattern_mismatch": gettext_lazy("Must match the pattern %(pattern)s."),
    "string_type": gettext_lazy("Must be text."),
    "literal_error": gettext_lazy("Must be one of: %(expected)s."),
    "too_short": gettext_lazy("Must have at least %(min_length)s items."),
    "too_long": gettext_lazy("Must have at most %(max_length)s items."),
}


def _message(error: dict) -> str:
    kind = error.get("type", "")
    if kind == "value_error":  # our own validators: their message as raised
        ctx_error = (error.get("ctx") or {}).get("error")
        return str(ctx_error) if ctx_error is not None else error.get("msg", "")
    template = _PYDANTIC_MESSAGES.get(kind)
    if template is None:
        return error.get("msg", "")
    try:
        return str(template) % (error.get("ctx") or {})
    except (KeyError, TypeError, ValueError):
        return error.get("msg", "")


@api.exception_handler(NinjaValidationError)
def _validation(request, exc):
    errors = [{"code": e.get("type", "invalid"), "field": _field(e.get("loc", ())),
               "message": _message(e)} for e in exc.errors]
    first = errors[0] if errors else {"field": "", "message": ""}
    return api.create_response(request, {
        "code": "invalid",
        "message": _("Invalid input at %(field)s: %(msg)s") % {"field": first["field"] or "body",
                                                               "msg": first["message"]},
        "errors": errors}, status=422)


@api.exception_handler(DomainError)
def _domain(request, exc):
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return api.create_response(request, {"code": "too_large", "message": _("Request body is too large.")},
                               status=413)


@api.exception_handler(DataError)
@api.exception_handler(InvalidOperation)
def _out_of_range(request, exc):
    # A value the database cannot hold (e.g. a quantity × price beyond the amount column) that
    # validation let through. Write handlers run the service and the read-back in one
    # transaction, so it has rolled back (PostgreSQL refuses the write; SQLite stores it and
    # fails on reading it back): answer 422 rather than 500, and log it.
    logger.warning("refused a value the database cannot store: %s", exc, exc_info=exc)
    return api.create_response(request, {
        "code": "out_of_range",
        "message": _("A value is out of range and cannot be stored (an amount may have at most "
                     "14 digits before the decimal point).")}, status=422)


@api.exception_handler(ObjectDoesNotExist)
def _missing(request, exc):
    # A row named by the request vanished between lookup and use (or a service looked it up
    # with .get()): the thing does not exist, which is a 404, never a 500.
    logger.warning("a lookup found nothing: %s", exc)
    return api.create_response(request, {"code": "not_found", "message": _("Not found.")}, status=404)


@api.exception_handler(AuthenticationError)
def _unauth(request, exc):
    return api.create_response(request, {"code": "unauthorized",
                                         "message": _("Authentication required: a bearer token or a session.")},
                               status=401)


@api.exception_handler(HttpError)
def _http(request, exc):
    code = "malformed" if exc.status_code == 400 else "error"
    message = _("Malformed JSON body.") if exc.status_code == 400 else str(exc)
    return api.create_response(request, {"code": code, "message": message}, status=exc.status_code)


# Every app's router, in the order the OpenAPI lists them.
ROUTERS = {
    "/orders": orders_router,
    "/workflows": workflows_router,
    "/catalog": catalog_router,
    "/intake": intake_router,
    "/notify": notify_router,
    "/roles": roles_router,
    "/calendar": calendar_router,
    "/rules": rules_router,
    "/tickets": tickets_router,
    "/purchasing": purchasing_router,
    "/planning": planning_router,
    "/shortages": shortages_router,
    "/breakers": breakers_router,
    "/shipping": shipping_router,
    "/portal": portal_router,
    "/finance": finance_router,
    "/kpis": kpis_router,
}
# intake's set-up routes first: GET /intake/channels must not reach the webhook's POST /intake/{channel}
api.add_router("/intake", intake_setup_router)
for prefix, router in ROUTERS.items():
    api.add_router(prefix, router)
api.add_router("/orders", change_requests_router)  # /orders/{number}/change-requests (orders app)
api.add_router("/workflows", workflow_checks_router)  # POST /workflows/{code}/guard-test (orders app)
api.add_router("/orders", shipping_order_router)  # /orders/{number}/shipments (shipping app)
api.add_router("/orders", staff_messages_router)  # /orders/{number}/messages (portal app)
api.add_router("/portal", portal_coei_router)  # survey and COEI (portal app)
api.add_router("/portal", portal_orders_router)  # the customer places, reorders, asks for changes
api.add_router("/shipping", disruptions_router)  # /shipping/disruptions (shipping app: the carrier breaker)
declare_capabilities(intake_setup_router, workflow_checks_router, change_requests_router, shipping_order_router,
                     staff_messages_router, portal_coei_router, portal_orders_router, disruptions_router,
                     *ROUTERS.values())  # each operation's capability in the OpenAPI (x-orderhub-capability)
