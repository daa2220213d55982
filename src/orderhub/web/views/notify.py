"""Notification pages: the in-app inbox (unread badge in the top nav), dead letters with
re-send, channel endpoints, message templates and the delivery settings for administrators.
Reads go through ``notify.selectors``, writes through ``notify.services`` and ``notify.policy``.

An endpoint's secret settings are never shown again once saved: its form shows the settings
that may be shown as JSON and, for each secret, "已设置（保存后不再显示）" with an empty input
that keeps the saved value unless a new one is typed (and a box to clear an optional one)."""

from __future__ import annotations

import json
from datetime import date, time, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from orderhub.core.errors import DomainError
from orderhub.core.roles import ROLES
from orderhub.notify import policy, selectors
from orderhub.notify.defaults import DEFAULT_TEMPLATES
from orderhub.notify.models import (
    PERSONAL_CHANNELS,
    ContactProfile,
    DeliveryChannel,
    Endpoint,
    Message,
    MessageTemplate,
)
from orderhub.notify.services import (
    endpoint_save,
    inbox_mark_read,
    message_resend,
    profile_save,
    template_save,
)

from .common import actor_for, field_errors, refused, requires

# what a message template may use, with what each is (shown on the template page)
TEMPLATE_VALUES = [
    ("{{ order.number }}", gettext_lazy("order number")),
    ("{{ order.customer }}", gettext_lazy("customer")),
    ("{{ stage_name }}", gettext_lazy("stage name")),
    ("{{ due_at|date:'Y-m-d H:i' }}", gettext_lazy("stage deadline")),
    ("{{ order.required_date|date:'Y-m-d' }}", gettext_lazy("required date")),
    ("{{ order.total }}", gettext_lazy("order amount")),
    ("{{ message }}", gettext_lazy("the alert's own text")),
    ("{{ title }}", gettext_lazy("the alert's title")),
]

# --------------------------------------------------------------------------- inbox


INBOX_PAGE_SIZE = 30


def _day_label(day: date, today: date) -> str:
    if day == today:
        return _("Today")
    if day == today - timedelta(days=1):
        return _("Yesterday")
    return formats.date_format(day, "Y-m-d l")


def inbox_groups(items: list[Message], *, by: str, today: date) -> list[dict]:
    """One page of messages in groups: by local day (newest first), or by order (the order with
    the newest message first; messages without an order last)."""
    groups: dict[object, dict] = {}
    for m in items:
        if by == "order":
            key = m.order_id or 0
            label = m.order.number if m.order_id else _("Not about one order")
        else:
            key = timezone.localtime(m.created_at).date()
            label = _day_label(key, today)
        g = groups.setdefault(key, {"label": label, "order": m.order if by == "order" else None,
                                    "items": [], "unread": 0})
        g["items"].append(m)
        g["unread"] += 0 if m.read_at else 1
    out = list(groups.values())
    if by == "order":
        out.sort(key=lambda g: g["order"] is None)   # stable: newest-first order kept
    return out


@requires("notify.inbox")
def inbox(request):
    unread_only = request.GET.get("unread") == "1"
    by = "order" if request.GET.get("group") == "order" else "day"
    page = Paginator(selectors.inbox_queryset(request.user, unread_only=unread_only),
                     INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    items = selectors.with_text(page.object_list)
    return render(request, "web/notify/inbox.html", {
        "page": page, "groups": inbox_groups(items, by=by, today=timezone.localdate()),
        "group_by": by, "unread_only": unread_only, "unread": selectors.unread_count(request.user),
    })


@requires("notify.inbox")
def unread_badge(request):
    """The nav badge, refreshed by htmx."""
    return render(request, "web/notify/_badge.html", {"nav_unread": selectors.unread_count(request.user)})


@requires("notify.inbox")
@require_POST
def inbox_read(request):
    ids = None
    if request.POST.get("id", "").isdecimal():  # isdigit() takes "²", which int() refuses
        ids = [int(request.POST["id"])]
    inbox_mark_read(actor=actor_for(request), ids=ids)
    if request.headers.get("HX-Request") and ids:
        m = selectors.message_for_display(ids[0], user=request.user)
        if m is None:
            raise Http404
        resp = render(request, "web/notify/_item.html", {"m": m})
        resp["HX-Trigger"] = "notify-read"     # the badge refreshes itself
        return resp
    return redirect("web:notify_inbox")


@requires("notify.inbox")
def my_settings(request):
    """The signed-in user's contact details, preferred channels and quiet hours."""
    prof = ContactProfile.objects.filter(user=request.user).first()
    errors: dict[str, list[str]] = {}
    form = {"mobile": prof.mobile if prof else "", "dingtalk_id": prof.dingtalk_id if prof else "",
            "wecom_id": prof.wecom_id if prof else "", "channels": prof.channels if prof else [],
            "quiet_start": prof.quiet_start.strftime("%H:%M") if prof and prof.quiet_start else "",
            "quiet_end": prof.quiet_end.strftime("%H:%M") if prof and prof.quiet_end else ""}
    if request.method == "POST":
        p = request.POST
        form = {k: p.get(k, "").strip() for k in ("mobile", "dingtalk_id", "wecom_id", "quiet_start", "quiet_end")}
        form["channels"] = p.getlist("channels")
        qs, qe = _time(form["quiet_start"], "quiet_start", errors), _time(form["quiet_end"], "quiet_end", errors)
        if not errors:
            try:
                profile_save(user_id=request.user.pk, actor=actor_for(request), mobile=form["mobile"],
                             dingtalk_id=form["dingtalk_id"], wecom_id=form["wecom_id"],
                             channels=form["channels"], quiet_start=qs, quiet_end=qe)
            except DomainError as e:
                errors = field_errors(e)
            else:
                messages.success(request, _("Your notification settings are saved."))
                return redirect("web:notify_me")
    return render(request, "web/notify/me.html", {
        "form": form, "errors": errors, "email": request.user.email,
        "personal": [c for c in DeliveryChannel.choices if c[0] in PERSONAL_CHANNELS],
    }, status=400 if errors else 200)


# --------------------------------------------------------------------------- dead letters

@requires("notify.manage")
def dead_letters(request):
    return render(request, "web/notify/dead.html", {"items": list(selectors.dead_letters())})


@requires("notify.manage")
@require_POST
def resend(request, pk: int):
    try:
        message_resend(message=pk, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, "web:notify_dead")
    messages.success(request, _("Message %(id)s is queued again.") % {"id": pk})
    return redirect("web:notify_dead")


# --------------------------------------------------------------------------- settings

@requires("notify.manage")
def settings_home(request):
    if request.method == "POST":     # the delivery settings (the only form posted here)
        try:
            policy.delivery_settings_save(allow_private_targets=request.POST.get("allow_private_targets") == "1",
                                          actor=actor_for(request))
        except DomainError as e:
            return refused(request, e, "web:notify_settings")
        messages.success(request, _("Delivery settings saved."))
        return redirect("web:notify_settings")
    tpls = {(t.event, t.channel): t for t in MessageTemplate.objects.all()}
    events = sorted({e for e, *_rest in DEFAULT_TEMPLATES} | {e for e, _c in tpls})
    return render(request, "web/notify/settings.html", {
        "delivery": policy.delivery_settings(),
        "endpoints": Endpoint.objects.order_by("kind", "code"),
        "templates": sorted(tpls.values(), key=lambda t: (t.event, t.channel)), "events": events,
        "channels": [c for c in DeliveryChannel.choices if c[0] != DeliveryChannel.INAPP],
        "dead": Message.objects.filter(status=Message.Status.DEAD).count(),
    })


def _time(value: str, field: str, errors: dict) -> time | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        errors.setdefault(field, []).append(_("Enter a time like 22:00."))
        return None


@requires("notify.manage")
def endpoint_edit(request, code: str | None = None):
    ep = Endpoint.objects.filter(code=code).first() if code else None
    if code and ep is None:
        raise Http404
    errors: dict[str, list[str]] = {}
    form = {"code": ep.code if ep else "", "name": ep.name if ep else "",
            "kind": ep.kind if ep else request.GET.get("kind", DeliveryChannel.WEBHOOK),
            "roles": ep.roles if ep else [], "is_active": ep.is_active if ep else True,
            "quiet_start": ep.quiet_start.strftime("%H:%M") if ep and ep.quiet_start else "",
            "quiet_end": ep.quiet_end.strftime("%H:%M") if ep and ep.quiet_end else "",
            "timeout_seconds": ep.timeout_seconds if ep else 5.0,
            # only what may be shown: the secrets are listed apart, never their values
            "config": json.dumps(ep.config if ep else {}, ensure_ascii=False, indent=2)}
    secrets = selectors.endpoint_secrets(ep) if ep else []
    clear: list[str] = []
    if request.method == "POST":
        p = request.POST
        form.update({k: p.get(k, "") for k in ("code", "name", "kind", "quiet_start", "quiet_end",
                                                 "timeout_seconds", "config")})
        form["roles"] = p.getlist("roles")
        form["is_active"] = p.get("is_active") == "1"
        clear = p.getlist("clear_secret")
        try:
            config = json.loads(form["config"] or "{}")
            if not isinstance(config, dict):
                raise ValueError(_("a JSON object {…} is expected"))
        except ValueError as e:
            errors["config"] = [_("The settings are not valid JSON: %(error)s") % {"error": e}]
            config = None
        else:   # a secret typed anew replaces the saved one; an empty input keeps it
            for s in secrets:
                typed = p.get(f"secret:{s['path']}", "")
                if typed.strip():
                    key, _dot, name = s["path"].partition(".")
                    if name:
                        config.setdefault(key, {})[name] = typed.strip()
                    else:
                        config[key] = typed.strip()
        qs, qe = _time(form["quiet_start"], "quiet_start", errors), _time(form["quiet_end"], "quiet_end", errors)
        try:
            timeout = float(form["timeout_seconds"] or 5)
        except ValueError:
            errors["timeout_seconds"] = [_("Enter a number.")]
            timeout = 5.0
        if not errors:
            try:
                saved = endpoint_save(code=ep.code if ep else form["code"].strip(), name=form["name"].strip(),
                                      kind=form["kind"], config=config, roles=form["roles"],
                                      is_active=form["is_active"], quiet_start=qs, quiet_end=qe,
                                      timeout_seconds=timeout, clear_secrets=clear, actor=actor_for(request))
            except DomainError as e:
                errors = field_errors(e)
                for k in list(errors):     # config.url → shown under the settings box
                    if k.startswith("config."):
                        errors.setdefault("config", []).extend(errors.pop(k))
            else:
                messages.success(request, _("Endpoint %(code)s saved.") % {"code": saved.code})
                return redirect("web:notify_settings")
    return render(request, "web/notify/endpoint.html", {
        "ep": ep, "form": form, "errors": errors, "roles": ROLES.items(), "secrets": secrets, "clear": clear,
        "channels": [c for c in DeliveryChannel.choices if c[0] != DeliveryChannel.INAPP],
    }, status=400 if errors else 200)


@requires("notify.manage")
def template_edit(request, event: str, channel: str = ""):
    channel = "" if channel == "all" else channel
    t = MessageTemplate.objects.filter(event=event, channel=channel).first()
    errors: dict[str, list[str]] = {}
    default = next(((subj, body) for e, c, subj, body in DEFAULT_TEMPLATES if (e, c) == (event, channel)),
                   ("", ""))
    form = {"subject": t.subject if t else default[0], "body": t.body if t else default[1]}
    if request.method == "POST":
        form = {"subject": request.POST.get("subject", ""), "body": request.POST.get("body", "")}
        try:
            template_save(event=event, channel=channel, subject=form["subject"], body=form["body"],
                          actor=actor_for(request))
        except DomainError as e:
            errors = field_errors(e)
        else:
            messages.success(request, _("Template saved."))
            return redirect("web:notify_settings")
    return render(request, "web/notify/template.html", {
        "event": event, "channel": channel, "t": t, "form": form, "errors": errors,
        "template_values": TEMPLATE_VALUES,
    }, status=400 if errors else 200)


def badge_count(request) -> int:
    """For the top nav (one indexed count); 0 for anonymous requests."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return selectors.unread_count(user)

