"""Rules (list, editor, firing log) and tickets (list, page, resolve). Saves go through
``rules.services.rule_save`` and ``orders.services.ticket_*``; a refused rule shows each fault
next to its field."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import yaml
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core import permissions
from orderhub.core.errors import DomainError
from orderhub.core.roles import ROLES
from orderhub.core.text import load_yaml
from orderhub.orders import services
from orderhub.orders.models import Ticket
from orderhub.orders.selectors import visible
from orderhub.rules.models import Rule, RuleFiring, Trigger
from orderhub.rules.services import rule_data, rule_save

from .. import labels
from . import floor, rule_form
from .common import actor_for, refused, requires, visible_or_404

PAGE_SIZE = 50

EXAMPLE_ACTIONS = """- type: notify
  roles: [planning_supervisor, production_director]
  channels: [dingtalk, inapp]
  severity: red
  message: 急单大单, 请立即排产
"""


@requires("rules.view")
def rule_list(request):
    rules = Rule.objects.annotate(n_firings=Count("firings")).order_by("name")
    return render(request, "web/rules/list.html", {
        "rules": rules, "may_edit": permissions.allowed(actor_for(request), "rules.manage")})


def _form_errors(error: DomainError) -> dict[str, list[str]]:
    """Problems by the form field they belong to (``actions[1](hold).reason`` → actions)."""
    out: dict[str, list[str]] = {}
    for p in error.problems or []:
        field = (p.field or "general").split("[")[0].split(".")[0]
        out.setdefault(field, []).append(str(p.message))
    if not out:
        out["general"] = [error.message]
    return out


# shown under the condition and the actions (the names a rule may use, with their labels)
CONDITION_NAMES = ("total", "qty", "line_count", "credit_limit", "credit_available", "unpaid", "hours_to_due",
                   "urgency", "channel", "customer", "customer_tier", "stage", "tags", "from_stage", "to_stage",
                   "overdue_stage", "changed_fields", "added_tags", "held")
ACTION_KEYS = (("notify", "roles, users, people, customer, channels, severity, message"), ("add_tag", "tag"),
               ("set_urgency", "value"), ("hold", "reason"),
               ("open_ticket", "title, kind, owner_role, business_hours"), ("webhook", "endpoint"))


@requires("rules.manage")
def rule_edit(request, pk: int | None = None):
    rule = get_object_or_404(Rule, pk=pk) if pk is not None else None
    values = rule_data(rule) if rule else {"name": "", "description": "", "enabled": True,
                                           "trigger": Trigger.ORDER_CREATED, "trigger_arg": "",
                                           "interval_minutes": None, "condition": "", "actions": None}
    actions_text = (yaml.safe_dump(values["actions"], allow_unicode=True, sort_keys=False)
                    if values["actions"] else EXAMPLE_ACTIONS)
    errors: dict[str, list[str]] = {}
    rows = rule_form.action_rows(values["actions"])
    yaml_rows = False   # the actions came from the form rows (not the YAML list)
    if request.method == "POST":
        p = request.POST
        actions_text = p.get("actions", "")
        values = {"name": p.get("name", "").strip(), "description": p.get("description", "").strip(),
                  "enabled": p.get("enabled") == "on", "trigger": p.get("trigger", ""),
                  "trigger_arg": p.get("trigger_arg", "").strip(), "condition": p.get("condition", "").strip(),
                  "interval_minutes": None}
        interval = p.get("interval_minutes", "").strip()
        if interval:
            try:
                values["interval_minutes"] = int(interval)
            except ValueError:
                errors["interval_minutes"] = [_("Enter a whole number of minutes.")]
        use_rows = yaml_rows = "a-count" in p and p.get("mode") != "yaml"
        kept: list[dict] = []
        if use_rows:   # the action rows; the YAML list is the advanced view's
            rows = rule_form.rows_from_post(p)
            values["actions"], kept, bad = rule_form.actions_from_rows(rows)
            if bad:
                errors.setdefault("general", []).append(_("Not saved."))
        else:
            try:
                values["actions"] = load_yaml(actions_text) or []
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                errors["actions"] = [_("Not valid YAML (line %(line)s): %(problem)s") % {
                    "line": mark.line + 1 if mark else "?", "problem": getattr(e, "problem", str(e))}]
        if not errors:
            try:
                data = json.loads(json.dumps(values, default=_plain_number))
                saved = rule_save(data=data, actor=actor_for(request), rule=rule)
            except DomainError as e:
                if use_rows:
                    rule_form.place_action_problems(e.problems or [], kept, errors)
                    errors = errors or {"general": [e.message]}
                else:
                    errors = _form_errors(e)
            else:
                messages.success(request, _("Rule %(name)s saved.") % {"name": saved.name})
                return redirect("web:rule_edit", pk=saved.pk)
        if use_rows:
            if not rows or not rows[-1].get("blank"):
                rows.append({**rule_form.action_rows([])[0], "k": len(rows)})
            if isinstance(values.get("actions"), list):
                actions_text = yaml.safe_dump(json.loads(json.dumps(values["actions"], default=_plain_number)),
                                              allow_unicode=True, sort_keys=False)
        else:
            rows = rule_form.action_rows(values["actions"] if isinstance(values.get("actions"), list) else [])
    return render(request, "web/rules/edit.html", {
        "rule": rule, "values": values, "actions_text": actions_text, "errors": errors,
        "triggers": Trigger.choices, "roles": list(ROLES.items()),
        "condition_names": CONDITION_NAMES, "action_keys": ACTION_KEYS, "rows": rows,
        "yaml_open": "actions" in errors and not yaml_rows, **rule_form.choices(),
        "faults": rule_form.fault_list(errors, rows, yaml_open="actions" in errors and not yaml_rows)
        if errors else [],
    }, status=400 if errors else 200)


def _plain_number(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


@requires("rules.view")
def firing_log(request):
    qs = visible(RuleFiring.objects.select_related("rule", "order"), actor_for(request), via="order__") \
        .order_by("-at", "-pk")
    rule_id = request.GET.get("rule", "")
    if rule_id.isdecimal():  # isdigit() takes "²", which int() refuses
        qs = qs.filter(rule_id=int(rule_id))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/rules/firings.html", {
        "page": page, "firings": page.object_list, "rules": Rule.objects.order_by("name"),
        "rule_id": rule_id, "stage_names": labels.stage_names_everywhere()})


@requires("tickets.view")
def ticket_list(request):
    actor = actor_for(request)
    status = request.GET.get("status", "open")
    qs = visible(Ticket.objects.select_related("order"), actor, via="order__").order_by("due_at", "-opened_at")
    if status in Ticket.Status.values:
        qs = qs.filter(status=status)
    mine = request.GET.get("mine") == "1"
    if mine:
        qs = qs.filter(owner_role__in=actor.roles)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/rules/tickets.html", {
        "page": page, "tickets": page.object_list, "status": status, "mine": mine})


def _ticket_or_404(request, pk: int) -> Ticket:
    return get_object_or_404(visible(Ticket.objects.select_related("order"), actor_for(request), via="order__"),
                             pk=pk)


@requires("tickets.view")
def ticket_detail(request, pk: int):
    ticket = _ticket_or_404(request, pk)
    actor = actor_for(request)
    steps = list(ticket.escalation_steps.order_by("fire_at", "seq"))
    return render(request, "web/rules/ticket.html", {
        "ticket": ticket, "steps": steps, **floor.floor_context(ticket, actor),
        "may_resolve": ticket.status == Ticket.Status.OPEN and actor.may_act_for_role(ticket.owner_role)})


@requires("tickets.resolve")
@require_POST
def ticket_resolve(request, pk: int):
    _ticket_or_404(request, pk)
    back = reverse("web:ticket", args=[pk])
    if floor.is_floor(pk):   # a shop-floor ticket closes with its cause and fix
        error = floor.resolve_floor(request, pk)
        if error:
            messages.error(request, error)
            return redirect(back)
        messages.success(request, _("Ticket resolved."))
        return redirect(back)
    try:
        services.ticket_resolve(ticket=pk, resolution=request.POST.get("resolution", ""),
                                actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Ticket resolved."))
    return redirect(back)


@requires("tickets.open")
@require_POST
def ticket_open(request, number: str):
    visible_or_404(request, number)
    back = reverse("web:order_detail", args=[number])
    hours = None
    raw = request.POST.get("business_hours", "").strip()
    if raw:
        try:
            hours = Decimal(raw)
            if not hours.is_finite() or hours <= 0:
                raise InvalidOperation
        except InvalidOperation:
            messages.error(request, _("Enter a positive number of business hours."))
            return redirect(back)
    try:
        ticket = services.ticket_open(order=number, kind=request.POST.get("kind", "exception") or "exception",
                                      title=request.POST.get("title", ""), body=request.POST.get("body", ""),
                                      owner_role=request.POST.get("owner_role") or None,
                                      business_hours=hours, actor=actor_for(request))
    except DomainError as e:
        return refused(request, e, back)
    messages.success(request, _("Ticket opened."))
    return redirect("web:ticket", pk=ticket.pk)
