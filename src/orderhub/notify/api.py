"""Notification API (mounted at /api/notify): channel endpoints and the delivery settings, for
administrators (``notify.change_endpoint``); every signed-in person's own inbox (list, mark read). Thin handlers: parse, call one service or selector.

Secret settings (robot URLs with their tokens, signing secrets, passwords, credential headers)
are written here and never returned: an endpoint lists them under ``secrets`` as
"已设置（保存后不再显示）" with a hint for URLs; a PUT that leaves one out (or empty) keeps it,
``clear_secrets`` removes optional ones.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from orderhub.core.errors import NotFound, PermissionDenied
from orderhub.core.http.auth import requires
from orderhub.core.http.schemas import ERRORS as API_ERRORS
from orderhub.core.http.schemas import STRICT, ErrorOut, Text

from . import policy, selectors
from .models import Endpoint
from .services import endpoint_save, inbox_mark_read

router = Router(tags=["notify"])
# 503: a stored secret cannot be decrypted with the configured keys
ERRORS = {**API_ERRORS, 503: ErrorOut}


class SecretOut(Schema):
    path: str = Field(description="e.g. `url`, `secret`, `headers.Authorization`")
    name: str = Field(description="what people call it, e.g. 签名密钥")
    field: str
    status: str = Field(description="`set`, or `unreadable` when the configured keys cannot decrypt it")
    label: str
    hint: str = Field(description="for URLs: scheme, host and path, the query masked")
    clearable: bool


class EndpointOut(Schema):
    code: str
    name: str
    kind: str
    kind_label: str
    is_active: bool
    roles: list[str]
    config: dict[str, Any] = Field(description="the settings that may be shown (never a secret)")
    secrets: list[SecretOut]
    quiet_start: time | None
    quiet_end: time | None
    timeout_seconds: float
    updated_at: datetime


class EndpointIn(Schema):
    model_config = STRICT

    name: Text = Field(min_length=1, max_length=200)
    kind: Text = Field(description="dingtalk | wecom | webhook | sms | email")
    config: dict[str, Any] = Field(default_factory=dict, description=(
        "the channel's settings; secret ones left out or empty keep their saved value"))
    clear_secrets: list[Text] = Field(default_factory=list, max_length=50,
                                      description="paths of optional secrets to remove, e.g. `secret`")
    roles: list[Text] = Field(default_factory=list, max_length=50)
    is_active: bool = True
    quiet_start: time | None = None
    quiet_end: time | None = None
    timeout_seconds: float = Field(default=5.0, ge=0.1, le=60)


class DeliverySettingsOut(Schema):
    allow_private_targets: bool = Field(description=(
        "endpoints may call loopback, private, link-local … addresses (intranet installs)"))
    updated_at: datetime | None
    updated_by: str


class DeliverySettingsIn(Schema):
    model_config = STRICT

    allow_private_targets: bool


def _plain(value: Any) -> Any:
    """JSON numbers arrive as Decimal (exact parser): settings are stored as plain JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _endpoint(code: str) -> Endpoint:
    ep = Endpoint.objects.filter(code=code).first()
    if ep is None:
        raise NotFound("not_found", _("No endpoint %(code)s.") % {"code": code})
    return ep


@router.get("/endpoints", auth=requires("notify.manage"), response={200: list[EndpointOut], **ERRORS})
def list_endpoints(request):
    return [selectors.endpoint_view(ep) for ep in Endpoint.objects.order_by("kind", "code")]


@router.get("/endpoints/{code}", auth=requires("notify.manage"), response={200: EndpointOut, **ERRORS})
def get_endpoint(request, code: Text):
    return selectors.endpoint_view(_endpoint(code))


@router.put("/endpoints/{code}", auth=requires("notify.manage"), response={200: EndpointOut, **ERRORS})
def save_endpoint(request, code: Text, payload: EndpointIn):
    """Create or change an endpoint. Refused (422 naming the setting, e.g. `config.url`): an
    invalid setting, or a URL / SMTP host that resolves to a loopback, private, link-local,
    multicast or unspecified address while private targets are not allowed."""
    ep = endpoint_save(code=code, name=payload.name, kind=payload.kind, config=_plain(payload.config),
                       clear_secrets=payload.clear_secrets, roles=payload.roles, is_active=payload.is_active,
                       quiet_start=payload.quiet_start, quiet_end=payload.quiet_end,
                       timeout_seconds=payload.timeout_seconds, actor=request.actor)
    return selectors.endpoint_view(ep)


def _settings_out() -> dict[str, Any]:
    s = policy.delivery_settings()
    return {"allow_private_targets": s.allow_private_targets, "updated_at": s.updated_at,
            "updated_by": s.updated_by}


@router.get("/settings", auth=requires("notify.manage"), response={200: DeliverySettingsOut, **ERRORS})
def get_settings(request):
    return _settings_out()


@router.put("/settings", auth=requires("notify.manage"), response={200: DeliverySettingsOut, **ERRORS})
def save_settings(request, payload: DeliverySettingsIn):
    """Allow or refuse private network targets (audited)."""
    policy.delivery_settings_save(allow_private_targets=payload.allow_private_targets, actor=request.actor)
    return _settings_out()


# --------------------------------------------------------------------------- the caller's inbox

INBOX_MAX_PAGE_SIZE = 200


class InboxItemOut(Schema):
    id: int
    event: str = Field(description="event type, e.g. `stage.overdue`")
    severity: str = Field(description="`info` or `red`")
    subject: str
    body: str = Field(description="Markdown, as the web inbox renders it")
    order: str | None = Field(description="the order number the message is about, if any")
    created_at: datetime
    read_at: datetime | None


class InboxPageOut(Schema):
    count: int = Field(description="messages matching the filter")
    unread: int = Field(description="all unread messages of the caller")
    page: int
    pages: int
    items: list[InboxItemOut]


class InboxReadIn(Schema):
    model_config = STRICT

    ids: list[int] | None = Field(default=None, max_length=1000, description=(
        "the messages to mark read; leave out (or null) to mark every unread message read"))


class InboxReadOut(Schema):
    marked: int
    unread: int


def _inbox_user(request):
    if request.actor.user is None:
        raise PermissionDenied("forbidden", _("Only people have an inbox."))
    return request.actor.user


@router.get("/inbox", auth=requires("notify.inbox"), response={200: InboxPageOut, **ERRORS})
def inbox(request, unread: bool = False, page: int = Query(1, ge=1),
          page_size: int = Query(50, ge=1, le=INBOX_MAX_PAGE_SIZE)):
    """The caller's in-app messages, newest first, a page at a time."""
    user = _inbox_user(request)
    pager = Paginator(selectors.inbox_queryset(user, unread_only=unread), page_size)
    current = pager.get_page(page)
    items = selectors.with_text(current.object_list)
    return {"count": pager.count, "unread": selectors.unread_count(user), "page": current.number,
            "pages": pager.num_pages,
            "items": [{"id": m.pk, "event": m.event, "severity": m.severity, "subject": m.subject,
                       "body": m.body, "order": m.order.number if m.order_id else None,
                       "created_at": m.created_at, "read_at": m.read_at} for m in items]}


@router.post("/inbox/read", auth=requires("notify.inbox"), response={200: InboxReadOut, **ERRORS})
def inbox_read(request, payload: InboxReadIn):
    """Mark the caller's messages read: the ones named, or all of them."""
    user = _inbox_user(request)
    marked = inbox_mark_read(actor=request.actor, ids=payload.ids)
    return {"marked": marked, "unread": selectors.unread_count(user)}
