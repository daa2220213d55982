"""Intake set-up API (mounted at /api/intake beside ``intake.api``): channels with their webhook
secrets, mapping versions and a trial of a mapping against a payload, customer aliases, e-mail
files and master data. The JSON twin of the set-up pages (``web.views.intake_setup``).

Every path here has two or more segments, so none collides with a channel's webhook
(``POST /api/intake/{channel}``); channel codes that would are refused when a channel is made.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import ConfigDict, Field

from orderhub.catalog.imports import master_import
from orderhub.catalog.models import Customer
from orderhub.catalog.services import customer_save
from orderhub.core.errors import NotFound, Problem, ValidationFailed
from orderhub.core.http.auth import requires
from orderhub.core.http.schemas import ERRORS, Line

from . import selectors
from .api import MessageDetailOut
from .models import Channel, ConfigVersion
from .services import channels as channel_services
from .services.config import current_config
from .services.upload import email_upload
from .spec import CODE_RE
from .trial import mapping_trial

router = Router(tags=["intake set-up"])
STRICT = ConfigDict(extra="forbid")


class ChannelOut(Schema):
    code: str
    name: str
    format: str | None = Field(description="json (webhooks and .json files), csv or xlsx; null without a mapping")
    takes_webhooks: bool
    has_secret: bool
    is_active: bool
    window_seconds: int
    mapping_version: int | None
    webhook_url: str


class ChannelCreateIn(Schema):
    model_config = STRICT

    name: Line = Field(min_length=1, max_length=100)
    based_on: Line = Field(min_length=1, max_length=32,
                           description="a shipped template or an existing channel whose mapping the new one starts from")
    window_seconds: int = Field(default=300, ge=1, le=86400)


class ChannelPatchIn(Schema):
    model_config = STRICT

    name: Line | None = Field(default=None, min_length=1, max_length=100)
    window_seconds: int | None = Field(default=None, ge=1, le=86400)
    is_active: bool | None = None


class ChannelCreatedOut(ChannelOut):
    secret: str = Field(description="the webhook secret, shown this once (empty for file channels)")


class ChannelSecretOut(Schema):
    code: str
    secret: str = Field(description="the new webhook secret, shown this once; the old one no longer works")


class VersionOut(Schema):
    version: int
    name: str
    is_current: bool
    created_at: datetime
    created_by: str
    note: str
    spec: dict[str, Any]


class TrialIn(Schema):
    model_config = STRICT

    spec: dict[str, Any] | None = Field(default=None, description="a mapping to try; default: the current one")
    payload: str | None = Field(default=None, max_length=2_000_000, description="a JSON body or CSV text")
    payload_base64: str | None = Field(default=None, max_length=2_800_000, description="a file's bytes (xlsx)")


class TrialOut(Schema):
    format: str
    records: int
    shown: int
    unreadable: str | None
    items: list[dict[str, Any]]


class AliasIn(Schema):
    model_config = STRICT

    value: Line = Field(max_length=200)
    channel: Line = Field(default="", max_length=32, description="empty: every channel")


class AliasesIn(Schema):
    model_config = STRICT

    aliases: list[AliasIn] = Field(max_length=200)
    wechat_openid: Line | None = Field(default=None, max_length=64,
                                       description="the customer's WeChat openid; omitted: unchanged, \"\": none")


class AliasOut(Schema):
    value: str
    channel: str


class AliasesOut(Schema):
    customer: str
    wechat_openid: str
    aliases: list[AliasOut]


class MasterOut(Schema):
    customers: int
    products: int
    errors: list[dict[str, Any]]


def _channel_out(request, ch: Channel) -> dict[str, Any]:
    version = current_config("mapping", ch.code)
    fmt = None
    if version is not None:
        fmt = ConfigVersion.objects.values_list("spec__format", flat=True).get(pk=version.pk)
    return {"code": ch.code, "name": ch.name, "format": fmt, "takes_webhooks": fmt == "json" and bool(ch.secret) and ch.is_active,
            "has_secret": bool(ch.secret), "is_active": ch.is_active, "window_seconds": ch.window_seconds,
            "mapping_version": version.version if version else None,
            "webhook_url": request.build_absolute_uri(f"/api/intake/{ch.code}")}


def _channel(code: str) -> Channel:
    ch = Channel.objects.filter(code=code).first() if re.match(CODE_RE, code) else None
    if ch is None:
        raise NotFound("unknown_channel", _("Unknown channel '%(code)s'.") % {"code": code})
    return ch


@router.get("/channels", auth=requires("intake.view"), response={200: list[ChannelOut], **ERRORS})
def list_channels(request):
    """Every channel with its mapping's format and whether it takes signed webhooks now."""
    return [_channel_out(request, ch) for ch in Channel.objects.order_by("code")]


@router.post("/channels/{code}", auth=requires("intake.configure"), response={201: ChannelCreatedOut, **ERRORS})
def create_channel(request, code: str, payload: ChannelCreateIn):
    """A new channel whose mapping starts as a copy of `based_on`. A JSON channel takes signed
    webhooks at once: its generated secret is in this answer and never shown again (rotate it to
    get a new one)."""
    ch, secret = channel_services.channel_create(code=code, name=payload.name, based_on=payload.based_on,
                                                 window_seconds=payload.window_seconds, actor=request.actor)
    return Status(201, {**_channel_out(request, ch), "secret": secret})


@router.patch("/channels/{code}", auth=requires("intake.configure"), response={200: ChannelOut, **ERRORS})
def change_channel(request, code: str, payload: ChannelPatchIn):
    """Rename a channel, change its replay window, stop or restart its webhooks."""
    _channel(code)
    ch = channel_services.channel_save(code=code, actor=request.actor, name=payload.name,
                                       window_seconds=payload.window_seconds, is_active=payload.is_active)
    return _channel_out(request, ch)


@router.post("/channels/{code}/secret", auth=requires("intake.configure"), response={200: ChannelSecretOut, **ERRORS})
def rotate_secret(request, code: str):
    """A new webhook secret, shown this once; the old one stops working at once."""
    return {"code": code, "secret": channel_services.channel_secret_rotate(code=code, actor=request.actor)}


@router.get("/mappings/{code}/versions", auth=requires("intake.view"), response={200: list[VersionOut], **ERRORS})
def mapping_versions(request, code: str):
    """A channel's mapping versions, newest first, with who saved each and when (save a new one
    with `PUT /api/intake/config`)."""
    rows = list(ConfigVersion.objects.filter(kind=ConfigVersion.Kind.MAPPING, code=code).order_by("-version")[:100])
    if not rows:
        raise NotFound("unknown_channel", _("Channel '%(channel)s' has no mapping.") % {"channel": code})
    return [{"version": v.version, "name": v.name, "is_current": v.is_current, "created_at": v.created_at,
             "created_by": v.created_by, "note": v.note, "spec": v.spec} for v in rows]


@router.post("/mappings/{code}/trial", auth=requires("intake.configure"), response={200: TrialOut, **ERRORS})
def try_mapping(request, code: str, payload: TrialIn):
    """Read a payload with a mapping (the current one, or `spec` before saving it) and answer
    the orders it would make, each field's source and what would be refused. Nothing is stored."""
    if payload.spec is None:
        version = current_config("mapping", code)
        if version is None:
            raise NotFound("unknown_channel", _("Channel '%(channel)s' has no mapping.") % {"channel": code})
        spec = ConfigVersion.objects.get(pk=version.pk).spec
    else:
        spec = payload.spec
    if payload.payload_base64 is not None:
        try:
            body = base64.b64decode(payload.payload_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("invalid", _("Not valid base64."),
                                   problems=[Problem("invalid", _("Not valid base64."), field="payload_base64")]) from None
    elif payload.payload is not None:
        body = payload.payload.encode(spec.get("encoding") or "utf-8", errors="replace") \
            if spec.get("encoding") in ("gbk", "gb18030") else payload.payload.encode("utf-8")
    else:
        raise ValidationFailed("invalid", _("Give a payload to try."),
                               problems=[Problem("required", _("Give a payload to try."), field="payload")])
    return mapping_trial(spec=spec, payload=body, channel=code)


def _aliases_out(code: str) -> dict[str, Any]:
    customer = Customer.objects.filter(code=code).first()
    if customer is None:
        raise NotFound("unknown_customer", _("Unknown customer '%(code)s'.") % {"code": code})
    return {"customer": code, "wechat_openid": customer.wechat_openid,
            "aliases": [{"value": a.value, "channel": a.channel} for a in channel_services.customer_aliases(code)]}


@router.get("/customers/{code}/aliases", auth=requires("intake.view"), response={200: AliasesOut, **ERRORS})
def get_aliases(request, code: str):
    """How channels name a customer: its WeChat openid and the names channels use for it
    (marketplace member or company names; empty channel: any channel)."""
    return _aliases_out(code)


@router.put("/customers/{code}/aliases", auth=requires("intake.configure"), response={200: AliasesOut, **ERRORS})
def put_aliases(request, code: str, payload: AliasesIn):
    """Replace a customer's aliases with this list (and set its openid when given); an alias
    another customer holds is refused (422 naming it)."""
    _aliases_out(code)
    with transaction.atomic():
        if payload.wechat_openid is not None:
            customer_save(code=code, data={"wechat_openid": payload.wechat_openid.strip()}, actor=request.actor)
        channel_services.customer_aliases_set(customer=code, aliases=[a.dict() for a in payload.aliases],
                                              actor=request.actor)
    return _aliases_out(code)


@router.post("/uploads/email", auth=requires("intake.import"), response={201: MessageDetailOut, **ERRORS})
def upload_email(request, file: File[UploadedFile]):
    """An e-mail saved as .eml, read as if it had arrived: its attachments go through their
    routes (a channel's mapping, or OCR into a draft to confirm)."""
    msg = email_upload(filename=file.name or "", content=file.read(), actor=request.actor,
                       source=request.META.get("REMOTE_ADDR") or "")
    return Status(201, selectors.message_detail(msg.pk, actor=request.actor))


@router.post("/master-data/import", auth=requires("intake.configure"), response={200: MasterOut, **ERRORS})
def import_master(request, customers: UploadedFile = File(None), products: UploadedFile = File(None)):  # noqa: B008
    """Customers and products from CSV (columns as in the samples' `master/` folder), each row
    created or updated and audited; refused rows are named with their row and field."""
    if customers is None and products is None:
        raise ValidationFailed("invalid", _("Give customers.csv, products.csv or both."),
                               problems=[Problem("required", _("Give customers.csv, products.csv or both."),
                                                 field="customers")])
    return master_import(actor=request.actor, customers=customers.read() if customers else None,
                         products=products.read() if products else None)
