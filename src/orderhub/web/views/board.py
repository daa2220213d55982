"""Boards: one column per stage, kept live by polling a cheap change stamp."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from orderhub.core import clock
from orderhub.orders.boards import board, change_stamp, four_colour
from orderhub.workflow.models import WorkflowDefinition

from ..forms import OrderFilterForm
from .common import actor_for, require_perm

POLL_SECONDS = 1


def _board_context(request, code: str) -> dict:
    actor = actor_for(request)
    form = OrderFilterForm(request.GET or None)
    f = form.order_filter(actor.roles)
    stamp = change_stamp(code)
    columns = board(code, f)
    now = clock.now()
    view = request.GET.get("view", "")
    for col in columns:
        for card in col.cards:
            card.colour = four_colour(card, col, now)
    return {"columns": columns, "stamp": stamp, "now": now, "form": form, "code": code,
            "view": view, "poll_seconds": POLL_SECONDS, "query": request.GET.urlencode()}


@require_perm("orders.view_order")
def board_page(request, code: str):
    definition = WorkflowDefinition.objects.filter(code=code, is_current=True).first()
    if definition is None:
        raise Http404(code)
    ctx = _board_context(request, code)
    ctx["definition"] = definition
    return render(request, "web/board.html", ctx)


@never_cache
@require_perm("orders.view_order")
def board_columns(request, code: str):
    """The columns alone, for polling: 204 (nothing to swap) while the stamp is unchanged."""
    if request.GET.get("stamp") and request.GET["stamp"] == change_stamp(code):
        return HttpResponse(status=204)
    return render(request, "web/_board_columns.html", _board_context(request, code))
