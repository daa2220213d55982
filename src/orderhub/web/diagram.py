"""A workflow's stages and where each leads, drawn as SVG on the server (no script: the page's
CSP allows none inline, and a drawing needs none). Stages are laid out left to right by their
distance from the initial stage; a step forward is a straight arrow, a step back or sideways an
arc below the boxes."""

from __future__ import annotations

from collections import deque
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from orderhub.core.roles import ROLES

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 156, 58, 54, 22, 12
FILL = {"green": "#e6f4ea", "yellow": "#fff4d6", "blue": "#e3eefc", "red": "#fde8e8"}
STROKE = {"green": "#2f7d32", "yellow": "#9a6700", "blue": "#1d4ed8", "red": "#b42318"}


def _layers(stages: list[dict[str, Any]], initial: str) -> dict[str, int]:
    codes = [s.get("code") for s in stages if isinstance(s, dict)]
    nexts = {s.get("code"): [n for n in s.get("next") or [] if n in codes] for s in stages if isinstance(s, dict)}
    layer: dict[str, int] = {}
    if initial in nexts:
        layer[initial] = 0
        todo = deque([initial])
        while todo:
            code = todo.popleft()
            for n in nexts[code]:
                if n not in layer:
                    layer[n] = layer[code] + 1
                    todo.append(n)
    last = max(layer.values(), default=-1)
    for code in codes:   # stages nothing leads to: a column of their own at the end
        if code not in layer:
            layer[code] = last + 1
    return layer


def _deadline(stage: dict[str, Any]) -> str:
    d = stage.get("deadline") or {}
    if d.get("business_hours") is not None:
        return _("%(n)s working hours") % {"n": d["business_hours"]}
    if d.get("hours") is not None:
        return _("%(n)s hours") % {"n": d["hours"]}
    return _("no deadline")


def workflow_svg(spec: dict[str, Any]) -> SafeString:
    """The drawing of ``spec`` (a definition as stored or as being edited)."""
    stages = [s for s in spec.get("stages") or [] if isinstance(s, dict) and s.get("code")]
    if not stages:
        return mark_safe("")
    layer = _layers(stages, spec.get("initial", ""))
    rows: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for s in stages:
        col = layer[s["code"]]
        pos[s["code"]] = (col, rows.get(col, 0))
        rows[col] = rows.get(col, 0) + 1
    n_cols, n_rows = max(layer.values()) + 1, max(rows.values())
    back_room = 40
    width = PAD * 2 + n_cols * BOX_W + (n_cols - 1) * GAP_X
    height = PAD * 2 + n_rows * BOX_H + (n_rows - 1) * GAP_Y + back_room

    def box(code: str) -> tuple[int, int]:
        col, row = pos[code]
        return PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'class="workflow-diagram" role="img" aria-label="{escape(_("Stages and where each leads"))}" '
           f'data-testid="workflow-diagram">',
           '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475467"/></marker></defs>']
    for s in stages:
        x1, y1 = box(s["code"])
        for target in s.get("next") or []:
            if target not in pos:
                continue
            x2, y2 = box(target)
            if pos[target][0] > pos[s["code"]][0]:
                sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H // 2, x2, y2 + BOX_H // 2
                mid = (sx + ex) // 2
                out.append(f'<path d="M{sx},{sy} C{mid},{sy} {mid},{ey} {ex - 2},{ey}" fill="none" '
                           f'stroke="#475467" stroke-width="1.6" marker-end="url(#wf-arrow)"/>')
            else:   # back or sideways: an arc under the boxes
                sx, ex = x1 + BOX_W // 2, x2 + BOX_W // 2
                base = PAD + n_rows * BOX_H + (n_rows - 1) * GAP_Y
                out.append(f'<path d="M{sx},{y1 + BOX_H} C{sx},{base + back_room - 6} {ex},{base + back_room - 6} '
                           f'{ex},{y2 + BOX_H + 2}" fill="none" stroke="#b42318" stroke-width="1.4" '
                           f'stroke-dasharray="5 3" marker-end="url(#wf-arrow)"/>')
    for s in stages:
        x, y = box(s["code"])
        color = s.get("color") or ""
        initial = s["code"] == spec.get("initial")
        out.append(f'<g data-stage="{escape(s["code"])}"><title>{escape(s.get("name", ""))}</title>'
                   f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                   f'fill="{FILL.get(color, "#f8fafc")}" stroke="{STROKE.get(color, "#667085")}" '
                   f'stroke-width="{3 if s.get("final") or initial else 1.4}"/>')
        name = str(s.get("name") or s["code"])[:12]
        out.append(f'<text x="{x + BOX_W // 2}" y="{y + 21}" text-anchor="middle" font-size="14" '
                   f'font-weight="600" fill="#101828">{escape(name)}</text>')
        role = str(ROLES.get(s.get("owner_role", ""), s.get("owner_role", "")))
        out.append(f'<text x="{x + BOX_W // 2}" y="{y + 39}" text-anchor="middle" font-size="11.5" '
                   f'fill="#344054">{escape(role)} · {escape(_deadline(s))}</text>')
        marks = []
        if initial:
            marks.append(_("start"))
        if s.get("final"):
            marks.append(_("end"))
        if s.get("guards"):
            marks.append(_("%(n)d checks") % {"n": len(s["guards"])})
        if marks:
            out.append(f'<text x="{x + BOX_W // 2}" y="{y + 53}" text-anchor="middle" font-size="10.5" '
                       f'fill="#475467">{escape(" · ".join(marks))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return mark_safe("".join(out))  # every text above went through escape()
