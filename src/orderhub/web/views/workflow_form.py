"""The workflow editor: a form per stage (name, owner role, deadline, next stages, guards with
field pickers and a test against a real order), the stages drawn as a diagram, and the YAML
definition as the advanced view. Both save through ``workflow.services.workflow_save`` (a new
audited version); a refused definition shows each fault next to its field.

Form fields are named by row: ``s-<i>-name``, ``s-<i>-g-<j>-expr``. A stage's ``next`` and the
workflow's ``initial`` name rows (``s-<i>``), so a renamed or a new stage is linked in one save.
Whatever the form does not show (colours, entry actions, escalation ladders, tickets) is carried
over from the current version unchanged; the YAML view edits those.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orderhub.core.errors import DomainError
from orderhub.core.roles import ROLES
from orderhub.core.text import load_yaml, text_fault, yaml_fault
from orderhub.orders.guardcheck import guards_test
from orderhub.orders.models import Order
from orderhub.workflow.labels import SYMBOL_LABELS, symbol_choices
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import workflow_save

from ..diagram import workflow_svg
from .common import actor_for, requires

STAGE_KEYS = ("code", "name", "owner_role", "color", "deadline", "due_soon", "guards", "on_enter",
              "escalation", "next", "final")
DEADLINE_KINDS = ("none", "business_hours", "hours")
MAX_ROWS = 60
MAX_HOURS = Decimal("10000")


def _num(value: Any) -> str:
    if value is None:
        return ""
    d = Decimal(str(value))
    return format(d.normalize(), "f") if d == d.to_integral() else format(d, "f")


# --------------------------------------------------------------------------- spec → rows

def _guard_row(j: int, g: dict[str, Any]) -> dict[str, Any]:
    return {"j": j, "code": g.get("code", ""), "kind": "kitting" if g.get("check") else "expr",
            "expr": g.get("expr") or "", "scope": g.get("scope", "order"), "message": g.get("message") or "",
            "errors": {}}


def _blank_guard(j: int) -> dict[str, Any]:
    return {**_guard_row(j, {}), "blank": True}


def rows_from_spec(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage plus a blank one for a new stage; each with a blank guard row."""
    stages = [s for s in spec.get("stages") or [] if isinstance(s, dict)]
    index = {s.get("code"): i for i, s in enumerate(stages)}
    rows = []
    for i, s in enumerate(stages):
        d = s.get("deadline") or {}
        kind = "business_hours" if d.get("business_hours") is not None else \
            ("hours" if d.get("hours") is not None else "none")
        guards = [_guard_row(j, g) for j, g in enumerate(s.get("guards") or []) if isinstance(g, dict)]
        rows.append({"i": i, "orig": i, "orig_code": s.get("code", ""), "code": s.get("code", ""),
                     "name": s.get("name", ""), "owner_role": s.get("owner_role", ""),
                     "deadline_kind": kind, "deadline": _num(d.get(kind)) if kind != "none" else "",
                     "next": [index[n] for n in s.get("next") or [] if n in index],
                     "final": bool(s.get("final")), "guards": [*guards, _blank_guard(len(guards))],
                     "errors": {}, "extras": [k for k in ("on_enter", "escalation", "due_soon") if s.get(k)]})
    rows.append(_blank_stage(len(stages)))
    return rows


def _blank_stage(i: int) -> dict[str, Any]:
    return {"i": i, "orig": None, "orig_code": "", "code": "", "name": "", "owner_role": "",
            "deadline_kind": "none", "deadline": "", "next": [], "final": False, "guards": [_blank_guard(0)],
            "errors": {}, "extras": [], "new": True}


# --------------------------------------------------------------------------- POST → rows → spec

def _count(post, key: str) -> int:
    raw = post.get(key, "0")
    return min(int(raw), MAX_ROWS) if raw.isdecimal() else 0


def guard_rows_from_post(post, i: int) -> list[dict[str, Any]]:
    p = f"s-{i}-g-"
    out = []
    for j in range(_count(post, f"s-{i}-guards")):
        g = {"j": j, "code": post.get(f"{p}{j}-code", "").strip(), "kind": post.get(f"{p}{j}-kind", "expr"),
             "expr": post.get(f"{p}{j}-expr", "").strip(), "scope": post.get(f"{p}{j}-scope", "order"),
             "message": post.get(f"{p}{j}-message", "").strip(), "errors": {},
             "delete": post.get(f"{p}{j}-delete") == "1"}
        g["blank"] = not (g["code"] or g["expr"] or g["message"] or g["kind"] == "kitting")
        out.append(g)
    return out


def rows_from_post(post) -> list[dict[str, Any]]:
    rows = []
    for i in range(_count(post, "stages")):
        p = f"s-{i}-"
        orig = post.get(f"{p}orig", "")
        rows.append({
            "i": i, "orig": int(orig) if orig.isdecimal() else None, "orig_code": post.get(f"{p}orig_code", ""),
            "code": post.get(f"{p}code", "").strip(), "name": post.get(f"{p}name", "").strip(),
            "owner_role": post.get(f"{p}owner_role", ""), "deadline_kind": post.get(f"{p}deadline_kind", "none"),
            "deadline": post.get(f"{p}deadline", "").strip(),
            "next": [int(v) for v in post.getlist(f"{p}next") if v.isdecimal()],
            "final": post.get(f"{p}final") == "1", "delete": post.get(f"{p}delete") == "1",
            "guards": guard_rows_from_post(post, i), "errors": {}, "extras": [],
            "new": not orig.isdecimal()})
    return rows


def guard_data(g: dict[str, Any]) -> dict[str, Any]:
    if g["kind"] == "kitting":
        out: dict[str, Any] = {"code": g["code"], "check": "kitting"}
    else:
        out = {"code": g["code"], "expr": g["expr"], "scope": g["scope"] if g["scope"] in ("order", "line") else "order",
               "message": g["message"]}
        if out["scope"] == "order":
            del out["scope"]
    return out


def spec_from_rows(base: dict[str, Any], post, rows: list[dict[str, Any]], general: list[dict[str, str]]):
    """(definition, stage row of each built stage, guard rows of each, faults found by the form)."""
    faults = 0
    data = dict(base)
    for key in ("name", "description"):
        value = post.get(key, "").strip()
        if value or key in base:
            data[key] = value
        if fault := text_fault(value):
            general.append({"field": key, "message": fault})
            faults += 1
    kept = [r for r in rows if not r.get("delete") and not (r.get("new") and not r["code"])]
    code_of = {r["i"]: r["code"] for r in kept}
    initial = post.get("initial", "")
    data["initial"] = code_of.get(int(initial), "") if initial.isdecimal() else ""
    base_stages = [s for s in base.get("stages") or [] if isinstance(s, dict)]
    stages, guard_map = [], []
    for r in kept:
        old = base_stages[r["orig"]] if r["orig"] is not None and r["orig"] < len(base_stages) else {}
        st = dict(old)
        st.update(code=r["code"], name=r["name"], owner_role=r["owner_role"])
        st.pop("deadline", None)
        if r["deadline_kind"] in ("business_hours", "hours"):
            try:
                value = Decimal(r["deadline"])
                if not value.is_finite() or value <= 0 or value > MAX_HOURS:
                    raise InvalidOperation
                st["deadline"] = {r["deadline_kind"]: value}
            except InvalidOperation:
                r["errors"]["deadline"] = [_("Enter a number of hours greater than 0 and at most 10000.")]
                faults += 1
        for key in ("code", "name", "owner_role"):
            if fault := text_fault(r[key]):
                r["errors"].setdefault(key, []).append(fault)
                faults += 1
        nexts = [code_of[k] for k in r["next"] if k in code_of]
        if nexts or "next" in old:
            st["next"] = nexts
        else:
            st.pop("next", None)
        if r["final"] or "final" in old:
            st["final"] = r["final"]
        guards = [g for g in r["guards"] if not g.get("delete") and not g.get("blank")]
        for g in guards:
            for key in ("code", "expr", "message", "kind", "scope"):
                if fault := text_fault(g[key]):
                    g["errors"].setdefault(key if key in ("code", "expr", "message") else "general", []).append(fault)
                    faults += 1
        if guards or "guards" in old:
            st["guards"] = [guard_data(g) for g in guards]
        stages.append({k: st[k] for k in STAGE_KEYS if k in st} | {k: v for k, v in st.items() if k not in STAGE_KEYS})
        guard_map.append(guards)
    data["stages"] = stages
    return data, kept, guard_map, faults


_STAGE_RE = re.compile(r"^stages\[(\d+)\](?:\([^)]*\))?(?:\.(.+))?$")
_GUARD_RE = re.compile(r"^guards\[(\d+)\](?:\([^)]*\))?(?:\.(\w+))?")
FORM_FIELDS = {"code", "name", "owner_role", "deadline", "next", "final"}


def place_problems(problems, kept, guard_map, general: list[dict[str, str]]) -> None:
    """Put each fault next to its field (``stages[2](x).guards[0](y).expr`` → that guard's
    expression); what the form does not show goes to the list at the top, path and all."""
    for p in problems:
        where, message = p.field or "", str(p.message)
        m = _STAGE_RE.match(where)
        if m and int(m.group(1)) < len(kept):
            k, rest = int(m.group(1)), m.group(2) or ""
            row = kept[k]
            g = _GUARD_RE.match(rest)
            if g and int(g.group(1)) < len(guard_map[k]):
                guard_map[k][int(g.group(1))]["errors"].setdefault(g.group(2) or "general", []).append(message)
                continue
            head = re.split(r"[.\[]", rest, maxsplit=1)[0]
            if head in FORM_FIELDS:
                row["errors"].setdefault(head, []).append(message)
                continue
            if not rest:
                row["errors"].setdefault("general", []).append(message)
                continue
        general.append({"field": where, "message": message})


# --------------------------------------------------------------------------- the page

def picker_options():
    """The options of every field picker on the page, rendered once (a page has dozens)."""
    def group(label, symbols):
        return format_html('<optgroup label="{}">{}</optgroup>', label, format_html_join(
            "", '<option value="{}">{} ({})</option>', ((s["name"], s["label"], s["type"]) for s in symbols)))
    return format_html('<option value="">{}</option>{}{}', _("Insert a field…"),
                       group(_("The order"), symbol_choices()),
                       group(_("Each line (checked for each line)"), symbol_choices(line=True)[len(SYMBOL_LABELS):]))


def _yaml(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=100)


def _save_yaml(request, code: str, errors: list[dict]) -> Any:
    text = request.POST.get("definition", "")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        where, message = yaml_fault(e)
        errors.append({"field": where, "message": message})
        return None
    if not isinstance(data, dict):
        errors.append({"field": "", "message": _("The definition must be a mapping of fields.")})
    elif data.get("code") != code:
        errors.append({"field": "code", "message": _("The code must stay %(code)s.") % {"code": code}})
    else:
        try:
            return workflow_save(data=data, actor=actor_for(request), note=request.POST.get("note", ""))
        except DomainError as e:
            errors.extend([{"field": p.field or "", "message": str(p.message)} for p in e.problems]
                          or [{"field": "", "message": e.message}])
    return None


@requires("workflow.change")
def workflow_edit(request, code: str):
    current = WorkflowDefinition.objects.filter(code=code, is_current=True).first()
    if current is None:
        raise Http404(code)
    spec = current.spec
    rows = rows_from_spec(spec)
    general: list[dict[str, str]] = []
    yaml_errors: list[dict[str, str]] = []
    text = _yaml(spec)
    header = {"name": spec.get("name", ""), "description": spec.get("description", ""),
              "initial": next((r["i"] for r in rows if r["code"] == spec.get("initial")), None)}
    drawn = spec
    if request.method == "POST" and "definition" in request.POST:
        text = request.POST.get("definition", "")
        wf = _save_yaml(request, code, yaml_errors)
        if wf is not None:
            messages.success(request, _("Saved as version %(v)d; running orders keep their version.") % {"v": wf.version})
            return redirect("web:config_workflow", code=code)
    elif request.method == "POST":
        rows = rows_from_post(request.POST)
        initial = request.POST.get("initial", "")
        header = {"name": request.POST.get("name", ""), "description": request.POST.get("description", ""),
                  "initial": int(initial) if initial.isdecimal() else None}
        data, kept, guard_map, faults = spec_from_rows(spec, request.POST, rows, general)
        drawn = data
        if not faults:
            try:
                wf = workflow_save(data=data, actor=actor_for(request), note=request.POST.get("note", ""))
            except DomainError as e:
                place_problems(e.problems or [], kept, guard_map, general)
                if not e.problems:
                    general.append({"field": "", "message": e.message})
            else:
                messages.success(request, _("Saved as version %(v)d; running orders keep their version.")
                                 % {"v": wf.version})
                return redirect("web:config_workflow", code=code)
        if not any(r.get("new") for r in rows):
            rows.append(_blank_stage(len(rows)))
        for r in rows:
            if not r["guards"] or not r["guards"][-1].get("blank"):
                r["guards"].append(_blank_guard(len(r["guards"])))
    failed = bool(general or yaml_errors or any(r["errors"] or any(g["errors"] for g in r["guards"]) for r in rows))
    if request.method == "POST" and not failed:
        general.append({"field": "", "message": _("Not saved.")})
        failed = True
    versions = WorkflowDefinition.objects.filter(code=code).order_by("-version")[:20]
    probe = list(Order.objects.filter(workflow__code=code, status=Order.Status.OPEN)
                 .order_by("-pk").values_list("number", flat=True)[:15])
    return render(request, "web/config/workflow.html", {
        "current": current, "text": text, "errors": yaml_errors, "general": general, "rows": rows,
        "header": header, "versions": versions, "roles": list(ROLES.items()), "kinds": DEADLINE_KINDS,
        "diagram": workflow_svg(drawn), "picker": picker_options(), "probe_orders": probe,
        "yaml_open": bool(yaml_errors),
    }, status=400 if failed else 200)


@requires("workflow.change")
@require_POST
def workflow_guard_test(request, code: str):
    """The editor's "test against an order": the guards of one stage row (or one of them), as
    typed, tried on the order given (an htmx fragment; ``POST /api/workflows/{code}/guard-test`` is its twin)."""
    post = request.POST
    row, one = post.get("row", ""), post.get("guard", "")
    if not row.isdecimal():
        return render(request, "web/config/_guard_test.html", {"problems": [_("Nothing to test.")]})
    i = int(row)
    guards = [guard_data(g) for g in guard_rows_from_post(post, i)
              if not g.get("delete") and not g.get("blank") and (not one.isdecimal() or g["j"] == int(one))]
    faults = [f for g in guards for v in g.values() if (f := text_fault(v))]
    if faults:
        return render(request, "web/config/_guard_test.html", {"problems": faults[:1]})
    number = post.get("order", "").strip()[:32]
    if not number or text_fault(number):
        return render(request, "web/config/_guard_test.html",
                      {"problems": [_("Enter an order number to test against.")]})
    try:
        result = guards_test(number=number, workflow=code, stage=post.get(f"s-{i}-orig_code", ""),
                             guards=guards, actor=actor_for(request))
    except DomainError as e:
        return render(request, "web/config/_guard_test.html",
                      {"problems": [str(p.message) for p in e.problems] or [e.message]})
    values = [{"name": n, "label": str(SYMBOL_LABELS.get(n, n)), "value": v} for n, v in result.values.items()]
    return render(request, "web/config/_guard_test.html", {"result": result, "values": values})
