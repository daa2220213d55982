"""Intake set-up pages: the channels (create one, its webhook secret shown once and rotatable),
a channel's mapping (view, edit, try against a pasted payload or a file before saving, versions
with who and when), a customer's aliases, and master data from CSV. The JSON twin is
``intake.api_setup``."""

from __future__ import annotations

import re
from datetime import datetime

import yaml
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from orderhub.catalog.imports import master_import
from orderhub.catalog.models import Customer
from orderhub.catalog.services import customer_save
from orderhub.core.errors import DomainError
from orderhub.core.text import load_yaml, yaml_fault
from orderhub.intake.models import Channel, ConfigVersion
from orderhub.intake.services.channels import (
    channel_create,
    channel_secret_rotate,
    customer_aliases_set,
    mapping_templates,
)
from orderhub.intake.services.config import config_save, current_config
from orderhub.intake.trial import mapping_trial
from orderhub.orders.models import Urgency

from .common import actor_for, field_errors, requires

FORMAT_LABELS = {"json": gettext_lazy("JSON (webhooks and .json files)"), "csv": gettext_lazy("CSV file"),
                 "xlsx": gettext_lazy("Excel file (.xlsx)")}
FIELD_LABELS = {
    "external_ref": gettext_lazy("Channel order number"), "customer": gettext_lazy("Customer"),
    "required_date": gettext_lazy("Required date"), "promised_date": gettext_lazy("Promised date"),
    "urgency": gettext_lazy("Urgency"), "remarks": gettext_lazy("Remarks"), "workflow": gettext_lazy("Workflow"),
    "owner": gettext_lazy("Owner"), "tags": gettext_lazy("Tags"), "paid_at": gettext_lazy("Paid at"),
    "ordered_at": gettext_lazy("Ordered at"), "total": gettext_lazy("Source total"),
    "seller_memo": gettext_lazy("Seller memo"), "receiver": gettext_lazy("Receiver"), "phone": gettext_lazy("Phone"),
    "address": gettext_lazy("Address"), "buyer": gettext_lazy("Buyer"), "sku": gettext_lazy("Product"),
    "qty": gettext_lazy("Quantity"), "unit": gettext_lazy("Unit"), "unit_price": gettext_lazy("Unit price"),
    "amount": gettext_lazy("Amount"),
}
URGENCY_LABELS = dict(Urgency.choices)
MAX_TRIAL_BYTES = 5 * 1024 * 1024


def _channels() -> list[dict]:
    versions = {v.code: v for v in ConfigVersion.objects.filter(kind=ConfigVersion.Kind.MAPPING, is_current=True)}
    out = []
    for ch in Channel.objects.order_by("code"):
        v = versions.get(ch.code)
        fmt = v.spec.get("format") if v else None
        out.append({"code": ch.code, "name": ch.name, "format": FORMAT_LABELS.get(fmt, ""), "is_json": fmt == "json",
                    "has_secret": bool(ch.secret), "is_active": ch.is_active, "version": v})
    listed = {c["code"] for c in out}
    for code, v in sorted(versions.items()):  # a mapping saved through the API before its channel row
        if code not in listed:
            fmt = v.spec.get("format")
            out.append({"code": code, "name": v.name, "format": FORMAT_LABELS.get(fmt, ""), "is_json": fmt == "json",
                        "has_secret": False, "is_active": True, "version": v})
    return out


def _bases() -> list[tuple[str, str]]:
    """What a new channel's mapping may start from: the shipped templates, then the channels."""
    out = [(code, _("template: %(name)s") % {"name": t.get("name", code)})
           for code, t in mapping_templates().items()]
    seen = {c for c, _n in out}
    out += [(v.code, _("channel: %(name)s") % {"name": v.name})
            for v in ConfigVersion.objects.filter(kind=ConfigVersion.Kind.MAPPING, is_current=True).order_by("code")
            if v.code not in seen]
    return out


def _webhook_url(request, code: str) -> str:
    return request.build_absolute_uri(f"/api/intake/{code}")


@requires("intake.configure")
def channels(request):
    """The channels, and a form that makes one: its webhook secret is on the answer page only."""
    errors: dict[str, list[str]] = {}
    values = {"code": "", "name": "", "based_on": "miniprogram"}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        try:
            ch, secret = channel_create(code=values["code"], name=values["name"], based_on=values["based_on"],
                                        actor=actor_for(request))
        except DomainError as e:
            errors = field_errors(e)
            if not e.problems:
                errors["general"] = [e.message]
        else:
            return _secret_page(request, ch, secret, created=True)
    return render(request, "web/intake/channels.html", {
        "channels": _channels(), "bases": _bases(), "errors": errors, "values": values,
    }, status=400 if errors else 200)


@requires("intake.configure")
@require_POST
def channel_secret(request, code: str):
    try:
        secret = channel_secret_rotate(code=code, actor=actor_for(request))
    except DomainError as e:
        raise Http404(e.message) from e
    return _secret_page(request, Channel.objects.get(code=code), secret, created=False)  # made by the rotation


def _secret_page(request, channel: Channel, secret: str, *, created: bool):
    """The one page that shows a secret: never cached, never shown again."""
    resp = render(request, "web/intake/channel_secret.html", {
        "channel": channel, "secret": secret, "url": _webhook_url(request, channel.code), "created": created})
    resp["Cache-Control"] = "no-store"
    return resp


def _yaml(spec: dict) -> str:
    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=110)


def _parse(text: str, code: str, errors: list[dict]) -> dict | None:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        where, message = yaml_fault(e)
        errors.append({"field": where, "message": message})
        return None
    if not isinstance(data, dict):
        errors.append({"field": "", "message": _("The mapping must be a set of fields (key: value).")})
        return None
    if data.get("code") != code:
        errors.append({"field": "code", "message": _("The code must stay %(code)s.") % {"code": code}})
        return None
    return data


def _trial_view(result: dict) -> dict:
    """The trial's items with Chinese field names and each value beside its source."""
    items = []
    for it in result["items"]:
        order = it["order"] or {}
        fields = [{"label": FIELD_LABELS.get(f["field"], f["field"]), "source": f["source"], "raw": f["raw"],
                   "constant": f["constant"], "value": _shown_value(f["field"], order, it["meta"])}
                  for f in it["source_fields"]]
        lines = []
        for i, ln in enumerate(it["source_lines"]):
            made = (order.get("lines") or [])[i] if i < len(order.get("lines") or []) else {}
            lines.append({"where": ln["where"], "row": ln["row"], "fields": [
                {"label": FIELD_LABELS.get(f["field"], f["field"]), "source": f["source"], "raw": f["raw"],
                 "value": made.get(f["field"])} for f in ln["fields"]]})
        problems = []
        for p in it["problems"]:  # the field once, as code, then what is wrong with it
            field, message = p.get("field") or "", p.get("message") or ""
            if field and message.startswith(f"{field}: "):
                message = message[len(field) + 2:]
            problems.append({"field": field, "message": message})
        items.append({**it, "problems": problems, "fields": fields, "lines": lines,
                      "urgency_label": URGENCY_LABELS.get(order.get("urgency"), "")})
    return {**result, "items": items}


def _shown_value(field: str, order: dict, meta: dict):
    if field in order:
        value = order[field]
        if field == "urgency":
            return URGENCY_LABELS.get(value, value)
        return value
    value = meta.get(field)
    if field in ("paid_at", "ordered_at") and isinstance(value, str):
        try:  # a moment in the business time zone, as people read it (never ISO text)
            return date_format(timezone.localtime(datetime.fromisoformat(value)), "Y-m-d H:i:s")
        except ValueError:
            return value
    return value


@requires("intake.configure")
def mapping(request, code: str):
    """A channel's mapping: view it (any version), edit it, try it against a payload before
    saving; saving makes a new version."""
    current = current_config("mapping", code)
    if current is None:
        raise Http404(code)
    current = ConfigVersion.objects.get(pk=current.pk)
    channel = Channel.objects.filter(code=code).first()
    shown = current
    if re.fullmatch(r"[0-9]{1,9}", request.GET.get("v", "")):
        shown = ConfigVersion.objects.filter(kind=ConfigVersion.Kind.MAPPING, code=code,
                                             version=int(request.GET["v"])).first() or current
    errors: list[dict] = []
    text = _yaml(shown.spec)
    trial = None
    pasted = ""
    if request.method == "POST":
        text = request.POST.get("definition", "")
        pasted = request.POST.get("payload", "")
        data = _parse(text, code, errors)
        if data is not None and request.POST.get("action") == "trial":
            upload = request.FILES.get("file")
            if upload is not None and upload.size > MAX_TRIAL_BYTES:
                errors.append({"field": "", "message": _("The file is larger than %(n)d bytes.")
                               % {"n": MAX_TRIAL_BYTES}})
            elif upload is None and not pasted.strip():
                errors.append({"field": "", "message": _("Paste a payload or choose a file to try the mapping on.")})
            else:
                body = upload.read() if upload is not None else pasted.encode(
                    data.get("encoding") if data.get("encoding") in ("gbk", "gb18030") else "utf-8", errors="replace")
                try:
                    trial = _trial_view(mapping_trial(spec=data, payload=body, channel=code))
                except DomainError as e:
                    errors = [{"field": p.field or "", "message": str(p.message)} for p in e.problems] or \
                        [{"field": "", "message": e.message}]
        elif data is not None:
            try:
                saved = config_save(data=data, actor=actor_for(request), note=request.POST.get("note", ""))
            except DomainError as e:
                errors = [{"field": p.field or "", "message": str(p.message)} for p in e.problems] or \
                    [{"field": "", "message": e.message}]
            else:
                if saved.pk == current.pk:
                    messages.info(request, _("Nothing changed: the mapping is already this."))
                else:
                    messages.success(request, _("Saved as version %(v)d. Messages are read with it from now on; "
                                                "failed ones can be replayed.") % {"v": saved.version})
                return redirect("web:intake_mapping", code=code)
    versions = ConfigVersion.objects.filter(kind=ConfigVersion.Kind.MAPPING, code=code).order_by("-version")[:30]
    return render(request, "web/intake/mapping.html", {
        "current": current, "shown": shown, "channel": channel, "text": text, "errors": errors,
        "versions": versions, "trial": trial, "pasted": pasted,
        "format": FORMAT_LABELS.get(current.spec.get("format"), ""), "is_json": current.spec.get("format") == "json",
        "url": _webhook_url(request, code),
    }, status=400 if errors else 200)


@requires("intake.configure")
@require_POST
def customer_aliases(request, code: str):
    """A customer's WeChat openid and the names channels use for it, saved from the customer page."""
    customer = Customer.objects.filter(code=code).first()
    if customer is None:
        raise Http404(code)
    back = reverse("web:config_customer", args=[code])
    rows = [{"channel": c.strip(), "value": v.strip()}
            for c, v in zip(request.POST.getlist("alias_channel"), request.POST.getlist("alias_value"), strict=False)]
    openid = request.POST.get("wechat_openid", "").strip()
    try:
        with transaction.atomic():  # the openid and the names together, or neither
            if openid != customer.wechat_openid:
                customer_save(code=code, data={"wechat_openid": openid}, actor=actor_for(request))
            customer_aliases_set(customer=code, aliases=rows, actor=actor_for(request))
    except DomainError as e:
        messages.error(request, e.message)
        for p in e.problems:
            if str(p.message) != e.message:
                messages.error(request, str(p.message))
        return redirect(back + "#aliases")
    messages.success(request, _("Aliases of %(code)s saved.") % {"code": code})
    return redirect(back + "#aliases")


@requires("intake.configure")
@require_POST
def master_data(request):
    """customers.csv and products.csv uploaded from the channels page."""
    files = {k: request.FILES.get(k) for k in ("customers", "products")}
    if not any(files.values()):
        messages.error(request, _("Choose customers.csv, products.csv or both."))
        return redirect("web:intake_channels")
    try:
        done = master_import(actor=actor_for(request), **{k: f.read() for k, f in files.items() if f})
    except DomainError as e:
        messages.error(request, e.message)
        return redirect("web:intake_channels")
    messages.success(request, _("Master data: %(c)d customers and %(p)d products created or updated.")
                     % {"c": done["customers"], "p": done["products"]})
    for err in done["errors"][:20]:
        messages.error(request, _("%(file)s row %(row)s %(field)s: %(message)s") % {
            "file": f"{err['file']}.csv", "row": err["row"] or "", "field": FIELD_LABELS.get(err["field"], err["field"]),
            "message": err["message"]})
    return redirect("web:intake_channels")
