"""The rule editor's actions as form rows (one per action: its type and the settings of that
type), beside the YAML list kept as the advanced view. Rows are named ``a-<k>-<setting>``; a
refused rule's fault at ``actions[1](hold).reason`` is shown under that row's reason."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orderhub.core.roles import ROLES
from orderhub.notify.models import DeliveryChannel, Severity
from orderhub.rules.spec import EVENT_SYMBOLS, ORDER_PEOPLE
from orderhub.workflow.labels import EVENT_LABELS, symbol_choices

ACTION_TYPES = ("notify", "add_tag", "set_urgency", "hold", "open_ticket", "webhook")
URGENCIES = (("red", gettext_lazy("red")), ("yellow", gettext_lazy("yellow")), ("green", gettext_lazy("green")))
MAX_ACTIONS = 20
_ACTION_RE = re.compile(r"^actions\[(\d+)\](?:\([^)]*\))?(?:\.(\w+))?")


def _row(k: int, a: dict[str, Any]) -> dict[str, Any]:
    hours = a.get("business_hours")
    return {"k": k, "type": a.get("type", ""), "roles": list(a.get("roles") or []),
            "users": ", ".join(a.get("users") or []), "people": list(a.get("people") or []),
            "customer": bool(a.get("customer")),
            "channels": list(a.get("channels") or []), "severity": a.get("severity") or "info",
            "message": a.get("message") or "", "tag": a.get("tag") or "", "value": a.get("value") or "",
            "reason": a.get("reason") or "", "title": a.get("title") or "", "kind": a.get("kind") or "",
            "owner_role": a.get("owner_role") or "", "business_hours": "" if hours is None else str(hours),
            "endpoint": a.get("endpoint") or "", "channel_order": ",".join(a.get("channels") or []),
            "errors": {}}


def action_rows(actions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    rows = [_row(k, a) for k, a in enumerate(actions or []) if isinstance(a, dict)]
    return [*rows, {**_row(len(rows), {}), "blank": True}]


def rows_from_post(post) -> list[dict[str, Any]]:
    raw = post.get("a-count", "0")
    n = min(int(raw), MAX_ACTIONS) if raw.isdecimal() else 0
    rows = []
    for k in range(n):
        p = f"a-{k}-"
        row = _row(k, {})
        row.update({key: post.get(p + key, "").strip() for key in
                    ("type", "users", "severity", "message", "tag", "value", "reason", "title", "kind",
                     "owner_role", "business_hours", "endpoint", "channel_order")})
        row.update(roles=post.getlist(p + "roles"), channels=post.getlist(p + "channels"),
                   people=[x for x in post.getlist(p + "people") if x in ORDER_PEOPLE],
                   customer=post.get(p + "customer") == "1", delete=post.get(p + "delete") == "1")
        row["blank"] = not row["type"]
        rows.append(row)
    return rows


def action_data(row: dict[str, Any]) -> dict[str, Any]:
    """One row as the action the rule stores (settings of other types left out)."""
    t = row["type"]
    out: dict[str, Any] = {"type": t}
    if t == "notify":
        out.update(roles=row["roles"], users=[u.strip() for u in row["users"].split(",") if u.strip()],
                   customer=row["customer"], severity=row["severity"] or "info", message=row["message"])
        if row["people"]:
            out["people"] = row["people"]
        if row["channels"]:   # in the order the rule had them, so an untouched row stays the same
            first = [c for c in row["channel_order"].split(",") if c in row["channels"]]
            out["channels"] = first + [c for c in row["channels"] if c not in first]
    elif t == "add_tag":
        out["tag"] = row["tag"]
    elif t == "set_urgency":
        out["value"] = row["value"]
    elif t == "hold":
        out["reason"] = row["reason"]
    elif t == "open_ticket":
        out.update(title=row["title"], kind=row["kind"] or "exception")
        if row["owner_role"]:
            out["owner_role"] = row["owner_role"]
        if row["business_hours"]:
            try:
                out["business_hours"] = Decimal(row["business_hours"])
            except InvalidOperation:
                row["errors"]["business_hours"] = [_("Enter a number.")]
    elif t == "webhook":
        out["endpoint"] = row["endpoint"]
    return out


def actions_from_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    kept = [r for r in rows if not r.get("blank") and not r.get("delete")]
    actions = [action_data(r) for r in kept]
    return actions, kept, sum(1 for r in kept if r["errors"])


def place_action_problems(problems, kept: list[dict[str, Any]], rest: dict[str, list[str]]) -> None:
    """Each fault under its row's setting; others by the rule's own field (``rest``)."""
    for p in problems:
        m = _ACTION_RE.match(p.field or "")
        if m and int(m.group(1)) < len(kept):
            kept[int(m.group(1))]["errors"].setdefault(m.group(2) or "type", []).append(str(p.message))
            continue
        field = (p.field or "general").split("[")[0].split(".")[0]
        rest.setdefault(field, []).append(str(p.message))


# the rule's own fields: the id of their input (the anchor of the top list) and their label
_FIELDS = {"name": ("f-name", gettext_lazy("Name")), "description": ("f-desc", gettext_lazy("Description")),
           "trigger": ("f-trigger", gettext_lazy("Trigger")),
           "trigger_arg": ("f-arg", gettext_lazy("Trigger detail (field, stage or tag)")),
           "interval_minutes": ("f-int", gettext_lazy("Every (minutes)")),
           "condition": ("f-cond", gettext_lazy("Condition (empty: always)")),
           "actions": ("f-actions", gettext_lazy("Actions")), "enabled": ("f-name", gettext_lazy("Enabled"))}
# an action row's settings: the id suffix of their input and their label
_SETTINGS = {"type": ("type", gettext_lazy("Action")), "kind": ("type", gettext_lazy("Action")),
             "roles": ("roles", gettext_lazy("Tell these roles")),
             "people": ("people", gettext_lazy("Tell the order's own people")),
             "users": ("users", gettext_lazy("And these users (login names, comma separated)")),
             "customer": ("customer", gettext_lazy("Also tell the customer")),
             "channels": ("channels", gettext_lazy("Through (empty: each person's own settings)")),
             "severity": ("severity", gettext_lazy("Severity")), "message": ("message", gettext_lazy("Message")),
             "tag": ("tag", gettext_lazy("Tag")), "value": ("value", gettext_lazy("Urgency")),
             "reason": ("reason", gettext_lazy("Reason for the hold")),
             "title": ("title", gettext_lazy("Ticket title")), "owner_role": ("owner_role", gettext_lazy("Owner role")),
             "business_hours": ("hours", gettext_lazy("Answer within (working hours)")),
             "endpoint": ("endpoint", gettext_lazy("Endpoint code"))}


def fault_list(errors: dict[str, list[str]], rows: list[dict[str, Any]], *, yaml_open: bool = False
               ) -> list[dict[str, Any]]:
    """Every fault for the box at the top, in the page's order: the field's label linking to its
    input, and the message (the same one shown under the field). The actions' own faults link
    to the YAML list when it is open, else to the action rows."""
    out: list[dict[str, Any]] = []
    fields = {**_FIELDS, "actions": ("f-actions" if yaml_open else "f-action-rows", _FIELDS["actions"][1])}
    not_saved = _("Not saved.")
    for m in errors.get("general", []):
        if m != not_saved:   # the box's own title says so
            out.append({"anchor": "", "label": "", "message": m})
    for key, (anchor, label) in fields.items():
        out += [{"anchor": anchor, "label": str(label), "message": m} for m in errors.get(key, [])]
    for n, row in enumerate(rows, start=1):
        for setting, msgs in (row.get("errors") or {}).items():
            suffix, label = _SETTINGS.get(setting, ("type", gettext_lazy("Action")))
            name = _("Action %(n)s") % {"n": n}
            out += [{"anchor": f"a-{row['k']}-{suffix}", "label": f"{name} · {label}", "message": m} for m in msgs]
    known = {"general", *_FIELDS}
    for key, msgs in errors.items():   # a field the form does not show
        if key not in known:
            out += [{"anchor": "", "label": "", "message": m} for m in msgs]
    return out


def condition_picker():
    """The options of the condition's field picker: the order's names, then what just happened."""
    order = symbol_choices()
    event = [{"name": n, "label": str(EVENT_LABELS.get(n, n)), "type": ""} for n in EVENT_SYMBOLS]

    def group(label, symbols):
        return format_html('<optgroup label="{}">{}</optgroup>', label, format_html_join(
            "", '<option value="{}">{}</option>', ((s["name"], s["label"]) for s in symbols)))
    return format_html('<option value="">{}</option>{}{}', _("Insert a field…"), group(_("The order"), order),
                       group(_("What just happened"), event))


def choices() -> dict[str, Any]:
    return {"action_types": ACTION_TYPES, "roles": list(ROLES.items()), "channels": DeliveryChannel.choices,
            "order_people": list(ORDER_PEOPLE.items()),
            "severities": Severity.choices, "urgencies": URGENCIES, "picker": condition_picker()}
