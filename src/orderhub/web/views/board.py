"""Boards: one column per stage, kept live by polling a cheap change stamp.

Every viewer polls once a second. An unchanged stamp is answered 204 (htmx swaps nothing);
a changed one is rendered once per (workflow, filters, view, language, stamp) and shared by
all viewers through the cache, so twenty people watching the same board cost one render per
change, not twenty. The stamp includes the current minute so cards still turn red when a
deadline passes with no data change.
"""

import hashlib

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache

from orderhub.core import clock, permissions
from orderhub.orders.boards import MAX_PER_COLUMN, PER_COLUMN, board, change_stamp, four_colour
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

from ..forms import OrderFilterForm
from .common import actor_for, requires

POLL_SECONDS = 1
CACHE_SECONDS = 120


def _stamp(code: str) -> str:
    minute = int(clock.now().timestamp() // 60)
    return f"{change_stamp(code)}-{minute}"


def _per_column(request) -> int:
    """How many cards each column shows: 30, and 30 more per click on "more" (bounded)."""
    try:
        n = int(request.GET.get("cards", PER_COLUMN))
    except ValueError:
        n = PER_COLUMN
    return max(PER_COLUMN, min(n, MAX_PER_COLUMN))


def _more_query(request, per_column: int) -> str | None:
    """The board's own query string with 30 more cards per column (None at the bound)."""
    if per_column >= MAX_PER_COLUMN:
        return None
    params = request.GET.copy()
    params.pop("stamp", None)
    params["cards"] = str(per_column + PER_COLUMN)
    return params.urlencode()


def _columns_html(request, code: str, stamp: str) -> str:
    view = request.GET.get("view", "")
    params = sorted((k, v) for k, v in request.GET.items() if k not in ("stamp",))
    actor = actor_for(request)
    scope = permissions.scope_key(actor)  # viewers who see different orders share no render
    key = "board:" + hashlib.sha256(repr((code, stamp, view, params, get_language(), scope)).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        form = OrderFilterForm(request.GET or None)
        per_column = _per_column(request)
        columns = board(code, form.order_filter(actor.roles), actor=actor, per_column=per_column)
        now = clock.now()
        for col in columns:
            for card in col.cards:
                card.colour = four_colour(card, col, now)
        html = render_to_string("web/_board_columns.html", {
            "columns": columns, "stamp": stamp, "now": now, "code": code, "view": view,
            "more_query": _more_query(request, per_column)})
        cache.set(key, html, CACHE_SECONDS)
    return html


@requires("orders.view")
def board_page(request, code: str):
    definition = WorkflowDefinition.objects.filter(code=code, is_current=True).first()
    if definition is None:
        raise Http404(code)
    stamp = _stamp(code)
    return render(request, "web/board.html", {
        "definition": definition, "code": code, "form": OrderFilterForm(request.GET or None),
        "view": request.GET.get("view", ""), "poll_seconds": POLL_SECONDS,
        "cards": _per_column(request) if "cards" in request.GET else None,
        "stages": [(c, st.spec.name) for c, st in compiled(definition.pk).stages.items()],
        "query": request.GET.urlencode(), "columns_html": mark_safe(_columns_html(request, code, stamp)),  # noqa: S308 (our own template's output)
    })


@never_cache
@requires("orders.view")
def board_columns(request, code: str):
    """The columns alone, for polling: 204 (nothing to swap) while the stamp is unchanged."""
    stamp = _stamp(code)
    if request.GET.get("stamp") == stamp:
        return HttpResponse(status=204)
    return HttpResponse(_columns_html(request, code, stamp))
