"""Boards: one column per stage, kept live by polling; a poll sends only the columns that changed.

Every viewer polls once a second with the board's change stamp and, per column, the
fingerprint of what it shows (hidden inputs the columns carry). The protocol (docs/web.md):

- unchanged stamp: ``204``, no render, no board query;
- changed stamp: the board's index (``orders.boards.board_index``: counts and card keys, no
  rows, no render) is shared by all viewers of the same (workflow, filters, scope) through the
  cache and computed **at most once per ``ORDERHUB_BOARD_INDEX_SECONDS``** (0.5 s): during a
  peak the stamp changes many times a second, and an index per stamp would be computed by
  nearly every poll. A poll within the interval, or while another viewer computes the next
  one, gets the newest index with *its* stamp, so the viewer's next poll asks again and sees
  the change at most an interval later. The response carries that stamp and, as htmx
  out-of-band swaps, only the columns whose fingerprint differs from the viewer's. A column is
  rendered once per fingerprint (shared), from cards rendered once per card key (shared), so
  one changed card among hundreds costs one card render and its column's assembly.

The stamp includes the current minute so columns whose cards passed a deadline are re-sent
(their fingerprint holds each card's overdue state); the countdown text ticks in the page.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache

from orderhub.core import clock, permissions
from orderhub.orders.boards import (
    MAX_PER_COLUMN,
    PER_COLUMN,
    Column,
    board_cards,
    board_index,
    change_stamp,
    four_colour,
)
from orderhub.workflow.models import WorkflowDefinition
from orderhub.workflow.services import compiled

from ..forms import OrderFilterForm
from .common import actor_for, requires

POLL_SECONDS = 1
CACHE_SECONDS = 120
CARD_SECONDS = 600
BUSY_SECONDS = 5  # a viewer computing the index holds it this long at most (a crash frees it)


def _stamp(code: str) -> str:
    minute = int(clock.now().timestamp() // 60)
    return f"{change_stamp(code)}-{minute}"


def _digest(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


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
    for key in [k for k in params if k.startswith("fp-")]:
        params.pop(key)
    params["cards"] = str(per_column + PER_COLUMN)
    return params.urlencode()


def _filters(request) -> list:
    return sorted((k, v) for k, v in request.GET.items() if k != "stamp" and not k.startswith("fp-"))


def _index(request, code: str, stamp: str) -> tuple[str, list[Column]]:
    """(the stamp it was read at, the board's index) for this viewer's filters and scope: the
    newest one shared, read again when it is older than the interval and nobody else is
    reading it (see the module's docstring)."""
    actor = actor_for(request)
    scope = permissions.scope_key(actor)  # viewers who see different orders share nothing
    base = _digest(code, _filters(request), scope)
    latest_key, busy_key = "board:index:" + base, "board:index-busy:" + base
    latest = cache.get(latest_key)
    now = clock.now().timestamp()
    if latest is not None:  # fresh enough, or another viewer is reading the next one: share it
        if (latest["stamp"] == stamp or now - latest["at"] < settings.ORDERHUB_BOARD_INDEX_SECONDS
                or not cache.add(busy_key, 1, BUSY_SECONDS)):
            return latest["stamp"], latest["columns"]
    try:
        form = OrderFilterForm(request.GET or None)
        columns = board_index(code, form.order_filter(actor.roles), actor=actor,
                              per_column=_per_column(request))
        cache.set(latest_key, {"stamp": stamp, "at": now, "columns": columns}, CACHE_SECONDS)
    finally:
        if latest is not None:  # the mark is ours only when there was an index to share
            cache.delete(busy_key)
    return stamp, columns


def _cards_html(request, col: Column, view: str, now) -> SafeString:
    """The column's cards, each rendered once per card key and language (shared)."""
    lang = get_language()
    keys = {k: "board:card:" + _digest(k, col.code, view, lang) for k in col.keys}
    found = cache.get_many(list(keys.values()))
    missing = [k for k in col.keys if keys[k] not in found]
    if missing:
        rows = board_cards([k[0] for k in missing], actor=actor_for(request))
        template = get_template("web/_board_card.html")
        fresh = {}
        for k in missing:
            order = rows.get(k[0])
            if order is None:  # gone since the index was read: the next poll sends the column again
                continue
            order.colour = four_colour(order, col, now)
            fresh[keys[k]] = template.render({"o": order, "view": view, "now": now})
        cache.set_many(fresh, CARD_SECONDS)
        found.update(fresh)
    return mark_safe("".join(found.get(keys[k], "") for k in col.keys))  # noqa: S308 (our own template's output)


def _column_html(request, code: str, col: Column, *, oob: bool = False) -> SafeString:
    """One column's <section>, its inner part rendered once per fingerprint (shared)."""
    view = request.GET.get("view", "")
    more = _more_query(request, _per_column(request))
    key = "board:col:" + _digest(code, col.code, col.fingerprint, view, more, get_language())
    inner = cache.get(key)
    if inner is None:
        now = clock.now()
        inner = get_template("web/_board_column.html").render({
            "col": col, "code": code, "more_query": more,
            "cards_html": _cards_html(request, col, view, now)})
        cache.set(key, inner, CACHE_SECONDS)
    return format_html(
        '<section class="board-col" id="board-col-{}" data-stage="{}" data-fp="{}"{}>'
        '<input type="hidden" class="board-fp" name="fp-{}" value="{}">{}</section>',
        col.code, col.code, col.fingerprint, mark_safe(' hx-swap-oob="true"') if oob else "",
        col.code, col.fingerprint, mark_safe(inner))  # noqa: S308 (our own template's output)


def _columns_html(request, code: str, stamp: str) -> SafeString:
    stamp, columns = _index(request, code, stamp)
    sections = [_column_html(request, code, col) for col in columns]
    html = get_template("web/_board_columns.html").render({"stamp": stamp, "sections": sections})
    return mark_safe(html)  # noqa: S308 (our own template's output)


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
        "query": request.GET.urlencode(), "columns_html": _columns_html(request, code, stamp),
    })


@never_cache
@requires("orders.view")
def board_columns(request, code: str):
    """The poll: 204 while the stamp is unchanged; otherwise the new stamp and, as out-of-band
    swaps, the columns whose fingerprint the viewer does not hold (all of them without any)."""
    stamp = _stamp(code)
    if request.GET.get("stamp") == stamp:
        return HttpResponse(status=204)
    stamp, columns = _index(request, code, stamp)
    if request.GET.get("stamp") == stamp:  # the newest index is the one the viewer holds
        return HttpResponse(status=204)
    parts = [format_html('<input type="hidden" id="board-stamp" value="{}" name="stamp" hx-swap-oob="true">', stamp)]
    for col in columns:
        if request.GET.get(f"fp-{col.code}") != col.fingerprint:
            parts.append(_column_html(request, code, col, oob=True))
    return HttpResponse("\n".join(parts))
